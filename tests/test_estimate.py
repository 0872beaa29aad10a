"""The combined ``estimate()``: settings validation, dtype resolution, totals and intensities.

Per-estimator numbers are tested in test_kv/test_memory/test_training
against hand-derived formulas; here the expected values are again written
from the config (Llama-3.1-8B: 32 layers, 8 KV heads × 128, bf16) and from
the published parameter count (8,030,261,248, meta-device LlamaForCausalLM,
FORMULAS.md), plus the invariants that tie the parts together.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import FrozenInstanceError, replace
from functools import cache
from pathlib import Path

import pytest

from lmscope.core.architecture import Architecture
from lmscope.core.errors import LmscopeError, UsageError
from lmscope.core.estimate import estimate
from lmscope.core.parse import architecture_from_config
from lmscope.core.results import DTYPES, Settings

CONFIGS = Path(__file__).parent / "fixtures" / "configs"
ALL = sorted(p.parent.name for p in CONFIGS.glob("*/config.json"))
LLAMA31_8B_TOTAL = 8_030_261_248


@cache
def arch_of(name: str) -> Architecture:
    return architecture_from_config(json.loads((CONFIGS / name / "config.json").read_text()))


def test_llama31_8b_defaults():
    arch = arch_of("meta-llama--Llama-3.1-8B")
    est = estimate(arch, Settings(seq_len=8192, batch=2))
    m = est.memory
    assert est.parameters.total == LLAMA31_8B_TOTAL
    assert (est.weight_dtype, est.compute_dtype, est.kv_dtype) == ("bf16", "bf16", "bf16")
    assert m.weights_bytes["bf16"] == m.weights_bytes["checkpoint"] == m.weights_bytes_selected == LLAMA31_8B_TOTAL * 2
    assert m.kv_cache_bytes_per_token == 2 * 8 * 128 * 32 * 2 == 131_072
    assert m.kv_cache_bytes == 131_072 * 8192 * 2
    assert m.kv_per_layer_kind == {"full": m.kv_cache_bytes}
    assert m.state_bytes == 0
    # sums of parts (the parts themselves are written out above and in test_memory/test_training)
    assert m.inference_total_bytes == m.weights_bytes_selected + m.kv_cache_bytes + m.state_bytes + m.activation_bytes
    assert m.activation_bytes < m.activation_bytes_no_flash
    assert m.training_total_bytes == sum(m.training_breakdown.values())
    assert m.training_breakdown["optimizer"] == 12 * LLAMA31_8B_TOTAL
    r = 16  # LoRA default rank; q, o 4096→4096; k, v 4096→1024; gate, up 4096→14336; down 14336→4096
    per_layer = 2 * r * (4096 + 4096) + 2 * r * (4096 + 1024) + 3 * r * (4096 + 14336)
    assert est.lora_trainable_parameters == 32 * per_layer
    assert 0 < est.qlora_memory_bytes < est.lora_memory_bytes < m.training_total_bytes


def test_intensities_follow_their_definition():
    arch = arch_of("meta-llama--Llama-3.1-8B")
    est = estimate(arch, Settings(seq_len=4096, batch=1))
    m, f = est.memory, est.flops
    # decode, written out: 2 FLOPs per matmul weight (7,504,658,432, the class's Linear weights — test_params)
    # plus QKᵀ and AV over 4096 cached keys in 32 layers of width 4096; bytes: every bf16 weight read once
    # plus the whole KV cache (131,072 bytes per token)
    decode_flops = 2 * 7_504_658_432 + 32 * 4 * 4096 * 4096
    decode_bytes = LLAMA31_8B_TOTAL * 2 + 131_072 * 4096
    assert f.decode_per_token == decode_flops
    assert f.decode_intensity == pytest.approx(decode_flops / decode_bytes)
    # prefill: the same definition over the engine's own parts (a sum-of-parts check; the parts are tested apart)
    prefill_bytes = m.weights_bytes_selected + m.kv_cache_bytes + m.state_bytes + m.activation_bytes
    assert f.prefill_intensity == pytest.approx(f.prefill_total / prefill_bytes)
    # decode at batch 1 is bandwidth-bound: ~1 FLOP per byte; prefill is far above the H100's ~295 FLOP/byte
    assert 0.5 < f.decode_intensity < 2 < 295 < f.prefill_intensity


def test_moe_decode_reads_only_active_weights():
    arch = arch_of("Qwen--Qwen3-30B-A3B")
    est = estimate(arch, Settings(seq_len=1024))
    m, f = est.memory, est.flops
    # the oracle's figures (tests/oracle.py): parameters one token touches, of the class's total, read as bf16
    sys.path.insert(0, str(Path(__file__).parent))
    try:
        import oracle
    finally:
        sys.path.pop(0)
    name = "Qwen--Qwen3-30B-A3B"
    active_bytes = int(oracle.oracle_total(name) * 2 * (oracle.oracle_active_per_token(name) / oracle.oracle_total(name)))
    assert f.decode_intensity == pytest.approx(f.decode_per_token / (active_bytes + m.kv_cache_bytes))


def test_dtype_choices():
    arch = arch_of("meta-llama--Llama-3.1-8B")
    for dtype in DTYPES:
        est = estimate(arch, Settings(dtype=dtype))
        assert est.memory.weights_bytes_selected == est.memory.weights_bytes[dtype]
    int4 = estimate(arch, Settings(dtype="int4"))
    assert int4.kv_dtype == "bf16"  # weight-only int4 keeps KV in the 16-bit compute dtype
    fp8 = estimate(arch, Settings(dtype="fp8"))
    assert fp8.kv_dtype == "fp8" and fp8.memory.kv_cache_bytes_per_token == 65_536
    kv8 = estimate(arch, Settings(kv_dtype="fp8"))
    assert kv8.memory.kv_cache_bytes == estimate(arch, Settings()).memory.kv_cache_bytes // 2


def test_auto_on_quantized_checkpoints():
    gptq = estimate(arch_of("TheBloke--Llama-2-13B-chat-GPTQ"), Settings())
    assert gptq.weight_dtype == "int4" and gptq.compute_dtype == "fp16" and gptq.kv_dtype == "fp16"
    assert gptq.memory.weights_bytes_selected == gptq.memory.weights_bytes["checkpoint"]
    dsv3 = estimate(arch_of("deepseek-ai--DeepSeek-V3"), Settings())
    assert dsv3.weight_dtype == "fp8" and dsv3.kv_dtype == "bf16"
    assert dsv3.memory.kv_cache_bytes_per_token == 576 * 61 * 2  # MLA latent in bf16


def test_hybrid_state_enters_the_total():
    est = estimate(arch_of("Qwen--Qwen3-Next-80B-A3B-Thinking"), Settings(seq_len=2048, batch=3))
    m = est.memory
    assert m.state_bytes == 3 * 36 * (3 * (2 * 16 * 128 + 32 * 128) + 32 * 128 * 128) * 2
    assert m.inference_total_bytes == m.weights_bytes_selected + m.kv_cache_bytes + m.state_bytes + m.activation_bytes


@pytest.mark.parametrize(
    "settings",
    [
        Settings(seq_len=0),
        Settings(batch=0),
        Settings(seq_len=-5),
        Settings(seq_len=1 << 41),
        Settings(dtype="fp12"),
        Settings(kv_dtype="int2"),
        Settings(mode="serving"),
        Settings(zero_stage=4),
        Settings(num_gpus=0),
        Settings(recompute="half"),
        Settings(optimizer="lion"),
        Settings(lora_rank=0),
    ],
)
def test_bad_settings_are_one_line_usage_errors(settings: Settings):
    with pytest.raises(UsageError) as err:
        estimate(arch_of("meta-llama--Llama-3.2-1B"), settings)
    assert "\n" not in str(err.value) and isinstance(err.value, LmscopeError)


def test_pure_and_frozen():
    arch = arch_of("google--gemma-3-4b-it")
    a = estimate(arch, Settings(seq_len=3000))
    b = estimate(arch, Settings(seq_len=3000))
    assert a == b
    with pytest.raises(FrozenInstanceError):
        a.memory.kv_cache_bytes = 0  # type: ignore[misc]
    # a changed architecture is a new object: nothing stale comes back from the memo
    other = replace(arch, num_kv_heads=1)
    assert estimate(other, Settings(seq_len=3000)).memory.kv_cache_bytes < a.memory.kv_cache_bytes


@pytest.mark.parametrize("name", ALL)
def test_every_fixture_estimates(name: str):
    arch = arch_of(name)
    for settings in (Settings(), Settings(seq_len=1, batch=7, dtype="int4", flash_attention=False, recompute="full")):
        est = estimate(arch, settings)
        m = est.memory
        for value in (
            m.weights_bytes_selected, m.kv_cache_bytes_per_token, m.kv_cache_bytes, m.state_bytes,
            m.activation_bytes, m.activation_bytes_no_flash, m.inference_total_bytes, m.training_total_bytes,
            est.lora_trainable_parameters, est.lora_memory_bytes, est.qlora_memory_bytes,
        ):
            assert isinstance(value, int) and value >= 0
        assert all(isinstance(v, int) and v > 0 for v in m.weights_bytes.values())
        assert set(m.weights_bytes) == {*DTYPES, "checkpoint"}
        assert m.weights_bytes["int4"] < m.weights_bytes["int8"] < m.weights_bytes["bf16"] < m.weights_bytes["fp32"]
        assert sum(m.kv_per_layer_kind.values()) == m.kv_cache_bytes
        # Whisper's cross-attention cache always covers its 1500 encoder frames, so its bound is
        # max(seq_len, max_source_positions) tokens; every other model's is seq_len.
        tokens = settings.seq_len
        if arch.model_type == "whisper":
            raw = json.loads((CONFIGS / name / "config.json").read_text())
            tokens = max(tokens, raw["max_source_positions"])
        assert m.kv_cache_bytes <= m.kv_cache_bytes_per_token * tokens * settings.batch
        assert est.flops.prefill_intensity > 0 and est.flops.decode_intensity > 0


def test_core_estimate_imports_stay_light():
    code = (
        "import sys, lmscope.core.estimate, lmscope.core.estimate.kv, lmscope.core.estimate.memory, "
        "lmscope.core.estimate.training, lmscope.core.estimate.lora, lmscope.core.estimate.shapes\n"
        "heavy = [m for m in ('torch', 'transformers', 'textual', 'huggingface_hub') if m in sys.modules]\n"
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == ""
