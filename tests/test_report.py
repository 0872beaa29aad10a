"""The Report: JSON contract, parameters vs the class oracle, stored-tensor check, capabilities.

Oracles: ``tests/oracle.py`` (meta-device transformers classes, written apart
from the engine), real tiny models saved with safetensors (stored counts),
and formulas applied to the raw config values in the test itself.
"""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from lmscope.core.architecture import ConfigFiles
from lmscope.core.report import CompareReport, build_compare, build_report, check_stored
from lmscope.core.results import Settings
from lmscope.core.sources.base import ModelSource
from lmscope.core.sources.catalog import load_catalog_entry
from lmscope.core.sources.resolve import resolve

sys.path.insert(0, str(Path(__file__).parent))
import oracle  # noqa: E402

sys.path.pop(0)

CONFIGS = Path(__file__).parent / "fixtures" / "configs"
TOP_KEYS = {
    "schema_version", "model_id", "source", "family", "model_type", "architecture_class", "settings", "parameters",
    "memory", "flops", "attention", "moe", "tokenizer", "quantization", "capabilities", "metadata",
}


def _report(model_id: str, settings: Settings | None = None, exact: bool = False):
    return build_report(load_catalog_entry(model_id), settings or Settings(), exact=exact)


def _load(name: str) -> dict:
    return json.loads((CONFIGS / name / "config.json").read_text())


# --------------------------------------------------------------------------- JSON contract


@pytest.mark.parametrize(
    "model_id",
    ["meta-llama/Llama-3.1-8B", "deepseek-ai/DeepSeek-V3", "Qwen/Qwen3-Next-80B-A3B-Thinking", "openai/gpt-oss-20b",
     "state-spaces/mamba-2.8b-hf", "google-t5/t5-small", "TheBloke/Llama-2-13B-chat-GPTQ"],
)
def test_contract_keys_ints_and_json_safety(model_id):
    d = _report(model_id).to_dict()
    assert TOP_KEYS <= set(d)
    assert d["schema_version"] == 1
    assert set(d["settings"]) >= {"seq_len", "batch", "dtype", "kv_dtype"}
    assert set(d["parameters"]) >= {"total", "active_per_token", "embedding", "by_component", "method"}
    mem = d["memory"]
    assert set(mem["weights_bytes"]) >= {"fp32", "fp16", "bf16", "fp8", "int8", "int4"}
    for key in ("kv_cache_bytes_per_token", "kv_cache_bytes", "state_bytes", "activation_bytes", "inference_total_bytes", "training_total_bytes"):
        assert type(mem[key]) is int, key
    assert all(type(v) is int for v in mem["weights_bytes"].values())
    flops = d["flops"]
    assert set(flops["prefill"]) >= {"total", "linear", "attention"}
    assert flops["prefill"]["total"] == flops["prefill"]["linear"] + flops["prefill"]["attention"]
    assert all(type(v) is int for v in (flops["decode_per_token"], flops["training_step"], *flops["prefill"].values()))
    assert set(d["attention"]) >= {"kind", "num_heads", "num_kv_heads", "head_dim", "sliding_window", "layer_types", "rope"}
    json.dumps(d, allow_nan=False)  # raises on NaN/inf


def test_kv_cache_per_token_matches_the_config_formula():
    """Full attention: 2 · kv_heads · head_dim · layers · bytes (vLLM), from the raw config."""
    c = _load("meta-llama--Llama-3.1-8B")
    head_dim = c["hidden_size"] // c["num_attention_heads"]
    expected = 2 * c["num_key_value_heads"] * head_dim * c["num_hidden_layers"] * 2
    d = _report("meta-llama/Llama-3.1-8B", Settings(dtype="bf16")).to_dict()
    assert d["memory"]["kv_cache_bytes_per_token"] == expected
    assert d["memory"]["kv_cache_bytes"] == expected * 4096


def test_mla_cache_is_the_latent():
    c = _load("deepseek-ai--DeepSeek-V3")
    expected = (c["kv_lora_rank"] + c["qk_rope_head_dim"]) * c["num_hidden_layers"] * 2
    d = _report("deepseek-ai/DeepSeek-V3", Settings(dtype="bf16")).to_dict()
    assert d["memory"]["kv_cache_bytes_per_token"] == expected
    assert d["attention"]["kind"] == "MLA"
    assert d["moe"]["num_experts"] == c["n_routed_experts"] and d["moe"]["experts_per_token"] == c["num_experts_per_tok"]


def test_settings_are_echoed():
    d = _report("openai-community/gpt2", Settings(seq_len=512, batch=3, dtype="fp16", kv_dtype="fp8")).to_dict()
    assert d["settings"]["seq_len"] == 512 and d["settings"]["batch"] == 3
    assert d["settings"]["dtype"] == "fp16" and d["settings"]["kv_dtype"] == "fp8"


# --------------------------------------------------------------------------- parameters vs the oracle


@pytest.mark.parametrize("name", ["openai-community--gpt2", "meta-llama--Llama-3.1-8B", "mistralai--Mixtral-8x7B-v0.1"])
def test_exact_total_equals_class_oracle(name, tmp_path, monkeypatch):
    monkeypatch.setenv("LMSCOPE_CACHE_DIR", str(tmp_path / "exact-cache"))  # really run the engine
    from lmscope.core import exact

    assert exact.exact_available()  # torch and transformers are in the [torch] extra the suite runs with
    expected = oracle.oracle_total(name)
    assert expected is not None  # all three are native transformers classes
    model_id = name.replace("--", "/", 1)
    report = _report(model_id, exact=True)
    d = report.to_dict()
    assert d["parameters"]["method"] == "exact"
    assert d["parameters"]["total"] == expected
    assert d["parameters"]["exact_total"] == expected
    assert d["parameters"]["analytic_minus_exact"] == d["parameters"]["analytic_total"] - expected


def test_no_exact_uses_analytic():
    d = _report("openai-community/gpt2", exact=False).to_dict()
    assert d["parameters"]["method"] == "analytic"
    assert "exact_total" not in d["parameters"]


def test_unknown_model_type_note(monkeypatch):
    from lmscope.core import exact
    monkeypatch.setattr(exact, "exact_available", lambda: True)
    monkeypatch.setattr(exact, "exact_parameters", lambda config: None)
    import lmscope.core.report.build as report_module

    monkeypatch.setattr(report_module, "_transformers_knows", lambda model_type: False)
    report = _report("openai-community/gpt2", exact=True)
    assert any("transformers does not know gpt2: analytic engine only" in n for n in report.notes)
    assert report.to_dict()["parameters"]["method"] == "analytic"
    monkeypatch.setattr(report_module, "_transformers_knows", lambda model_type: True)
    report = _report("openai-community/gpt2", exact=True)
    assert any("could not build GPT2LMHeadModel" in n for n in report.notes)


# --------------------------------------------------------------------------- stored tensors vs the class


# the shared tiny Llama (tests/fixtures/tiny_llama_config.json), tied (transformers' default), 256 tokens, fp32
TINY = {k: v for k, v in json.loads((Path(__file__).parent / "fixtures" / "tiny_llama_config.json").read_text()).items()
        if k != "tie_word_embeddings"} | {"vocab_size": 256, "rms_norm_eps": 1e-5, "torch_dtype": "float32"}


@pytest.fixture(scope="module")
def tiny_model_state():
    """A real tiny Llama (tied embeddings) and its state dict as numpy arrays."""
    import torch
    import transformers
    config = transformers.LlamaConfig(**{k: v for k, v in TINY.items() if k not in ("architectures", "model_type")}, tie_word_embeddings=True)
    torch.manual_seed(0)
    model = transformers.LlamaForCausalLM(config)
    total = sum(p.numel() for p in model.parameters())
    state = {k: v.detach().cpu().numpy().copy() for k, v in model.state_dict().items()}
    return total, state


def test_tied_embeddings_stored_twice_are_explained(tmp_path, tiny_model_state):
    from safetensors.numpy import save_file

    total, state = tiny_model_state
    assert "lm_head.weight" in state  # the state dict lists the tied head too
    folder = tmp_path / "tiny"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({**TINY, "tie_word_embeddings": True}))
    save_file(state, str(folder / "model.safetensors"))
    report = build_report(resolve(str(folder)), Settings(), exact=False)
    check = report.stored_check
    assert report.parameters.total == total  # analytic engine agrees with the real class
    assert check.stored_params == sum(a.size for a in state.values())
    assert check.difference == TINY["vocab_size"] * TINY["hidden_size"]
    assert check.explained and any("tied" in e for e in check.explanations)
    assert report.to_dict()["stored"]["check"]["explained"] is True


def test_packed_int4_gptq_is_explained(tmp_path, tiny_model_state):
    """GPTQ layout: int32 qweight words of 8 weights, plus scales/zeros/g_idx that are not parameters."""
    from safetensors.numpy import save_file

    total, state = tiny_model_state
    group = 32
    stored: dict[str, np.ndarray] = {}
    for name, array in state.items():
        if ".layers." in name and name.endswith("proj.weight"):
            out_f, in_f = array.shape
            base = name.removesuffix(".weight")
            stored[base + ".qweight"] = np.zeros((in_f // 8, out_f), dtype=np.int32)
            stored[base + ".qzeros"] = np.zeros((in_f // group, out_f // 8), dtype=np.int32)
            stored[base + ".scales"] = np.zeros((in_f // group, out_f), dtype=np.float16)
            stored[base + ".g_idx"] = np.zeros((in_f,), dtype=np.int32)
        elif name != "lm_head.weight":
            stored[name] = array.astype(np.float16)
    folder = tmp_path / "gptq"
    folder.mkdir()
    quant = {"quant_method": "gptq", "bits": 4, "group_size": group, "sym": True, "desc_act": False}
    (folder / "config.json").write_text(json.dumps({**TINY, "tie_word_embeddings": True, "quantization_config": quant}))
    save_file(stored, str(folder / "model.safetensors"))
    report = build_report(resolve(str(folder)), Settings(), exact=False)
    check = report.stored_check
    assert report.parameters.total == total
    assert check.stored_params < total  # packed words undercount
    assert check.explained, check.explanations
    assert any("packed" in e for e in check.explanations)


def test_mtp_layer_is_explained():
    """A stored layer index ≥ num_layers (DeepSeek's MTP layer) is explained when the config declares it."""
    from lmscope.core.sources.base import StoredTensors, TensorInfo

    report = _report("openai-community/gpt2")
    arch = replace(report.architecture, num_mtp_layers=1)
    params = report.parameters
    extra = TensorInfo(f"model.layers.{arch.num_layers}.mlp.weight", "BF16", (10, 10), 200)
    head = TensorInfo("transformer.wte.weight", "BF16", (params.total,), params.total * 2)
    check = check_stored(StoredTensors("safetensors-header", (head, extra)), arch, params)
    assert check.difference == 100 and check.explained


def test_unexplained_difference_is_noted():
    from lmscope.core.sources.base import StoredTensors, TensorInfo

    report = _report("openai-community/gpt2")
    params = report.parameters
    stored = StoredTensors("safetensors-header", (TensorInfo("w", "F32", (params.total + 7,), (params.total + 7) * 4),))
    source = replace(load_catalog_entry("openai-community/gpt2"), stored=stored)
    rebuilt = build_report(source, Settings(), exact=False)
    assert rebuilt.stored_check.difference == 7 and not rebuilt.stored_check.explained
    assert any("not explained" in n for n in rebuilt.notes)


# --------------------------------------------------------------------------- capabilities


def test_capabilities_llama31_context_from_config():
    c = _load("meta-llama--Llama-3.1-8B")
    caps = _report("meta-llama/Llama-3.1-8B").capabilities
    assert caps.max_context_length == c["max_position_embeddings"]
    assert caps.original_context_length == c["rope_scaling"]["original_max_position_embeddings"]
    assert caps.long_context and caps.attention == "GQA" and caps.can_generate


def test_capabilities_yarn_factor_times_original():
    c = _load("deepseek-ai--DeepSeek-V3")
    caps = _report("deepseek-ai/DeepSeek-V3").capabilities
    assert caps.max_context_length == c["rope_scaling"]["factor"] * c["rope_scaling"]["original_max_position_embeddings"]
    assert caps.attention == "MLA" and caps.moe and caps.multi_token_prediction


def test_capabilities_yarn_extends_beyond_max_position():
    """Qwen2.5's documented long-context recipe: yarn ×4 over 32,768 → 131,072."""
    config = _load("Qwen--Qwen2.5-7B-Instruct")
    config["rope_scaling"] = {"type": "yarn", "factor": 4.0, "original_max_position_embeddings": 32768}
    source = ModelSource(model_id="qwen-yarn", kind="config", files=ConfigFiles(config=config))
    caps = build_report(source, Settings(), exact=False).capabilities
    assert caps.max_context_length == 4 * 32768


@pytest.mark.parametrize(
    "model_id, field, value",
    [
        ("openai-community/gpt2", "attention", "MHA"),
        ("openai-community/gpt2", "long_context", False),
        ("tiiuae/falcon-7b", "attention", "MQA"),
        ("state-spaces/mamba-2.8b-hf", "attention", "none"),
        ("state-spaces/mamba-2.8b-hf", "state_space", True),
        ("Qwen/Qwen3-Next-80B-A3B-Thinking", "hybrid", True),
        ("google/gemma-2-9b-it", "sliding_window", 4096),
        ("google/gemma-3-4b-it", "vision_input", True),
        ("openai/whisper-tiny", "audio_input", True),
        ("openai/whisper-tiny", "encoder_decoder", True),
        ("TheBloke/Llama-2-13B-chat-GPTQ", "quantization_method", "gptq"),
        ("mistralai/Mixtral-8x7B-v0.1", "moe", True),
        ("google-bert/bert-base-uncased", "can_generate", False),
    ],
)
def test_capability_facts(model_id, field, value):
    assert getattr(_report(model_id).capabilities, field) == value


def test_gemma2_sliding_layers_from_layer_pattern():
    c = _load("google--gemma-2-9b-it")
    caps = _report("google/gemma-2-9b-it").capabilities
    assert caps.sliding_layers + caps.full_attention_layers == c["num_hidden_layers"]
    assert caps.sliding_layers == c["num_hidden_layers"] // 2


# --------------------------------------------------------------------------- other sources


def test_gguf_report(tmp_path):
    sys.path.insert(0, str(Path(__file__).parent))
    from test_sources import _write_gguf

    sys.path.pop(0)
    path = tmp_path / "tiny.gguf"
    _write_gguf(path)
    d = build_report(resolve(str(path)), Settings(), exact=True).to_dict()
    assert d["source"] == "gguf" and d["quantization"]["method"] == "gguf"
    assert d["stored"]["source"] == "gguf" and d["file"]["gguf_version"] == 3
    assert d["memory"]["kv_cache_bytes_per_token"] > 0
    json.dumps(d, allow_nan=False)


def test_onnx_without_config_report(tmp_path):
    sys.path.insert(0, str(Path(__file__).parent))
    from test_sources import _write_onnx

    sys.path.pop(0)
    path = tmp_path / "tiny.onnx"
    weights = _write_onnx(path)
    d = build_report(resolve(str(path)), Settings()).to_dict()
    assert d["parameters"]["method"] == "stored"
    assert d["parameters"]["total"] == sum(a.size for a in weights.values())
    assert d["memory"] is None and d["file"]["opset"] == 17
    assert TOP_KEYS <= set(d)


# --------------------------------------------------------------------------- comparison


def test_compare_ratios_vs_first():
    sources = [load_catalog_entry("meta-llama/Llama-3.1-8B"), load_catalog_entry("meta-llama/Llama-3.1-70B")]
    compare = build_compare(sources, Settings(), exact=False)
    assert isinstance(compare, CompareReport)
    rows = {r["metric"]: r for r in compare.rows()}
    total = rows["parameters.total"]
    assert total["ratios"][0] == 1.0
    assert total["ratios"][1] == pytest.approx(total["values"][1] / total["values"][0])
    facts = {f["fact"]: f for f in compare.facts()}
    assert facts["architecture.num_layers"]["differs"] == [False, True]
    assert facts["family"]["differs"] == [False, False]
    d = compare.to_dict()
    assert d["model_ids"] == ["meta-llama/Llama-3.1-8B", "meta-llama/Llama-3.1-70B"]
    assert len(d["models"]) == 2
    assert all({k: v for k, v in m["settings"].items() if k != "resolved"} == d["settings"] for m in d["models"])
    json.dumps(d, allow_nan=False)


def test_seq_len_beyond_context_is_noted():
    c = _load("openai-community--gpt2")
    over = _report("openai-community/gpt2", Settings(seq_len=c["n_positions"] * 2))
    assert any("exceeds the model's context length" in n for n in over.notes)
    within = _report("openai-community/gpt2", Settings(seq_len=c["n_positions"]))
    assert not any("exceeds" in n for n in within.notes)


def test_every_catalog_model_reports_in_every_format():
    """No built-in model may crash any exporter (the TUI and CLI open them all)."""
    from lmscope.core.export import render_report
    from lmscope.core.sources.catalog import list_catalog

    failures = []
    for entry in list_catalog():
        try:
            report = _report(entry.model_id, Settings(seq_len=1024))
            d = report.to_dict()
            json.dumps(d, allow_nan=False)
            assert TOP_KEYS <= set(d)
            for fmt in ("text", "json", "markdown", "yaml"):
                assert render_report(report, fmt, detailed=True)
        except Exception as err:  # noqa: BLE001 - collect them all
            failures.append(f"{entry.model_id}: {type(err).__name__}: {err}")
    assert not failures, failures


def test_stored_layers_from_tensor_names():
    from lmscope.core.report import stored_layers
    from lmscope.core.sources.base import StoredTensors, TensorInfo

    tensors = (
        TensorInfo("model.embed_tokens.weight", "BF16", (10, 4), 80),
        TensorInfo("model.layers.0.self_attn.q_proj.weight", "BF16", (4, 4), 32),
        TensorInfo("model.layers.1.mlp.up_proj.weight", "BF16", (4, 8), 64),
        TensorInfo("model.layers.1.input_layernorm.weight", "BF16", (4,), 8),
        TensorInfo("blk.3.attn_q.weight", "Q8_0", (32, 32), 1088),  # GGUF naming
    )
    out = stored_layers(StoredTensors("safetensors-header", tensors))
    assert out == {"layer_count": 4, "bytes_per_layer": [32, 72, 0, 1088], "bytes_outside_layers": 80}
    assert stored_layers(StoredTensors("onnx", tensors[:1]))["layer_count"] is None


def test_chat_template_file_listed_on_the_hub():
    """A repo listing chat_template.jinja has a chat template even though only the small configs were fetched."""
    from lmscope.core.sources.base import HubMetadata

    meta = HubMetadata(repo_id="x/y", files=(("config.json", 600), ("chat_template.jinja", 4000)))
    source = replace(load_catalog_entry("Qwen/Qwen3-8B"), metadata=meta, kind="hub")
    report = build_report(source, Settings(), exact=False)
    assert report.tokenizer.chat_template is True
    assert report.capabilities.chat_template is True and report.capabilities.tool_use is None
    plain = build_report(load_catalog_entry("Qwen/Qwen3-8B"), Settings(), exact=False)
    assert plain.tokenizer is None and plain.capabilities.chat_template is None


def test_tensor_shapes_per_step_follow_the_raw_config():
    """The `shapes` rows (seed 004's per-step table) against numbers read straight from config.json."""
    import json as _json
    from pathlib import Path as _Path

    from lmscope.core.report import build_report as _build
    from lmscope.core.results import Settings as _Settings
    from lmscope.core.sources.resolve import resolve as _resolve

    folder = _Path(__file__).parent / "fixtures" / "configs" / "meta-llama--Llama-3.2-1B"
    cfg = _json.loads((folder / "config.json").read_text())
    t, b = 512, 2
    d = _build(_resolve(str(folder), offline=True), _Settings(seq_len=t, batch=b, dtype="bf16"), exact=False).to_dict()
    rows = {(r["phase"], r["step"]): r for r in d["shapes"]}
    h, heads, kv = cfg["hidden_size"], cfg["num_attention_heads"], cfg["num_key_value_heads"]
    hd = cfg.get("head_dim", h // heads)
    q = rows[("prefill", "q_proj")]
    assert q["shape"] == [b, t, heads, hd] and q["flops"] == 2 * b * t * h * heads * hd
    assert rows[("prefill", "k_proj")]["shape"] == [b, t, kv, hd]
    assert rows[("prefill", "scores")]["shape"] == [b, heads, t, t] and rows[("prefill", "scores")]["bytes"] == b * heads * t * t * 2
    down = rows[("prefill", "down")]
    assert down["flops"] == 2 * b * t * cfg["intermediate_size"] * h
    assert rows[("decode", "scores")]["shape"] == [b, heads, 1, t]


def test_unknown_architecture_says_analytic_only_in_the_summary(tmp_path):
    import json as _json

    from lmscope.core.export import report_to_text as _text
    from lmscope.core.report import build_report as _build
    from lmscope.core.results import Settings as _Settings
    from lmscope.core.sources.resolve import resolve as _resolve

    cfg = {"model_type": "weirdo", "hidden_size": 512, "num_hidden_layers": 2, "num_attention_heads": 8,
           "intermediate_size": 1024, "vocab_size": 1000}
    (tmp_path / "config.json").write_text(_json.dumps(cfg))
    text = _text(_build(_resolve(str(tmp_path), offline=True), _Settings(), exact=False))
    assert "analytic engine only" in text
