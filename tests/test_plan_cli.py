"""`lmscope plan` as a user runs it: a subprocess, offline, CONTRACT.md's "JSON plan" keys, exit codes.

Also the scenario options CONTRACT.md gives `report` and `compare`, and
``--seq-len`` in every spelling it accepts.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

CONFIGS = Path(__file__).parent / "fixtures" / "configs"
LLAMA = str(CONFIGS / "meta-llama--Llama-3.1-8B")
PLAN_KEYS = {"schema_version", "model_id", "settings", "hardware", "memory", "fits", "headroom_bytes",
             "max_seq_len", "max_batch", "roofline", "split", "assumptions"}


@pytest.fixture
def env(tmp_path):
    out = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HUGGING"))}
    out.update(HF_HUB_OFFLINE="1", HF_HOME=str(tmp_path / "hf_home"), LMSCOPE_NO_EXACT="1", PYTHONUNBUFFERED="1")
    return out


def run(env, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "lmscope", *args], capture_output=True, text=True, env=env, timeout=180, check=False)


def test_plan_json_keys_per_contract(env):
    proc = run(env, "plan", LLAMA, "--gpu", "H100", "--seq-len", "32k", "--format", "json")
    assert proc.returncode == 0, proc.stderr
    d = json.loads(proc.stdout)
    assert PLAN_KEYS <= set(d)
    assert {"seq_len", "batch", "dtype", "kv_dtype", "mode", "count", "lora_rank"} <= set(d["settings"])
    assert {"name", "memory_bytes", "bandwidth_bytes_per_s", "peak_flops", "count"} <= set(d["hardware"])
    assert {"weights_bytes", "kv_cache_bytes", "activation_bytes", "state_bytes", "gradients_bytes",
            "optimizer_bytes", "overhead_bytes", "per_gpu_bytes"} <= set(d["memory"])
    assert {"prefill_seconds", "decode_tokens_per_s", "prefill_intensity", "decode_intensity",
            "machine_balance", "bound"} <= set(d["roofline"])
    assert d["settings"]["seq_len"] == 32768
    assert d["fits"] is True and d["split"] is None
    assert d["memory"]["per_gpu_bytes"] + d["headroom_bytes"] == d["hardware"]["memory_bytes"]
    assert {"gpu_layers", "cpu_layers", "cpu_bytes"} <= set(json.loads(run(
        env, "plan", LLAMA, "--gpu", "t4", "--dtype", "bf16", "--format", "json").stdout)["split"])


def test_plan_text_markdown_yaml_and_training(env):
    text = run(env, "plan", LLAMA, "--gpu", "rtx4090", "--seq-len", "128k")
    assert text.returncode == 0 and "DOES NOT FIT" in text.stdout and "max context" in text.stdout
    md = run(env, "plan", LLAMA, "--gpu", "h100", "--format", "markdown")
    assert md.returncode == 0 and md.stdout.startswith("# Plan") and "vllm serve" in md.stdout
    y = run(env, "plan", LLAMA, "--gpu", "h100", "--format", "yaml")
    assert y.returncode == 0 and "max_seq_len:" in y.stdout
    tr = run(env, "plan", LLAMA, "--gpu", "h100", "--count", "8", "--mode", "training", "--zero", "3",
             "--optimizer", "adam8bit", "--recompute", "full", "--format", "json")
    assert tr.returncode == 0, tr.stderr
    d = json.loads(tr.stdout)
    assert d["settings"]["zero"] == 3 and d["training"]["model_states_bytes"] > 0


def test_list_gpus_and_custom_card(env):
    proc = run(env, "plan", "--list-gpus")
    assert proc.returncode == 0
    for name in ("h100", "h100-pcie", "h200", "b200", "a100-40gb", "a100-80gb", "l40s", "l4", "a10", "t4",
                 "rtx3090", "rtx4090", "rtx5090", "mi300x", "m4-max", "cpu"):
        assert f"\n{name} " in "\n" + proc.stdout
    listed = json.loads(run(env, "plan", "--list-gpus", "--format", "json").stdout)["gpus"]
    assert all(g["source"] for g in listed)
    custom = run(env, "plan", LLAMA, "--gpu-memory", "12GB", "--gpu-bandwidth", "360GB/s", "--format", "json")
    assert custom.returncode == 0, custom.stderr
    d = json.loads(custom.stdout)
    assert d["hardware"]["memory_bytes"] == 12 << 30 and d["fits"] is False


@pytest.mark.parametrize("args", [
    ("plan", LLAMA, "--gpu", "h1000"),
    ("plan", LLAMA, "--gpu", "h100", "--count", "2", "--tp", "4"),
    ("plan", LLAMA, "--gpu", "h100", "--gpu-memory", "lots"),
])
def test_bad_plan_input_is_one_line(env, args):
    proc = run(env, *args)
    assert proc.returncode in (1, 2)
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) <= 2 and "Traceback" not in proc.stderr


def test_seq_len_spellings_and_scenario_flags_on_report_and_compare(env):
    for spelling, value in (("32k", 32768), ("128k", 131072), ("1M", 1048576), ("100000", 100000)):
        proc = run(env, "report", LLAMA, "--seq-len", spelling, "--format", "json")
        assert proc.returncode == 0, proc.stderr
        assert json.loads(proc.stdout)["settings"]["seq_len"] == value
    bad = run(env, "report", LLAMA, "--seq-len", "32q")
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    rep = run(env, "report", LLAMA, "--mode", "qlora", "--lora-rank", "8", "--lora-targets", "qv", "--zero", "2",
              "--count", "4", "--optimizer", "sgd", "--recompute", "selective", "--no-flash", "--format", "json")
    assert rep.returncode == 0, rep.stderr
    s = json.loads(rep.stdout)["settings"]
    assert (s["mode"], s["lora_rank"], s["lora_targets"], s["zero_stage"], s["num_gpus"], s["optimizer"], s["recompute"],
            s["flash_attention"]) == ("qlora", 8, "qv", 2, 4, "sgd", "selective", False)
    cmp_ = run(env, "compare", LLAMA, str(CONFIGS / "meta-llama--Llama-2-7b-hf"), "--mode", "training", "--zero", "3",
               "--count", "8", "--format", "json")
    assert cmp_.returncode == 0, cmp_.stderr


def test_compare_on_a_gpu_gives_each_models_plan(env):
    """`compare --gpu`: per model the verdict and decode speed `lmscope plan` gives for the same card and count."""
    v3 = str(CONFIGS / "deepseek-ai--DeepSeek-V3")
    proc = run(env, "compare", LLAMA, v3, "--gpu", "h100", "--count", "2", "--seq-len", "8k", "--format", "json")
    assert proc.returncode == 0, proc.stderr
    d = json.loads(proc.stdout)
    assert d["hardware"]["name"] == "h100" and d["hardware"]["count"] == 2
    llama, deepseek = d["plans"]
    for spec, got in ((LLAMA, llama), (v3, deepseek)):
        alone = json.loads(run(env, "plan", spec, "--gpu", "h100", "--count", "2", "--seq-len", "8k", "--format", "json").stdout)
        assert (got["fits"], got["per_gpu_bytes"], got["max_seq_len"]) == (alone["fits"], alone["memory"]["per_gpu_bytes"], alone["max_seq_len"])
        assert got["decode_tokens_per_s"] == alone["roofline"]["decode_tokens_per_s"]
    # by hand: 8.03 B bf16 parameters over TP 2 (~7.5 GiB a card) fit 80 GB cards; DeepSeek-V3's
    # ~671 B fp8 parameters are ~312 GiB a card over 2 -- far beyond 80 GB
    assert llama["fits"] is True and deepseek["fits"] is False
    assert deepseek["per_gpu_bytes"] > 671e9 / 2
    text = run(env, "compare", LLAMA, v3, "--gpu", "h100", "--count", "2", "--seq-len", "8k").stdout
    assert "on 2 × h100" in text and "does not fit" in text and "decode tokens/s" in text
    md = run(env, "compare", LLAMA, v3, "--gpu", "h100", "--count", "2", "--format", "markdown").stdout
    assert "| on 2 × h100 |" in md
    plain = json.loads(run(env, "compare", LLAMA, v3, "--format", "json").stdout)
    assert "plans" not in plain and "hardware" not in plain  # additive: only with --gpu
