"""The engines are independent, and harmless oddities in genuine configs never fail a report.

Oracle: the class on the meta device (tests/meta_oracle.py, independent of
lmscope.core.exact). The oddities are the ones genuine Hub configs carry:
``"time_step_limit": [0.0, Infinity]`` (nvidia/Nemotron-H-8B-Base-8K and the
Mamba-2 checkpoints, written by Python's json), ``shared_expert_intermediate_size: 0``
(Qwen3-MoE configs saved from the config class), ``num_experts_per_tok: null``
(``DeepseekV2Config()``'s default, saved as is).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from lmscope.core.errors import ConfigError
from lmscope.core.params import count_parameters
from lmscope.core.parse import ConfigUnsupported, architecture_from_config
from lmscope.core.report import build_report
from lmscope.core.results import Settings
from lmscope.core.sources.resolve import resolve

sys.path.insert(0, str(Path(__file__).parent))
import meta_oracle  # noqa: E402
import oracle  # noqa: E402


def _folder(tmp_path: Path, text: str) -> Path:
    folder = tmp_path / "model"
    folder.mkdir(exist_ok=True)
    (folder / "config.json").write_text(text)
    return folder


def test_infinity_in_a_field_no_estimate_uses(tmp_path):
    config = oracle.load_config("nvidia--NVIDIA-Nemotron-3-Nano-30B-A3B-BF16")
    text = json.dumps(config).replace('"time_step_min"', '"time_step_limit": [0.0, Infinity], "time_step_min"')
    assert "Infinity" in text
    report = build_report(resolve(str(_folder(tmp_path, text))), Settings(), exact=False)
    assert report.estimate is not None
    assert report.parameters.total == meta_oracle.meta_total(config)


def test_zero_meaning_none_is_accepted():
    config = oracle.load_config("Qwen--Qwen3-30B-A3B") | {"shared_expert_intermediate_size": 0}
    arch = architecture_from_config(config)
    assert arch.moe.num_shared_experts == 0
    assert count_parameters(arch).total == meta_oracle.meta_total(config)


def _deepseek_v2_default() -> dict:
    from transformers import DeepseekV2Config

    data = DeepseekV2Config(num_hidden_layers=3).to_dict()
    data["architectures"] = ["DeepseekV2ForCausalLM"]
    assert data["num_experts_per_tok"] is None and data["n_routed_experts"]
    return data


def test_null_top_k_gives_exact_count_and_says_what_is_missing(tmp_path):
    config = _deepseek_v2_default()
    with pytest.raises(ConfigUnsupported, match="num_experts_per_tok"):
        architecture_from_config(config)
    report = build_report(resolve(str(_folder(tmp_path, json.dumps(config)))), Settings())
    assert report.architecture is None and report.estimate is None
    data = report.to_dict()
    assert data["parameters"]["method"] == "exact"
    assert data["parameters"]["total"] == meta_oracle.meta_total(config)
    assert data["parameters"]["active_per_token"] is None  # top-k unknown: never guessed
    assert data["memory"] is None and data["flops"] is None
    assert data["family"] == "DeepSeek-V2" and data["architecture_class"] == "DeepseekV2ForCausalLM"
    assert any("num_experts_per_tok" in n and "no memory, KV cache or FLOPs" in n for n in data["notes"])


def test_cli_partial_report_exits_0(tmp_path):
    import os
    import subprocess

    folder = _folder(tmp_path, json.dumps(_deepseek_v2_default()))
    env = dict(os.environ, HF_HUB_OFFLINE="1", HF_HOME=str(tmp_path / "hf"), LMSCOPE_CACHE_DIR=str(tmp_path / "c"))
    env.pop("LMSCOPE_NO_EXACT", None)
    proc = subprocess.run([sys.executable, "-m", "lmscope", "report", str(folder)], capture_output=True, text=True,
                          env=env, timeout=300, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "exact" in proc.stdout and "no memory, KV cache or FLOPs" in proc.stdout


def test_without_any_count_the_parser_error_is_the_answer(tmp_path):
    source = resolve(str(_folder(tmp_path, json.dumps(_deepseek_v2_default()))))
    with pytest.raises(ConfigError, match="num_experts_per_tok"):
        build_report(source, Settings(), exact=False)
    # the app opens it anyway and counts exactly in a worker
    assert build_report(source, Settings(), exact=False, partial=True).architecture is None


def test_stored_headers_count_without_parser_or_class(tmp_path):
    import numpy as np
    from safetensors.numpy import save_file

    config = {"model_type": "brand_new_thing", "architectures": ["BrandNewForCausalLM"], "hidden_size": 8}
    folder = _folder(tmp_path, json.dumps(config))
    save_file({"a.weight": np.zeros((4, 8), dtype=np.float16), "b.weight": np.zeros((3,), dtype=np.float16)},
              str(folder / "model.safetensors"))
    report = build_report(resolve(str(folder)), Settings())
    data = report.to_dict()
    assert data["parameters"]["method"] == "stored" and data["parameters"]["total"] == 35
    assert any("stored tensors" in n for n in data["notes"])


def test_top_k_above_expert_count_is_refused():
    config = oracle.load_config("mistralai--Mixtral-8x7B-v0.1") | {"num_experts_per_tok": 9}
    with pytest.raises(ConfigError, match="more than the 8 experts"):
        architecture_from_config(config)


def test_app_loader_opens_a_config_the_parser_cannot_read(tmp_path):
    from lmscope.tui import loader

    folder = _folder(tmp_path, json.dumps(_deepseek_v2_default()))
    model = loader.open_model(str(folder), Settings())
    assert model.architecture is None and model.exact_state == "pending"
    params, reason = loader.exact_parameters_for(model)
    assert reason is None and params.total == meta_oracle.meta_total(_deepseek_v2_default())
    assert model.with_exact(params).marker.startswith("exact")
