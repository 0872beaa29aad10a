"""The exact engine (meta-device instantiation) vs the independent oracle in tests/oracle.py.

``lmscope.core.exact`` and ``tests/oracle.py`` both build transformers classes
on the meta device, but separately: the oracle is never the engine. Also
checked: the exact and analytic breakdowns agree component by component, the
JSON cache (in a temporary ``LMSCOPE_CACHE_DIR``), remote code → None, speed,
and use from worker threads.
"""

from __future__ import annotations

import json
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from lmscope.core import exact
from lmscope.core.params import count_parameters
from lmscope.core.parse import architecture_from_config

sys.path.insert(0, str(Path(__file__).parent))
import oracle  # noqa: E402

NAMES = oracle.config_names()
REMOTE_CODE = ["THUDM--glm-4-9b-chat", "XiaomiMiMo--MiMo-7B-Base", "nvidia--Llama-3_3-Nemotron-Super-49B-v1"]


@pytest.fixture(scope="module", autouse=True)
def cache_dir(tmp_path_factory):
    """One temporary cache for the module: each config is instantiated once."""
    mp = pytest.MonkeyPatch()
    folder = tmp_path_factory.mktemp("lmscope-cache")
    mp.setenv("LMSCOPE_CACHE_DIR", str(folder))
    yield folder
    mp.undo()


def test_available():
    assert exact.exact_available()


@pytest.mark.parametrize("name", NAMES)
def test_exact_equals_oracle(name):
    """Every figure of the exact breakdown against the oracle's own walk of the meta model.

    (The exact engine takes ``matmul_per_token`` and the component split from its
    own classification; comparing them with the analytic engine would compare
    lmscope with lmscope, so each is checked against oracle shapes instead.)
    """
    config = oracle.load_config(name)
    expected = oracle.oracle_total(name)
    got = exact.exact_parameters(config)
    if expected is None:
        # transformers cannot build it by itself; the engine may (it knows aliases) or refuse
        assert got is None or got.total == count_parameters(architecture_from_config(config)).total
        return
    assert got is not None and got.method == "exact"
    assert got.total == expected
    assert got.active_per_token == oracle.oracle_active_per_token(name)
    assert got.matmul_per_token == oracle.oracle_matmul_per_token(name)
    assert sum(got.by_component.values()) == got.total  # sum of parts, beside the total above
    components = oracle.oracle_components(name)
    if components is not None:  # decoder-only language models: embeddings, norms and head by module type
        assert {k: got.by_component.get(k, 0) for k in components} == components
        assert got.embedding == components["embeddings"]


@pytest.mark.parametrize("name", REMOTE_CODE)
def test_remote_code_gives_none(name):
    assert exact.exact_parameters(oracle.load_config(name)) is None


def test_unknown_and_garbage_give_none():
    assert exact.exact_parameters({"model_type": "no_such_arch", "architectures": ["NoSuchForCausalLM"]}) is None
    assert exact.exact_parameters({"model_type": "llama", "hidden_size": "huge"}) is None
    assert exact.exact_parameters([]) is None


def test_hostile_sizes_are_not_instantiated(monkeypatch):
    config = oracle.load_config("meta-llama--Llama-3.2-1B")
    monkeypatch.setattr(exact, "_count", lambda _c: pytest.fail("must not instantiate"))
    for layers in (exact.MAX_EXACT_LAYERS + 1, 10**12, 12.5, True):
        assert exact.exact_parameters({**config, "num_hidden_layers": layers}) is None
    assert exact.exact_parameters({**config, "layer_types": ["full_attention"] * (exact.MAX_EXACT_LAYERS + 1)}) is None
    monkeypatch.undo()
    assert exact.exact_parameters({**config, "hidden_size": float("nan")}) is None


def test_deepseek_v3_instantiated_fresh():
    """A 671B model on the meta device, not from the cache (speed: benchmarks/bench_core.py)."""
    config = oracle.load_config("deepseek-ai--DeepSeek-V3")
    config["_lmscope_test_nonce"] = time.time()  # a fresh cache key: really instantiate
    got = exact.exact_parameters(config)
    assert got.total == 671_026_404_352  # the published count (FORMULAS.md; the DeepSeek-V3 report's 671B)


def test_cache_round_trip(cache_dir, monkeypatch):
    config = oracle.load_config("Qwen--Qwen3-0.6B")
    first = exact.exact_parameters(config)
    assert list((cache_dir / "exact").glob("*.json"))

    def boom(_config):
        raise AssertionError("should have come from the cache")

    monkeypatch.setattr(exact, "_count", boom)
    assert exact.exact_parameters(config) == first


def test_corrupt_cache_is_ignored(cache_dir):
    import transformers

    config = oracle.load_config("meta-llama--Llama-3.2-1B")
    exact.exact_parameters(config)
    path = cache_dir / "exact" / f"{exact._cache_key(config, transformers.__version__)}.json"
    assert path.exists()
    path.write_text("{not json")
    assert exact.exact_parameters(config).total == oracle.oracle_total("meta-llama--Llama-3.2-1B")


def test_cache_key_depends_on_config():
    a = exact._cache_key({"a": 1, "b": 2}, "5.0")
    assert a == exact._cache_key({"b": 2, "a": 1}, "5.0")  # canonical: key order does not matter
    assert a != exact._cache_key({"a": 1, "b": 3}, "5.0")
    assert a != exact._cache_key({"a": 1, "b": 2}, "5.1")  # a new transformers version recounts


def test_worker_threads():
    configs = [oracle.load_config(n) for n in ("openai-community--gpt2", "Qwen--Qwen3-1.7B", "mistralai--Mixtral-8x7B-v0.1")]
    for c in configs:
        c["_lmscope_thread_nonce"] = time.time()
    with ThreadPoolExecutor(max_workers=3) as pool:
        results = list(pool.map(exact.exact_parameters, configs))
    assert [r.total for r in results] == [124_439_808, oracle.oracle_total("Qwen--Qwen3-1.7B"), 46_702_792_704]


def test_component_names():
    assert exact.component_of("model.layers.3.mlp.experts.gate_up_proj") == "experts"
    assert exact.component_of("model.layers.3.mlp.gate.weight") == "router"
    assert exact.component_of("model.layers.3.mlp.gate_proj.weight") == "mlp"
    assert exact.component_of("model.layers.3.mlp.shared_expert_gate.weight") == "shared_experts"
    assert exact.component_of("model.layers.0.self_attn.q_norm.weight") == "attention"
    assert exact.component_of("model.layers.0.input_layernorm.weight") == "norms"
    assert exact.component_of("backbone.layers.0.mixer.A_log") == "mamba"
    assert exact.component_of("model.encoder.layers.0.fc1.weight", seq2seq=True) == "encoder"
    assert exact.component_of("encoder.layer.0.attention.self.query.weight") == "attention"  # BERT: no decoder


def test_no_torch_at_import_and_quiet_output():
    import subprocess

    code = "import sys, lmscope.core.exact as e; assert 'torch' not in sys.modules; print(e.exact_available())"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "True"


def test_cache_file_is_plain_json(cache_dir):
    exact.exact_parameters(oracle.load_config("openai-community--gpt2"))
    for path in (cache_dir / "exact").glob("*.json"):
        data = json.loads(path.read_text())
        assert set(data) >= {"total", "by_component", "active_per_token"}


@pytest.mark.parametrize("model_type", __import__("test_params").DEFAULT_CONFIG_TYPES)
def test_default_configs_exact_vs_class_and_analytic(model_type):
    """Families without a fixture: transformers' default config of each class (see test_params), against
    oracle walks of that class (the analytic engine is held to the same total in test_params)."""
    from transformers import CONFIG_MAPPING

    hf_config = CONFIG_MAPPING[model_type]()
    if model_type == "deepseek_v2":
        hf_config.num_experts_per_tok = 6
    _, model, config = oracle.default_class_on_meta(hf_config)
    expected = sum(p.numel() for p in model.parameters())
    got = exact.exact_parameters(config)
    assert got.total == expected
    assert got.total == count_parameters(architecture_from_config(config)).total
    assert got.active_per_token == oracle.active_per_token_of(model)
    components = oracle.components_of(model)  # decoder-only language models: embeddings, norms, head by module type
    if components is not None:
        assert {k: got.by_component.get(k, 0) for k in components} == components
