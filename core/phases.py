"""Memory and FLOPs per phase (prefill, decode, training), split by component — seed 002's tables.

Why here and not in the estimators: these are *views* of numbers the
estimators already own. Each table is built so that its rows add up exactly
to the estimator's total (a remainder row says what the split cannot place),
so the per-component figures can never disagree with the headline ones.

* Weights by component: each component's parameters at the weight dtype. For
  int8/int4/fp8 only the matrices weight-only quantizers touch
  (:func:`~lmscope.core.estimate.shapes.linear_matrices`) are at that dtype;
  embeddings, LM head, norms and routers stay 16-bit (the memory
  estimator's convention); scales, zeros and packing are the remainder row.
* Decode FLOPs by component: one token, batch 1, ``seq_len`` cached —
  2 × the matmul weights each component holds for that token, plus the
  attention products over the cache (``decode_per_token`` minus the matmuls).
* Training FLOPs by component: 3 × the prefill figure of each component
  (backward ≈ 2 × forward), plus recomputation as its own row.
* Flash-decoding (split-KV): the cached keys of one decode step are split
  into partitions that run in parallel and are merged at the end. vLLM's
  PagedAttention V2 uses 512-token partitions and keeps, per sequence, head
  and partition, a partial output of head_dim values (in the query dtype)
  plus a running max and a sum (fp32) — ``csrc/attention/paged_attention_v2``
  (``PARTITION_SIZE = 512``; ``tmp_out``, ``exp_sums``, ``max_logits``). That is
  what replaces the ``batch × heads × context`` score row of an eager decode.
* Roofline verdict: arithmetic intensity (FLOPs per byte moved, from the
  estimate) against a reference machine balance — NVIDIA H100 SXM, dense
  BF16: 989.4 TFLOP/s over 3.35 TB/s ≈ 295 FLOP/byte (H100 datasheet).
  Below it a step is memory-bound, above it compute-bound. ``lmscope plan``
  gives the verdict for a chosen GPU.
"""

from __future__ import annotations

import math

from lmscope.core.architecture import Architecture, Mixer
from lmscope.core.results import DTYPE_BYTES, Estimate

# NVIDIA H100 SXM5 datasheet: 989.4 TFLOP/s dense BF16 tensor core, 3.35 TB/s HBM3.
REFERENCE_GPU = "H100 SXM (dense BF16)"
REFERENCE_PEAK_FLOPS = 989.4e12
REFERENCE_BANDWIDTH = 3.35e12
REFERENCE_BALANCE = REFERENCE_PEAK_FLOPS / REFERENCE_BANDWIDTH

# vLLM PagedAttention V2 (csrc/attention/attention_kernels: PARTITION_SIZE = 512).
FLASH_DECODING_PARTITION = 512

_QUANTIZED = ("int8", "int4", "fp8")
# linear_matrices group -> the parameter component it belongs to
_GROUP_COMPONENT = {
    "attention": "attention",
    "mla": "attention",
    "cross_attention": "attention",
    "mamba": "mamba",
    "linear_attention": "linear_attention",
    "conv": "conv",
    "mlp": "mlp",
    "experts": "experts",
    "shared_experts": "shared_experts",
    "encoder": "encoder",
}


def weights_by_component(arch: Architecture, est: Estimate) -> dict[str, int]:
    """Weight bytes per parameter component at the estimate's weight dtype; rows sum to ``weights_bytes_selected``."""
    from lmscope.core.estimate.shapes import linear_matrices

    params = est.parameters
    dtype = est.weight_dtype or "bf16"
    selected = est.memory.weights_bytes_selected
    by = {k: v for k, v in params.by_component.items() if v}
    out: dict[str, int] = {}
    if dtype in _QUANTIZED:
        quantizable: dict[str, int] = {}
        for m in linear_matrices(arch):
            comp = _GROUP_COMPONENT.get(m.group, "other")
            quantizable[comp] = quantizable.get(comp, 0) + m.parameters
        for comp, count in by.items():
            q = min(quantizable.get(comp, 0), count)
            out[comp] = math.ceil(q * DTYPE_BYTES[dtype]) + (count - q) * 2
    else:
        per = DTYPE_BYTES.get(dtype, 2.0)
        out = {comp: math.ceil(count * per) for comp, count in by.items()}
    rest = selected - sum(out.values())
    if rest:
        out["quantization scales, zeros, packing" if dtype in _QUANTIZED else "other"] = rest
    return out


def decode_flops_by_component(arch: Architecture, est: Estimate) -> dict[str, int]:
    """FLOPs of one decode token (batch 1, ``seq_len`` cached) by component; sums to ``decode_per_token``."""
    from lmscope.core.params import matmul_by_component

    matmul = matmul_by_component(arch)
    cross_kv = 2 * arch.hidden_size * arch.num_heads * arch.head_dim * len(arch.layers) if arch.encoder_layers else 0
    out = {comp: 2 * w for comp, w in matmul.items() if comp != "encoder" and w}
    if cross_kv and "attention" in out:
        out["attention"] -= 2 * cross_kv  # cached: a decode step does not repeat the cross K/V projections
    scores = est.flops.decode_per_token - sum(out.values())
    if scores:
        out["attention_scores"] = scores
    return out


def training_flops_by_component(est: Estimate) -> dict[str, int]:
    """FLOPs of one training step by component: 3 × prefill each, plus recomputation; sums to ``training_step``."""
    f = est.flops
    out = {comp: 3 * v for comp, v in f.by_component.items() if v}
    rest = f.training_step - sum(out.values())
    if rest:
        out["recomputation" if est.settings.recompute != "none" else "other"] = rest
    return out


def flash_decoding(arch: Architecture, est: Estimate) -> dict[str, object] | None:
    """One decode step's attention scratch with and without split-KV (flash-decoding), peak over layers.

    ``scores_bytes``: the ``batch × heads × context`` score row an eager
    decode materializes in one layer; ``partial_bytes``: vLLM V2's partial
    outputs, maxima and sums for the same layer. None without attention.
    """
    s = est.settings
    be = DTYPE_BYTES.get(est.compute_dtype or "bf16", 2.0)
    best: dict[str, object] | None = None
    for layer in {layer for layer in arch.layers if layer.mixer.is_attention}:
        ctx = s.seq_len
        if layer.mixer in (Mixer.SLIDING, Mixer.CHUNKED) and layer.window:
            ctx = min(ctx, layer.window)
        v_dim = arch.mla.v_head_dim if (layer.mixer is Mixer.MLA and arch.mla is not None) else arch.head_dim
        heads = arch.num_heads
        partitions = math.ceil(ctx / FLASH_DECODING_PARTITION)
        scores = math.ceil(s.batch * heads * ctx * be)
        partial = math.ceil(s.batch * heads * partitions * (v_dim * be + 2 * 4))
        if best is None or scores > best["scores_bytes"]:  # type: ignore[operator]
            best = {
                "partition_tokens": FLASH_DECODING_PARTITION,
                "context": ctx,
                "partitions": partitions,
                "scores_bytes": scores,
                "partial_bytes": partial,
                "source": "vLLM PagedAttention V2 (512-token partitions)",
            }
    return best


def verdict(intensity: float) -> str:
    """memory-bound / compute-bound against the reference machine balance."""
    if not intensity:
        return "—"
    return "compute-bound" if intensity >= REFERENCE_BALANCE else "memory-bound"


def roofline(est: Estimate) -> dict[str, object]:
    """Arithmetic intensity and the bound of prefill and decode on the reference GPU."""
    f = est.flops
    return {
        "reference": REFERENCE_GPU,
        "machine_balance": REFERENCE_BALANCE,
        "prefill_intensity": f.prefill_intensity,
        "prefill_bound": verdict(f.prefill_intensity),
        "decode_intensity": f.decode_intensity,
        "decode_bound": verdict(f.decode_intensity),
    }


def phase_memory(mem: dict, phase: str) -> list[tuple[str, int]]:
    """(row, bytes) of one phase from a report's JSON memory block; the last row is the total.

    prefill/decode: weights by component, KV cache, fixed state, activations
    (decode: the flash-decoding scratch of one layer). training: the training
    breakdown (weights, gradients, optimizer, activations).
    """
    rows: list[tuple[str, int]] = []
    if phase == "training":
        rows = [(k, int(v)) for k, v in (mem.get("training_breakdown") or {}).items() if isinstance(v, int)]
        return [*rows, ("total", mem.get("training_total_bytes") or sum(v for _, v in rows))]
    for comp, value in (mem.get("weights_by_component") or {}).items():
        rows.append((f"weights: {comp}", int(value)))
    rows.append(("KV cache", int(mem.get("kv_cache_bytes") or 0)))
    if mem.get("state_bytes"):
        rows.append(("fixed state", int(mem["state_bytes"])))
    if phase == "prefill":
        rows.append(("activations (peak)", int(mem.get("activation_bytes") or 0)))
    else:
        fd = mem.get("flash_decoding") or {}
        if fd:
            rows.append(("attention scratch (flash-decoding)", int(fd.get("partial_bytes") or 0)))
    return [*rows, ("total", sum(v for _, v in rows))]
