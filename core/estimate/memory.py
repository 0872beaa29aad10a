"""Weights and inference-activation memory.

Weights
-------
``weights_bytes`` gives the model's size at every dtype lmscope knows, plus
``"checkpoint"`` — what the published files really hold.

* fp32 / fp16 / bf16: every parameter at that width.
* fp8 / int8 / int4: only the *quantizable* matrices are quantized — the
  weight matrices of the layers listed by
  :func:`lmscope.core.estimate.shapes.linear_matrices` (attention/mixer
  projections, MLPs, experts). Embeddings, the LM head, norms, biases, routers
  and vision towers stay 16-bit. That is what GPTQ, AWQ and bitsandbytes do by
  default, and we keep the same convention everywhere (weights, QLoRA, the
  checkpoint of GPTQ/AWQ/bnb/FP8 repos).
* int4 and int8 carry group-quantization overhead the way GPTQ/AWQ store it:
  per group of ``g`` consecutive input weights (``g = 128`` by default) one
  fp16 scale plus one zero point at the weight width (4 or 8 bits). For int4
  that is 4 + (16 + 4)/128 ≈ 4.16 bits per weight.
* fp8: one byte per weight plus one fp32 scale per matrix (per-tensor
  scaling, vLLM's online ``--quantization fp8``).

The checkpoint's storage follows its quantization config: GPTQ (packed int32
``qweight``, fp16 ``scales``, packed ``qzeros``, int32 ``g_idx`` per input row),
AWQ (same without ``g_idx``), FP8 (1 byte + fp32 scales per 128×128 block when
``weight_block_size`` is given, else per tensor), MLX (``bits`` per weight plus
a 16-bit scale and bias per ``group_size``; MLX also quantizes the embeddings
and LM head), bitsandbytes NF4 (QLoRA's layout, see :func:`nf4_bytes`) and
LLM.int8 (1 byte + fp32 scale per row), MXFP4 (gpt-oss experts: 4 bits plus
one 8-bit scale per 32), NVFP4 (4 bits plus one fp8 scale per 16).

Inference activations
---------------------
The peak of one forward pass over ``batch × seq_len`` tokens (prefill), as
the largest live set: the residual stream (always live) plus, for the worst
layer, the larger of its token-mixer's and its FFN's intermediates (a layer
runs them one after the other), or the logits. Following serving engines
(vLLM, SGLang, TGI), prefill computes logits for the last position of each
sequence only (``batch × vocab`` in fp32 for sampling); a training-style
forward would need ``batch × seq_len × vocab``.

* Attention without flash attention materialises the ``batch · heads · S · S``
  score matrix in the compute dtype (eager attention; sliding windows are
  applied as a mask, so the matrix is still S × S). With flash attention the
  scores never exist: the extra is O(S), one fp32 log-sum-exp per head and
  query.
* Mamba-2 and Gated-DeltaNet prefill use chunked scans that keep one fp32
  state per chunk (chunk 256 and 64 tokens respectively).
* Seq2seq encoders run over their own input with their own residual stream:
  ``seq_len`` tokens for T5/BART, Whisper's fixed 1500 audio frames.

These are models of a good implementation, not of any one framework's
allocator; the note in the estimate says so.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from lmscope.core.architecture import FFN, Architecture, LayerSpec, Mixer, Objective
from lmscope.core.errors import ConfigError
from lmscope.core.estimate.kv import DTYPE_BITS, ENCODER_ONLY, bytes_for
from lmscope.core.estimate.shapes import (
    Matrix,
    encoder_layer_groups,
    encoder_length,
    layer_groups,
    layer_kv_heads,
    linear_matrices,
    linear_parameters,
    mamba_dt_rank,
    mamba_intermediate,
)
from lmscope.core.results import DTYPES, ParameterBreakdown

DEFAULT_GROUP_SIZE = 128  # int4/int8 group quantization
NF4_BLOCK = 64  # QLoRA: one absmax per 64 weights
NF4_DQ_BLOCK = 256  # double quantization: one fp32 constant per 256 absmax values
MXFP4_BLOCK = 32

_TORCH_DTYPES = {
    "float32": "fp32", "float": "fp32", "fp32": "fp32",
    "float16": "fp16", "half": "fp16", "fp16": "fp16",
    "bfloat16": "bf16", "bf16": "bf16",
    "float8_e4m3fn": "fp8", "float8_e5m2": "fp8", "fp8": "fp8",
    "int8": "int8",
}
_FLOAT_DTYPES = ("fp32", "fp16", "bf16")


@dataclass(frozen=True)
class WeightBytes:
    """Weights at every dtype (``by_dtype`` keys: DTYPES plus "checkpoint") and what was assumed."""

    by_dtype: dict[str, int]
    notes: tuple[str, ...] = ()


# --------------------------------------------------------------------------- dtypes


def checkpoint_float_dtype(arch: Architecture) -> str:
    """The checkpoint's (unquantized) float dtype as a DTYPES name; fp32 when the config names none.

    transformers loads a config without ``torch_dtype`` in float32, and the
    models that omit it (GPT-2, BERT) ship fp32 weights; a quantized checkpoint
    without one (gpt-oss) keeps its unquantized tensors in bf16.
    """
    if arch.torch_dtype is None:
        # quantized checkpoints without a torch_dtype (gpt-oss) keep their other tensors in bf16
        return "bf16" if arch.quantization is not None else "fp32"
    return _TORCH_DTYPES.get(str(arch.torch_dtype).lower().replace("torch.", ""), "fp32")


def checkpoint_dtype(arch: Architecture) -> str:
    """The DTYPES name closest to how the checkpoint stores its matrices (int4 for 4-bit GPTQ, ...)."""
    q = arch.quantization
    if q is None:
        return checkpoint_float_dtype(arch)
    method = q.method.lower()
    if method in ("fp8", "fbgemm_fp8") or (method in ("compressed-tensors", "modelopt") and (q.bits or 8) == 8):
        return "fp8"
    bits = q.bits or (4 if method in ("bitsandbytes", "mxfp4", "awq", "gptq") else None)
    if bits is None:
        return checkpoint_float_dtype(arch)
    return "int4" if bits <= 5 else "int8"  # mxfp4 is 4.25 bits with its scales


def resolve_dtype(arch: Architecture, dtype: str) -> str:
    """``settings.dtype`` as a DTYPES name ("auto" → :func:`checkpoint_dtype`)."""
    if dtype == "auto":
        return checkpoint_dtype(arch)
    if dtype not in DTYPES:
        raise ConfigError(f"unknown dtype {dtype!r}; choose auto or one of {', '.join(DTYPES)}")
    return dtype


def compute_dtype(arch: Architecture, dtype: str) -> str:
    """The dtype activations, KV and state are computed in when weights are at ``dtype``.

    fp32/fp16/bf16 compute in themselves; quantized weights (fp8, int8, int4,
    and "auto" on a quantized checkpoint) compute in the checkpoint's 16-bit
    dtype (bf16 when it names none or names fp32).
    """
    if dtype in _FLOAT_DTYPES:
        return dtype
    base = checkpoint_float_dtype(arch)
    if dtype == "auto":
        return base
    return base if base in ("fp16", "bf16") else "bf16"


def kv_dtype_for(arch: Architecture, dtype: str, kv_dtype: str | None) -> str:
    """The KV-cache dtype: ``kv_dtype`` when given, else "same as dtype" made concrete.

    "auto" → the checkpoint's compute dtype (vLLM's ``kv_cache_dtype=auto``:
    an FP8 or GPTQ checkpoint still caches KV in 16-bit); fp32/fp16/bf16/fp8 →
    the same; int8/int4 (weight-only integer quantization) → the 16-bit compute
    dtype, because no engine stores KV at the weights' integer width by default.
    """
    if kv_dtype is not None:
        if kv_dtype not in DTYPES:
            raise ConfigError(f"unknown KV dtype {kv_dtype!r}; choose one of {', '.join(DTYPES)}")
        return kv_dtype
    if dtype in ("fp32", "fp16", "bf16", "fp8"):
        return dtype
    return compute_dtype(arch, dtype)


# --------------------------------------------------------------------------- weights


def _quantizable(arch: Architecture, params: ParameterBreakdown) -> tuple[tuple[Matrix, ...], int]:
    mats = linear_matrices(arch)
    q = linear_parameters(arch)
    if q > params.total:  # a parser/params disagreement: never quantize more than exists
        return (), 0
    return mats, q


def _group_quant_bytes(m: Matrix, bits: int, group: int, *, zero_bits: int | None, g_idx: bool) -> int:
    """GPTQ/AWQ-style packed storage of ``m``: weights, fp16 scales, packed zeros, optional g_idx."""
    g = m.d_in if group <= 0 else group
    groups = math.ceil(m.d_in / g) * m.d_out
    one = (m.d_in * m.d_out * bits + 7) // 8 + groups * 2
    if zero_bits:
        one += (groups * zero_bits + 7) // 8
    if g_idx:
        one += m.d_in * 4
    return one * m.count


def nf4_bytes(weights: int, *, double_quant: bool = True) -> int:
    """bitsandbytes NF4 storage of ``weights`` values (Dettmers et al. 2023, QLoRA).

    4 bits per weight and one absmax per block of 64. Double quantization
    stores each absmax in 8 bits plus one fp32 constant per 256 blocks
    (8/64 + 32/(64·256) ≈ 0.127 extra bits per weight); without it the absmax
    is fp32 (0.5 extra bits).
    """
    blocks = math.ceil(weights / NF4_BLOCK)
    absmax = blocks + 4 * math.ceil(blocks / NF4_DQ_BLOCK) if double_quant else 4 * blocks
    return (weights + 1) // 2 + absmax


def _nf4_matrices(mats: tuple[Matrix, ...], double_quant: bool) -> int:
    return sum(nf4_bytes(m.d_in * m.d_out, double_quant=double_quant) * m.count for m in mats)


def weight_bytes_at(arch: Architecture, params: ParameterBreakdown, dtype: str, group_size: int = DEFAULT_GROUP_SIZE) -> int:
    """Weights at one of DTYPES, with the conventions in the module docstring."""
    total = params.total
    if dtype in _FLOAT_DTYPES:
        return bytes_for(total, dtype)
    mats, q = _quantizable(arch, params)
    rest = bytes_for(total - q, "bf16")
    if dtype == "fp8":
        return q + 4 * sum(m.count for m in mats) + rest
    bits = DTYPE_BITS[dtype]
    return sum(_group_quant_bytes(m, bits, group_size, zero_bits=bits, g_idx=False) for m in mats) + rest


def _detail(arch: Architecture, name: str) -> str | None:
    q = arch.quantization
    if q is None:
        return None
    for key, value in q.details:
        if key == name:
            return value
    return None


def _block_size(text: str | None) -> tuple[int, int] | None:
    if not text:
        return None
    nums = [int(x) for x in "".join(c if c.isdigit() else " " for c in text).split()]
    return (nums[0], nums[1]) if len(nums) >= 2 and nums[0] > 0 and nums[1] > 0 else None


def checkpoint_bytes(arch: Architecture, params: ParameterBreakdown) -> tuple[int, str | None]:
    """Bytes the checkpoint's weights occupy, from torch_dtype and the quantization config.

    Returns (bytes, note); the note says what was assumed when the layout is
    not fully known.
    """
    q = arch.quantization
    base = checkpoint_float_dtype(arch)
    if q is None:
        return bytes_for(params.total, base), None
    method = q.method.lower()
    mats, qn = _quantizable(arch, params)
    half = 2  # non-quantized tensors of a quantized checkpoint are 16-bit
    rest = (params.total - qn) * half
    if method in ("gptq", "awq"):
        bits, group = int(q.bits or 4), int(q.group_size or 128)
        body = sum(_group_quant_bytes(m, bits, group, zero_bits=bits, g_idx=method == "gptq") for m in mats)
        return body + rest, None
    algo = (_detail(arch, "quant_algo") or "").upper()
    if "NVFP4" in algo:  # ModelOpt NVFP4: 4 bits + one fp8 scale per 16 + one fp32 global scale per matrix
        body = sum(((m.d_in * m.d_out + 1) // 2 + math.ceil(m.d_in / 16) * m.d_out + 4) * m.count for m in mats)
        return body + rest, None
    if method in ("fp8", "fbgemm_fp8") or (method in ("compressed-tensors", "modelopt") and (q.bits or 8) == 8):
        block = _block_size(_detail(arch, "weight_block_size"))
        if block is None and q.group_size and math.isqrt(q.group_size) ** 2 == q.group_size:
            side = math.isqrt(q.group_size)  # the parser folds weight_block_size [128, 128] into 16384
            block = (side, side)
        if block:
            bo, bi = block
            scales = sum(math.ceil(m.d_out / bo) * math.ceil(m.d_in / bi) * 4 * m.count for m in mats)
        else:
            scales = sum(4 * m.count for m in mats)
        return qn + scales + rest, None if block else "fp8 checkpoint: per-tensor fp32 weight scales assumed"
    if method == "mlx":
        bits, group = int(q.bits or 4), int(q.group_size or 64)
        emb_rows = arch.vocab_size * (1 if arch.tied_embeddings else 2)
        emb = Matrix("embeddings", arch.hidden_size, arch.vocab_size, 1 if arch.tied_embeddings else 2, "embeddings")
        quant = (*mats, emb)
        qn2 = qn + emb_rows * arch.hidden_size
        if qn2 > params.total:
            quant, qn2 = mats, qn
        body = sum(
            ((m.d_in * m.d_out * bits + 7) // 8 + math.ceil(m.d_in / group) * m.d_out * 4) * m.count for m in quant
        )
        return body + (params.total - qn2) * half, None
    if method in ("bitsandbytes", "bnb"):
        bnb_bits = q.bits or 4
        if bnb_bits <= 4:
            dq = (_detail(arch, "bnb_4bit_use_double_quant") or "true").lower() not in ("false", "0", "no")
            return _nf4_matrices(mats, dq) + rest, None
        return sum((m.d_in * m.d_out + 4 * m.d_out) * m.count for m in mats) + rest, None
    if method == "mxfp4":
        experts = tuple(m for m in mats if m.group == "experts")
        en = sum(m.parameters for m in experts)
        body = sum(((m.d_in * m.d_out + 1) // 2 + math.ceil(m.d_in / MXFP4_BLOCK) * m.d_out) * m.count for m in experts)
        return body + (params.total - en) * half, None
    if q.bits:
        q_bits = int(q.bits) if float(q.bits).is_integer() else q.bits
        group = int(q.group_size or DEFAULT_GROUP_SIZE)
        if isinstance(q_bits, int):
            body = sum(_group_quant_bytes(m, q_bits, group, zero_bits=q_bits, g_idx=False) for m in mats)
        else:  # fractional bits (exl2, GGUF mixes): bits per weight, overhead included
            body = math.ceil(qn * q_bits / 8)
        return body + rest, f"{method}: layout assumed as {q.bits}-bit group quantization"
    return bytes_for(params.total, base), f"{method}: storage layout unknown; shown at {base}"


def weights_bytes(arch: Architecture, params: ParameterBreakdown) -> WeightBytes:
    """Weights at every dtype in DTYPES plus "checkpoint"."""
    by = {d: weight_bytes_at(arch, params, d) for d in DTYPES}
    ckpt, note = checkpoint_bytes(arch, params)
    by["checkpoint"] = ckpt
    notes = [
        "fp8/int8/int4: attention/MLP/expert matrices quantized (int: group 128, fp16 scale + zero); "
        "embeddings, LM head and norms stay 16-bit"
    ]
    if note:
        notes.append(note)
    if arch.torch_dtype is None and arch.quantization is None:
        notes.append("config names no torch_dtype: checkpoint assumed float32")
    return WeightBytes(by, tuple(notes))


# --------------------------------------------------------------------------- activations


def _mixer_live(arch: Architecture, layer: LayerSpec, s: int, bsz: int, flash: bool) -> tuple[int, int]:
    """(elements in the compute dtype, extra fp32 bytes) live inside one token mixer."""
    h, nh, hd = arch.hidden_size, arch.num_heads, arch.head_dim
    t = s * bsz
    mixer = layer.mixer
    ssm = arch.ssm
    fp32 = 0
    if layer.linear_mixer:
        return t * 2 * h, 0
    if mixer in (Mixer.FULL, Mixer.SLIDING, Mixer.CHUNKED):
        kvh = layer_kv_heads(arch, layer)
        per_tok = h + nh * hd + 2 * kvh * hd + nh * hd + h  # norm out, q, k, v, attention out, o-proj out
        el = t * per_tok
    elif mixer is Mixer.MLA and arch.mla is not None:
        m = arch.mla
        qk = m.qk_nope_head_dim + m.qk_rope_head_dim
        per_tok = h + (m.q_lora_rank or 0) + m.kv_lora_rank + m.qk_rope_head_dim + 2 * nh * qk + 2 * nh * m.v_head_dim + h
        el = t * per_tok
    elif mixer is Mixer.MAMBA and ssm is not None:
        inner = mamba_intermediate(arch)
        el = t * (h + 2 * inner + inner + mamba_dt_rank(arch) + 2 * ssm.state_size + inner + h)
        return el, 0
    elif mixer is Mixer.MAMBA2 and ssm is not None:
        inner = mamba_intermediate(arch)
        heads = ssm.num_heads or 1
        gn = ssm.n_groups * ssm.state_size
        el = t * (h + (2 * inner + 2 * gn + heads) + (inner + 2 * gn) + inner + h)
        head_dim = ssm.head_dim or inner // heads
        return el, 4 * bsz * math.ceil(s / 256) * heads * head_dim * ssm.state_size
    elif mixer is Mixer.LINEAR and ssm is not None:
        qk = ssm.num_key_heads * ssm.key_head_dim
        v = ssm.num_value_heads * ssm.value_head_dim
        el = t * (h + (2 * qk + 2 * v + 2 * ssm.num_value_heads) + (2 * qk + v) + v + h)
        return el, 4 * bsz * math.ceil(s / 64) * ssm.num_value_heads * ssm.key_head_dim * ssm.value_head_dim
    elif mixer is Mixer.CONV:
        return t * (h + 3 * h + h + h + h), 0
    else:
        return 0, 0
    if flash:
        fp32 = 4 * bsz * nh * s
    else:
        el += bsz * nh * s * s
    return el, fp32


def _ffn_live(arch: Architecture, layer: LayerSpec, t: int) -> int:
    h = arch.hidden_size
    if layer.linear_ffn:
        return t * 2 * h
    if layer.ffn is FFN.DENSE:
        inter = layer.intermediate_size if layer.intermediate_size is not None else arch.intermediate_size
        return t * (h + (3 if arch.gated_ffn else 2) * inter + h)
    if layer.ffn is FFN.MOE and arch.moe is not None:
        moe = arch.moe
        k = moe.experts_per_token
        per_expert = (3 if moe.gated else 2) * moe.expert_intermediate_size
        shared = 0
        if moe.num_shared_experts:
            s_inter = moe.shared_expert_intermediate_size or moe.expert_intermediate_size * moe.num_shared_experts
            shared = (3 if moe.gated else 2) * s_inter
        # norm out, router logits, tokens dispatched to k experts, their intermediates and outputs, shared expert
        return t * (h + moe.num_experts + k * h + k * per_expert + k * h + shared + h)
    return 0


def inference_activation_bytes(arch: Architecture, *, seq_len: int, batch: int, dtype: str, flash: bool) -> int:
    """Peak activation bytes of one prefill over ``batch × seq_len`` tokens (model in the module docstring).

    ``dtype`` is the compute dtype (see :func:`compute_dtype`).
    """
    b = DTYPE_BITS[dtype]
    t = seq_len * batch
    residual = t * arch.hidden_size
    peak_bytes = 0
    for layer, _ in layer_groups(arch):
        el, fp32 = _mixer_live(arch, layer, seq_len, batch, flash)
        mixer_bytes = (el * b + 7) // 8 + fp32
        ffn_bytes = (_ffn_live(arch, layer, t) * b + 7) // 8
        peak_bytes = max(peak_bytes, mixer_bytes, ffn_bytes)
    enc_len = encoder_length(arch, seq_len)  # Whisper's encoder always runs over its 1500 frames
    enc_residual = (enc_len * batch * arch.hidden_size * b + 7) // 8
    enc_peak = 0
    for layer, _ in encoder_layer_groups(arch):
        el, fp32 = _mixer_live(arch, layer, enc_len, batch, flash)
        mixer_bytes = (el * b + 7) // 8 + fp32
        ffn_bytes = (_ffn_live(arch, layer, enc_len * batch) * b + 7) // 8
        enc_peak = max(enc_peak, enc_residual + mixer_bytes, enc_residual + ffn_bytes)
    if not arch.lm_head:
        logits = 0  # a base *Model class (embeddings, encoders) has no output projection
    elif arch.objective is Objective.MASKED_LM:
        logits = t * arch.vocab_size * 4  # an MLM head scores every position
    elif arch.objective in ENCODER_ONLY:
        logits = 0
    else:
        logits = batch * arch.vocab_size * 4  # last position per sequence, fp32 for sampling
    return max((residual * b + 7) // 8 + max(peak_bytes, logits), enc_peak)
