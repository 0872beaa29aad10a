"""Weights per dtype, checkpoint storage, quantization overhead and inference activations.

Expected values are derived by hand in each test from the model's dimensions
and the storage layouts the quantizers publish (GPTQ: packed int32 qweight,
fp16 scales, packed qzeros, int32 g_idx; bitsandbytes NF4 with double
quantization, Dettmers et al. 2023; MLX affine: a 16-bit scale and bias per
group). Parameter totals are the meta-device oracle figures in FORMULAS.md.
The set of quantizable matrices is checked against the real transformers
class instantiated on the meta device.
"""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from functools import cache
from pathlib import Path

import pytest

from lmscope.core.architecture import Architecture, ConfigFiles, QuantSpec
from lmscope.core.errors import ConfigError
from lmscope.core.estimate.lora import lora_trainable_parameters
from lmscope.core.estimate.memory import (
    checkpoint_bytes,
    checkpoint_dtype,
    compute_dtype,
    inference_activation_bytes,
    kv_dtype_for,
    nf4_bytes,
    resolve_dtype,
    weight_bytes_at,
    weights_bytes,
)
from lmscope.core.estimate.shapes import linear_parameters, step_shapes
from lmscope.core.parse import architecture_from_config
from lmscope.core.results import ParameterBreakdown

CONFIGS = Path(__file__).parent / "fixtures" / "configs"

LLAMA2_7B_TOTAL = 6_738_415_616  # FORMULAS.md, meta-device LlamaForCausalLM
LLAMA2_13B_TOTAL = 13_015_864_320


@cache
def arch_of(name: str) -> Architecture:
    return architecture_from_config(json.loads((CONFIGS / name / "config.json").read_text()))


def pb(total: int) -> ParameterBreakdown:
    return ParameterBreakdown(total=total, active_per_token=total, embedding=0, matmul_per_token=total)


# Llama-2-7B's quantizable matrices, per layer: q, k, v, o 4096×4096; gate, up 4096→11008; down 11008→4096
L7_LINEAR = 32 * (4 * 4096 * 4096 + 3 * 4096 * 11008)
L7_REST = 2 * 32000 * 4096 + (2 * 32 + 1) * 4096  # embeddings + LM head + 65 RMSNorm vectors


def test_llama2_7b_linear_matrices():
    arch = arch_of("meta-llama--Llama-2-7b-hf")
    assert linear_parameters(arch) == L7_LINEAR == 6_476_005_376
    assert L7_LINEAR + L7_REST == LLAMA2_7B_TOTAL


def test_float_dtypes_are_total_times_width():
    arch = arch_of("meta-llama--Llama-2-7b-hf")
    w = weights_bytes(arch, pb(LLAMA2_7B_TOTAL)).by_dtype
    assert w["fp32"] == LLAMA2_7B_TOTAL * 4
    assert w["fp16"] == w["bf16"] == LLAMA2_7B_TOTAL * 2 == 13_476_831_232
    # this config says torch_dtype float32 and no quantization: the checkpoint is the fp32 figure
    assert w["checkpoint"] == w["fp32"]


def test_int4_int8_fp8_quantize_matrices_only():
    arch = arch_of("meta-llama--Llama-2-7b-hf")
    p = pb(LLAMA2_7B_TOTAL)
    # int4: 4 bits per weight + per group of 128 one fp16 scale (16 bits) + one 4-bit zero;
    # every d_in here (4096, 11008) is a multiple of 128, so groups = weights / 128
    int4 = L7_LINEAR // 2 + (L7_LINEAR // 128) * 2 + (L7_LINEAR // 128) // 2 + L7_REST * 2
    assert weight_bytes_at(arch, p, "int4") == int4
    # int8: 8 bits + per group one fp16 scale + one 8-bit zero
    int8 = L7_LINEAR + (L7_LINEAR // 128) * 3 + L7_REST * 2
    assert weight_bytes_at(arch, p, "int8") == int8
    # fp8: one byte per weight + one fp32 scale per matrix (7 matrices × 32 layers)
    fp8 = L7_LINEAR + 4 * 7 * 32 + L7_REST * 2
    assert weight_bytes_at(arch, p, "fp8") == fp8
    # sanity: ~4.16 bits per quantized weight
    assert 4.15 < (int4 - L7_REST * 2) * 8 / L7_LINEAR < 4.16


def test_gptq_checkpoint_llama2_13b():
    arch = arch_of("TheBloke--Llama-2-13B-chat-GPTQ")
    assert arch.quantization is not None and arch.quantization.method == "gptq"

    def gptq(d_in: int, d_out: int) -> int:  # bits 4, group 128
        qweight = d_in * d_out // 2  # int32 words holding 8 nibbles
        scales = (d_in // 128) * d_out * 2  # fp16
        qzeros = (d_in // 128) * d_out // 2  # packed 4-bit zeros
        g_idx = d_in * 4  # int32 group index per input row
        return qweight + scales + qzeros + g_idx

    per_layer = 4 * gptq(5120, 5120) + 2 * gptq(5120, 13824) + gptq(13824, 5120)
    rest = (2 * 32000 * 5120 + 81 * 5120) * 2  # fp16 embeddings, LM head, 81 norms
    expected = 40 * per_layer + rest
    got, note = checkpoint_bytes(arch, pb(LLAMA2_13B_TOTAL))
    assert got == expected == 7_255_009_280
    assert note is None
    assert checkpoint_dtype(arch) == "int4"
    assert weights_bytes(arch, pb(LLAMA2_13B_TOTAL)).by_dtype["checkpoint"] == expected


def test_fp8_block_scaled_checkpoint():
    arch = arch_of("Qwen--Qwen3-32B-FP8")
    p = pb(32_762_123_264)
    mats = _oracle().oracle_linear_shapes("Qwen--Qwen3-32B-FP8")  # the class's Linear modules, LM head excluded
    q = sum(i * o * n for i, o, n in mats)
    # one byte per weight + one fp32 scale per 128×128 block (weight_block_size [128, 128])
    scales = sum(-(-o // 128) * -(-i // 128) * 4 * n for i, o, n in mats)
    assert checkpoint_bytes(arch, p) == (q + scales + (p.total - q) * 2, None)
    assert checkpoint_dtype(arch) == "fp8"


def test_modelopt_fp8_checkpoint_llama31_70b():
    folder = CONFIGS / "nvidia--Llama-3.1-70B-Instruct-FP8"
    files = ConfigFiles(
        config=json.loads((folder / "config.json").read_text()),
        quantize_config=json.loads((folder / "hf_quant_config.json").read_text()),
    )
    arch = architecture_from_config(files)
    total = 70_553_706_496  # Llama-3.1-70B, meta-device count
    # per layer: q, o 8192×8192; k, v 8192→1024 (8 KV heads × 128); gate, up 8192→28672; down 28672→8192
    q = 80 * (2 * 8192 * 8192 + 2 * 8192 * 1024 + 3 * 8192 * 28672)
    # FP8 weights (1 byte) + one fp32 per-tensor scale per matrix; embeddings, LM head (excluded), norms bf16
    expected = q + 4 * 7 * 80 + (total - q) * 2
    assert checkpoint_bytes(arch, pb(total))[0] == expected
    assert checkpoint_dtype(arch) == "fp8"


def test_nvfp4_checkpoint():
    arch = replace(
        arch_of("meta-llama--Llama-3.1-8B"),
        quantization=QuantSpec("modelopt", bits=4.0, details=(("quant_algo", "NVFP4"),)),
    )
    total = 8_030_261_248
    mats = [(4096, 4096, 2), (4096, 1024, 2), (4096, 14336, 2), (14336, 4096, 1)]  # (d_in, d_out, per layer)
    # 4 bits per weight + one fp8 scale per 16 input weights + one fp32 global scale per matrix
    body = 32 * sum(n * (i * o // 2 + (i // 16) * o + 4) for i, o, n in mats)
    q = 32 * sum(n * i * o for i, o, n in mats)
    assert checkpoint_bytes(arch, pb(total)) == (body + (total - q) * 2, None)


def test_bnb_nf4_checkpoint_glm4():
    arch = arch_of("THUDM--glm-4-9b-chat")  # bitsandbytes nf4, double quant
    total = 9_399_951_360  # only the split matters: everything not quantized is 16-bit
    # 40 layers: q 4096→4096, k and v 4096→256 (2 groups × 128), o 4096→4096, gate/up 4096→13696, down 13696→4096
    mats = [(4096 * 4096, 2), (4096 * 256, 2), (4096 * 13696, 2), (13696 * 4096, 1)]

    def nf4(n: int) -> int:  # nibbles + 8-bit absmax per 64 + fp32 per 256 absmax (ceil)
        blocks = -(-n // 64)
        return n // 2 + blocks + 4 * -(-blocks // 256)

    body = 40 * sum(count * nf4(n) for n, count in mats)
    q = 40 * sum(count * n for n, count in mats)
    assert checkpoint_bytes(arch, pb(total)) == (body + (total - q) * 2, None)
    assert checkpoint_dtype(arch) == "int4"


def test_nf4_double_quant_layout():
    # 4096×4096: 16,777,216 weights -> 8,388,608 bytes of nibbles, 262,144 8-bit absmax,
    # 1,024 fp32 second-level constants (one per 256 blocks)
    n = 4096 * 4096
    assert nf4_bytes(n) == n // 2 + n // 64 + 4 * (n // 64 // 256) == 8_654_848
    # without double quantization: one fp32 absmax per 64
    assert nf4_bytes(n, double_quant=False) == n // 2 + 4 * (n // 64)
    # ~4.127 bits per weight (QLoRA paper: 0.127 bits of overhead)
    assert abs(nf4_bytes(n) * 8 / n - 4.127) < 0.001


def test_mlx_4bit_checkpoint_quantizes_embeddings_too():
    arch = arch_of("mlx-community--LFM2-1.2B-4bit")
    total = 1_170_340_608  # any total above the quantized set; only the split matters here
    mats = _oracle().oracle_linear_shapes("mlx-community--LFM2-1.2B-4bit")  # the class's Linear modules, no head
    q = sum(i * o * n for i, o, n in mats) + 65536 * 2048  # + the tied embedding (MLX quantizes it)
    groups = sum((i // 64) * o * n for i, o, n in mats) + (2048 // 64) * 65536
    expected = q // 2 + groups * 4 + (total - q) * 2  # 4 bits + 16-bit scale and bias per 64
    assert checkpoint_bytes(arch, pb(total)) == (expected, None)


def test_mxfp4_gpt_oss_experts_only():
    arch = arch_of("openai--gpt-oss-20b")
    total = 20_914_757_184
    # experts: 24 layers × 32 experts × (gate 2880→2880, up 2880→2880, down 2880→2880)
    experts = 24 * 32 * 3 * 2880 * 2880
    expected = experts // 2 + experts // 32 + (total - experts) * 2  # 4 bits + one E8M0 byte per 32
    assert checkpoint_bytes(arch, pb(total)) == (expected, None)
    # about 13.8 GB, as the published checkpoint
    assert 12.5e9 < expected < 14e9


def test_dtype_resolution():
    llama = arch_of("meta-llama--Llama-3.1-8B")  # bfloat16
    gptq = arch_of("TheBloke--Llama-2-13B-chat-GPTQ")  # float16 + 4-bit GPTQ
    dsv3 = arch_of("deepseek-ai--DeepSeek-V3")  # bfloat16 + fp8 block
    gpt2 = arch_of("openai-community--gpt2")  # float32
    assert resolve_dtype(llama, "auto") == "bf16" and compute_dtype(llama, "auto") == "bf16"
    assert resolve_dtype(gptq, "auto") == "int4" and compute_dtype(gptq, "auto") == "fp16"
    assert resolve_dtype(dsv3, "auto") == "fp8" and compute_dtype(dsv3, "auto") == "bf16"
    assert resolve_dtype(gpt2, "auto") == "fp32" and compute_dtype(gpt2, "int4") == "bf16"
    # KV: auto -> the compute dtype (vLLM kv_cache_dtype=auto); float dtypes -> themselves;
    # int weight formats -> 16-bit compute; an explicit kv_dtype always wins
    assert kv_dtype_for(dsv3, "auto", None) == "bf16"
    assert kv_dtype_for(llama, "fp8", None) == "fp8"
    assert kv_dtype_for(llama, "int4", None) == "bf16"
    assert kv_dtype_for(llama, "int4", "fp8") == "fp8"
    with pytest.raises(ConfigError):
        resolve_dtype(llama, "fp12")


def test_inference_activations_llama2_7b():
    arch = arch_of("meta-llama--Llama-2-7b-hf")
    s, b, h, heads, inter, vocab = 4096, 1, 4096, 32, 11008, 32000
    residual = s * b * h * 2
    # attention live set per token: norm out h, q h, k h, v h, attention out h, o-proj out h (MHA)
    attn = s * b * 6 * h * 2
    ffn = s * b * (h + 3 * inter + h) * 2  # norm out, gate, up, product, down out
    logits = b * vocab * 4  # last position, fp32
    lse = 4 * b * heads * s  # flash: fp32 log-sum-exp per head and query
    with_flash = residual + max(attn + lse, ffn, logits)
    assert inference_activation_bytes(arch, seq_len=s, batch=b, dtype="fp16", flash=True) == with_flash == 371_195_904
    scores = b * heads * s * s * 2  # eager: the score matrix in fp16
    no_flash = residual + max(attn + scores, ffn, logits)
    assert inference_activation_bytes(arch, seq_len=s, batch=b, dtype="fp16", flash=False) == no_flash == 1_308_622_848


def test_inference_activations_whisper_encoder_runs_over_1500_frames():
    """Whisper-tiny (fp32, no torch_dtype): the encoder always sees its 1500 audio frames, even for 1 decoder token."""
    arch = arch_of("openai--whisper-tiny")
    frames, h, heads, ffn, vocab = 1500, 384, 6, 1536, 51865
    b = 4  # fp32 bytes
    for seq, batch in ((1, 1), (64, 2)):
        enc_residual = frames * batch * h * b
        enc_attn = frames * batch * 6 * h * b + 4 * batch * heads * frames  # MHA live set + fp32 log-sum-exp
        enc_ffn = frames * batch * (h + 2 * ffn + h) * b  # norm out, fc1 out, GELU out, fc2 out
        dec_residual = seq * batch * h * b
        dec_attn = seq * batch * 6 * h * b + 4 * batch * heads * seq
        dec_ffn = seq * batch * (h + 2 * ffn + h) * b
        logits = batch * vocab * 4
        expected = max(enc_residual + max(enc_attn, enc_ffn), dec_residual + max(dec_attn, dec_ffn, logits))
        assert inference_activation_bytes(arch, seq_len=seq, batch=batch, dtype="fp32", flash=True) == expected


def _oracle():
    sys.path.insert(0, str(Path(__file__).parent))
    try:
        import oracle  # tests/oracle.py: meta-device models, cached per process
    finally:
        sys.path.pop(0)
    return oracle


def _dense_native() -> list[str]:
    """Native fixtures without fused experts (every matrix is its own module), from the config alone.

    MoE models are left out here: tools disagree on whether routers, shared-expert gates and
    fused expert tensors are "linear layers" (PEFT's all-linear sees no fused tensor at all),
    so there is no outside definition to hold the engine to.
    """
    oracle = _oracle()
    names = []
    for name in oracle.config_names():
        text = oracle.load_config(name)
        text = text.get("text_config", text)
        if "num_experts_per_tok" not in text:  # transformers' name for top-k in every MoE config
            names.append(name)
    return names


@pytest.mark.slow  # builds every dense fixture on the meta device (cached per process)
@pytest.mark.parametrize("name", _dense_native())
def test_linear_matrices_match_the_transformers_class(name):
    """Every weight matrix a text token passes through, LM head excluded, walked on the class (oracle shapes)."""
    shapes = _oracle().oracle_linear_shapes(name)
    if shapes is None:  # not native: Falcon's RefinedWeb and RoBERTa are dense, written out in test_params
        return
    assert linear_parameters(arch_of(name)) == sum(i * o * n for i, o, n in shapes)


# Classes that fuse projections into one module (GPT-2's c_attn, Phi-3's qkv_proj and gate_up_proj) are adapted
# once per fused module, r·(h + q + k + v): Architecture.fused_projections records the fusion.
FUSED_PROJECTIONS = {"openai-community--gpt2", "microsoft--Phi-3-mini-4k-instruct", "microsoft--Phi-3.5-mini-instruct"}


def _lora_cases() -> list:
    return _dense_native()


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(FUSED_PROJECTIONS))
def test_fused_projections_are_one_module_each(name):
    """The class holds fewer linear modules than there are projections (the fusion is real), and lmscope's
    adapter modules are exactly as many as the class's."""
    from lmscope.core.estimate.lora import adapter_modules

    shapes = _oracle().oracle_linear_shapes(name)
    arch = arch_of(name)
    modules = sum(n for _, _, n in shapes)
    assert arch.fused_projections
    from lmscope.core.estimate.shapes import linear_matrices

    assert sum(m.count for m in adapter_modules(arch)) == modules < sum(m.count for m in linear_matrices(arch))


@pytest.mark.slow
@pytest.mark.parametrize("name", _lora_cases())
def test_lora_targets_match_peft_all_linear(name):
    """PEFT's all-linear adapts every nn.Linear but the LM head with r·(in + out) parameters (decoder-only
    language models: an encoder's pooler or a vision tower would also be adapted by PEFT, not by lmscope)."""
    oracle = _oracle()
    shapes = oracle.oracle_linear_shapes(name)
    if shapes is None or oracle.oracle_components(name) is None:
        return
    for rank in (8, 64):
        assert lora_trainable_parameters(arch_of(name), rank) == sum(rank * (i + o) * n for i, o, n in shapes), rank


def test_step_shapes_llama2_7b():
    arch = arch_of("meta-llama--Llama-2-7b-hf")
    steps = {(s.phase, s.step): s for s in step_shapes(arch, seq_len=2048, batch=2)}
    assert steps[("prefill", "q_proj")].shape == (2, 2048, 32, 128)
    assert steps[("prefill", "scores")].shape == (2, 32, 2048, 2048)
    assert steps[("prefill", "scores")].nbytes == 2 * 32 * 2048 * 2048 * 2
    assert steps[("decode", "scores")].shape == (2, 32, 1, 2048)
    assert steps[("prefill", "gate")].shape == (2, 2048, 11008)
    assert steps[("prefill", "logits")].shape == (2, 1, 32000)
    # QK^T FLOPs: 2 · b · heads · t · ctx · head_dim
    assert steps[("prefill", "scores")].flops == 2 * 2 * 32 * 2048 * 2048 * 128
    gemma = {(s.phase, s.step): s for s in step_shapes(arch_of("mistralai--Mistral-7B-v0.1"), seq_len=8192)}
    assert gemma[("decode", "scores")].shape == (1, 32, 1, 4096)  # window caps the keys
