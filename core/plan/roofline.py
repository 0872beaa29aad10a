"""Roofline: time ≥ max(FLOPs / peak FLOP/s, bytes / memory bandwidth), per GPU.

No efficiency factor hides in these figures; ``--efficiency e`` adds a
second set (the bound divided by e) beside them, labelled.

* FLOPs come from :func:`lmscope.core.estimate.flops.flops` — prefill with
  the causal (useful) attention products a causal kernel computes; decode
  one token at the context (MLA: absorbed attention over the latent).
* Bytes: what a step must read at least once. Decode reads every weight it
  touches once per step plus the KV cache and state of every sequence; for
  an MoE at batch b the expected share of routed experts touched is
  1 − (1 − k/E)^b (uniform routing), so batch 1 reads the active parameters
  and a large batch all of them. Prefill reads the weights once and writes
  the KV cache.
* Parallelism: tensor parallelism splits FLOPs and bytes over ``tp`` GPUs;
  pipeline stages run one after another for a batch, so they add time as
  fast as they split bytes (no speed-up for one batch); expert parallelism
  spreads the experts' bytes (already in the per-GPU weights).
* The peak used is the dense tensor-core figure of the math dtype: fp8
  weights on a card with fp8 → the fp8 rate; other weights (int4/int8
  weight-only kernels dequantize) → the 16-bit rate of the compute dtype.
"""

from __future__ import annotations

from dataclasses import dataclass

from lmscope.core.estimate.kv import ENCODER_ONLY
from lmscope.core.hardware import Accelerator
from lmscope.core.plan.facts import ModelFacts
from lmscope.core.plan.memory import kv_per_gpu, state_per_gpu, weights_per_gpu
from lmscope.core.plan.request import PlanRequest
from lmscope.core.results import Settings


@dataclass(frozen=True)
class Roofline:
    prefill_seconds: float
    ttft_seconds: float
    decode_step_seconds: float
    decode_tokens_per_s: float  # all sequences of the batch together
    decode_tokens_per_s_per_sequence: float
    prefill_intensity: float
    decode_intensity: float
    machine_balance: float
    bound: str  # decode: "memory" or "compute"
    prefill_bound: str
    peak_flops: float
    peak_dtype: str
    bandwidth_bytes_per_s: float
    decode_flops: int
    decode_bytes_per_gpu: int
    prefill_flops: int
    efficiency: float | None = None
    generative: bool = True  # False for an encoder: it has no decode step, so no decode figures

    def to_dict(self) -> dict[str, object]:
        d: dict[str, object] = {
            "prefill_seconds": self.prefill_seconds,
            "ttft_seconds": self.ttft_seconds,
            "decode_step_seconds": self.decode_step_seconds,
            "decode_tokens_per_s": self.decode_tokens_per_s,
            "decode_tokens_per_s_per_sequence": self.decode_tokens_per_s_per_sequence,
            "prefill_intensity": self.prefill_intensity,
            "decode_intensity": self.decode_intensity,
            "machine_balance": self.machine_balance,
            "bound": self.bound,
            "prefill_bound": self.prefill_bound,
            "peak_flops": self.peak_flops,
            "peak_dtype": self.peak_dtype,
            "prefill_flops": self.prefill_flops,
            "decode_flops": self.decode_flops,
            "decode_bytes_per_gpu": self.decode_bytes_per_gpu,
            "with_efficiency": None,
            "generative": self.generative,
        }
        if not self.generative:  # an encoder never decodes: no decode figures rather than made-up ones
            for key in ("decode_step_seconds", "decode_tokens_per_s", "decode_tokens_per_s_per_sequence",
                        "decode_intensity", "bound", "decode_flops", "decode_bytes_per_gpu"):
                d[key] = None
        if self.efficiency:
            e = self.efficiency
            d["with_efficiency"] = {
                "efficiency": e,
                "prefill_seconds": self.prefill_seconds / e,
                "ttft_seconds": self.ttft_seconds / e,
                "decode_tokens_per_s": self.decode_tokens_per_s * e if self.generative else None,
            }
        return d


def math_dtype(facts: ModelFacts, hw: Accelerator) -> tuple[float, str]:
    """(peak FLOP/s, dtype) the matrix products run at (module docstring)."""
    if facts.weight_dtype == "fp8" and hw.peak_flops.get("fp8"):
        return hw.peak_flops["fp8"], "fp8"
    return hw.flops_for(facts.compute_dtype if facts.weight_dtype in ("int4", "int8") else facts.weight_dtype)


def touched_weights(facts: ModelFacts, req: PlanRequest, tokens: int) -> int:
    """Per-GPU weight bytes a step over ``tokens`` tokens reads (MoE: expected experts touched)."""
    per_gpu = weights_per_gpu(facts, req)
    moe = facts.arch.moe
    if not facts.is_moe or moe is None or not moe.num_experts:
        return per_gpu
    total = facts.weights_bytes or 1
    expert_part = per_gpu * facts.expert_bytes / total
    frac = 1.0 - (1.0 - moe.experts_per_token / moe.num_experts) ** tokens
    return int(per_gpu - expert_part + expert_part * min(1.0, frac))


def _time(flops: float, byts: float, peak: float, bw: float) -> tuple[float, str]:
    tc = flops / peak if peak else 0.0  # no FLOP/s known (a custom card given without --gpu-flops): bytes only
    tm = byts / bw if bw else 0.0
    return (tc, "compute") if tc >= tm else (tm, "memory")


def roofline(facts: ModelFacts, req: PlanRequest, hw: Accelerator) -> Roofline | None:
    """Prefill time, TTFT and decode tokens/s at the request's (seq_len, batch) on ``hw`` × tp.

    None when the card's bandwidth is unknown (a custom card without
    ``--gpu-bandwidth``); without FLOP/s only the bandwidth bound is used.
    """
    from lmscope.core.estimate.flops import flops as count_flops

    if not hw.bandwidth_bytes_per_s:
        return None
    s, b = req.seq_len, req.batch
    tp, pp = req.tensor_parallel, req.pp
    peak, peak_dtype = math_dtype(facts, hw)
    bw = hw.bandwidth_bytes_per_s
    fb = count_flops(facts.arch, facts.params, Settings(seq_len=s, batch=b))
    f1 = fb if b == 1 else count_flops(facts.arch, facts.params, Settings(seq_len=s, batch=1))
    prefill_flops = fb.prefill_linear + fb.prefill_attention_causal
    one_flops = f1.prefill_linear + f1.prefill_attention_causal

    def prefill_time(fl: int, batch: int) -> tuple[float, str, float]:
        byts = pp * (touched_weights(facts, req, batch * s) + kv_per_gpu(facts, req, s, batch)
                     + state_per_gpu(facts, req, batch))
        t, bound = _time(fl / tp, byts, peak, bw)
        return t, bound, (fl / tp) / byts if byts else 0.0

    t_prefill, prefill_bound, prefill_int = prefill_time(prefill_flops, b)
    t_first, _, _ = prefill_time(one_flops, 1)

    decode_flops = b * f1.decode_per_token
    decode_bytes = touched_weights(facts, req, b) + kv_per_gpu(facts, req, s, b) + state_per_gpu(facts, req, b)
    step, bound = _time(decode_flops / tp, pp * decode_bytes, peak, bw)
    return Roofline(
        prefill_seconds=t_prefill,
        ttft_seconds=t_first,
        decode_step_seconds=step,
        decode_tokens_per_s=b / step if step else 0.0,
        decode_tokens_per_s_per_sequence=1 / step if step else 0.0,
        prefill_intensity=prefill_int,
        decode_intensity=(decode_flops / tp) / (pp * decode_bytes) if decode_bytes else 0.0,
        machine_balance=peak / bw if bw else 0.0,
        bound=bound,
        prefill_bound=prefill_bound,
        peak_flops=peak,
        peak_dtype=peak_dtype,
        bandwidth_bytes_per_s=bw,
        decode_flops=decode_flops,
        decode_bytes_per_gpu=decode_bytes,
        prefill_flops=prefill_flops,
        efficiency=req.efficiency,
        generative=facts.arch.objective not in ENCODER_ONLY,
    )
