"""Deployment planner: does a model fit on these GPUs, at what context and batch, how fast, and how to run it.

``make_plan(arch, params, request, accelerator)`` answers with a
:class:`Plan` whose ``to_dict()`` is CONTRACT.md's "JSON plan". Every
memory figure comes from one function,
:func:`lmscope.core.plan.memory.plan_memory`; the verdict, the solved
limits, the serving view and the split advice all call it. Pure and fast
(no I/O, no torch): a plan with both solved limits takes a few
milliseconds.

Modules: ``request`` (the question), ``facts`` (per-model constants),
``memory`` (the memory model), ``solve`` (bisection), ``roofline``,
``serving`` (vLLM's accounting and its inverse), ``split`` (GPU/CPU split
points), ``commands`` (vLLM / SGLang / llama.cpp flags), ``render`` (text
and Markdown).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

from lmscope.core.architecture import Architecture
from lmscope.core.hardware import Accelerator
from lmscope.core.plan.facts import ModelFacts, model_facts
from lmscope.core.plan.memory import (
    CUDA_GRAPHS,
    NCCL,
    NON_TORCH,
    RUNTIME_OTHER,
    PlanMemory,
    max_num_batched_tokens,
    plan_memory,
)
from lmscope.core.plan.request import PlanRequest, validate_request
from lmscope.core.plan.roofline import Roofline, roofline
from lmscope.core.plan.serving import Serving, serving
from lmscope.core.plan.solve import largest_fitting
from lmscope.core.plan.split import Split, split_plan
from lmscope.core.results import ParameterBreakdown
from lmscope.core.units import fixed

SCHEMA_VERSION = 1

__all__ = ["SCHEMA_VERSION", "Plan", "PlanRequest", "fits_at", "make_plan", "plan_memory", "plan_summary"]


@dataclass(frozen=True)
class Plan:
    model_id: str
    request: PlanRequest
    hardware: Accelerator
    facts: ModelFacts
    memory: PlanMemory
    fits: bool
    headroom_bytes: int
    max_seq_len: int | None
    max_batch: int | None
    roofline: Roofline | None
    serving: Serving | None
    split: Split | None
    commands: dict[str, object] | None
    training: dict[str, object] | None
    assumptions: tuple[str, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, object]:
        r, hw = self.request, self.hardware
        return {
            "schema_version": SCHEMA_VERSION,
            "model_id": self.model_id,
            "settings": {
                "seq_len": r.seq_len,
                "batch": r.batch,
                "dtype": r.dtype,
                "kv_dtype": r.kv_dtype,
                "resolved_dtypes": {
                    "weights": self.facts.weight_dtype,
                    "compute": self.facts.compute_dtype,
                    "kv_cache": self.facts.kv_dtype,
                },
                "mode": r.mode,
                "count": r.count,
                "tp": r.tensor_parallel,
                "pp": r.pp,
                "ep": r.ep,
                "zero": r.zero,
                "optimizer": r.optimizer,
                "recompute": r.recompute,
                "lora_rank": r.lora_rank,
                "lora_targets": r.lora_targets,
                "flash_attention": r.flash,
                "efficiency": r.efficiency,
                "gpu_memory_utilization": r.gpu_memory_utilization,
            },
            "hardware": {**hw.to_dict(), "count": r.count},
            "memory": self.memory.to_dict(),
            "fits": self.fits,
            "headroom_bytes": self.headroom_bytes,
            "max_seq_len": self.max_seq_len,
            "max_batch": self.max_batch,
            "roofline": self.roofline.to_dict() if self.roofline else None,
            "serving": self.serving.to_dict() if self.serving else None,
            "split": self.split.to_dict() if self.split else None,
            "commands": self.commands,
            "training": self.training,
            "assumptions": list(self.assumptions),
        }


def fits_at(facts: ModelFacts, req: PlanRequest, hw: Accelerator, seq_len: int, batch: int) -> bool:
    """The verdict: per-GPU bytes at (seq_len, batch) within the memory the device may use."""
    return plan_memory(facts, req, hw, seq_len, batch).per_gpu_bytes <= hw.usable_bytes


def _assumptions(facts: ModelFacts, req: PlanRequest, hw: Accelerator, mem: PlanMemory) -> list[str]:
    out = [
        f"memory is per GPU and never pooled: each of the {req.count} GPU(s) must hold its own share",
        f"framework overhead {fixed(mem.overhead_bytes, 'GiB')} per GPU: "
        + (f"Metal/CPU runtime {fixed(RUNTIME_OTHER, 'GiB')}" if hw.unified or hw.cpu else
           f"CUDA context and non-torch memory {fixed(NON_TORCH, 'GiB')}"
           + (f", NCCL buffers {fixed(NCCL, 'GiB')}" if req.count > 1 else "")
           + (f", CUDA graphs {fixed(CUDA_GRAPHS, 'GiB')}" if not req.training else "")),
    ]
    if hw.unified:
        out.append(
            f"Apple unified memory: the GPU may wire about {hw.wirable_fraction:.0%} of RAM by default "
            f"(macOS iogpu.wired_limit_mb; 2/3 up to 36 GB, 3/4 above): {fixed(hw.usable_bytes, 'GiB', 1)} usable"
        )
    if req.mode == "inference":
        tp = req.tensor_parallel
        out += [
            f"activations: the peak of one prefill chunk of at most {max_num_batched_tokens(hw, req):,} tokens "
            f"(the max_num_batched_tokens `vllm serve` picks for this card: 8,192 from {fixed(70 << 30, 'GiB', 0)} "
            "except A100s, else 2,048), "
            "not split by tensor parallelism",
            f"tensor parallel {tp}: matrices and vocabulary split {tp} ways; KV heads split by TP "
            "(one head per GPU, replicated, once TP exceeds the KV heads); an MLA latent is cached whole on every GPU",
        ]
        if req.pp > 1:
            out.append(f"pipeline parallel {req.pp}: the fullest stage holds ceil(layers/{req.pp}) layers")
        if req.ep > 1:
            out.append(f"expert parallel {req.ep}: routed experts split {req.ep} ways instead of by TP")
        out.append(
            "roofline: time >= max(FLOPs / dense peak, bytes / bandwidth) per GPU, no efficiency factor"
            + (f" (a second set divided by --efficiency {req.efficiency} is shown beside it)" if req.efficiency else "")
            + "; decode reads the touched weights once per step plus the KV cache; MoE experts touched at batch b: "
            "1 - (1 - k/E)^b of them (uniform routing)"
        )
    else:
        out.append(f"data parallel over {req.count} GPU(s) with ZeRO-{req.zero}; micro-batch {req.batch} per GPU")
        out.append("model states as DeepSpeed allocates them (fp32 gradient partitions; ZeRO-3 adds 4 x the largest "
                   "module's parameters); the ZeRO paper's 16 B/param figure is shown beside")
        out.append(f"activations: Korthikanti et al. 2022 per layer, recompute={req.recompute}, "
                   f"flash attention {'on' if req.flash else 'off'}, dropout masks "
                   + ("counted (the config trains with dropout)" if facts.arch.dropout else "not counted (no dropout in the config)"))
        if req.mode in ("lora", "qlora"):
            out.append(f"LoRA rank {req.lora_rank} on {'every linear layer' if req.lora_targets == 'all' else 'the query and value projections'}"
                       + ("; base matrices in NF4 with double quantization (QLoRA)" if req.mode == "qlora" else "; base in 16-bit"))
    return out


def make_plan(
    arch: Architecture,
    params: ParameterBreakdown,
    req: PlanRequest,
    hw: Accelerator,
    *,
    model_id: str = "",
    is_gguf: bool = False,
) -> Plan:
    """The whole plan for one model × request × card (see module docstring)."""
    validate_request(req)
    dtype = req.dtype
    if req.mode in ("training", "lora", "qlora") and dtype == "auto" and arch.quantization is not None:
        dtype = "bf16"  # training starts from the 16-bit weights
    facts = model_facts(arch, params, dtype, req.kv_dtype)
    heads = max(1, arch.num_heads)
    tp = req.tensor_parallel
    if req.mode == "inference" and heads % tp:
        from lmscope.core.errors import UsageError

        raise UsageError(f"--tp {tp} does not divide the model's {heads} attention heads")
    mem = plan_memory(facts, req, hw, req.seq_len, req.batch)
    usable = hw.usable_bytes
    fits = mem.per_gpu_bytes <= usable
    max_seq = largest_fitting(lambda s: fits_at(facts, req, hw, s, req.batch))
    max_batch = largest_fitting(lambda b: fits_at(facts, req, hw, req.seq_len, b))
    roof = serve = split = commands = None
    training: dict[str, object] | None = None
    assumptions = _assumptions(facts, req, hw, mem)
    if req.mode == "inference":
        roof = roofline(facts, req, hw)
        if roof is None:
            assumptions.append("no roofline: the card's memory bandwidth is unknown (give --gpu-bandwidth)")
        elif not roof.peak_flops:
            assumptions.append("no FLOP/s for this card (give --gpu-flops): times are the bandwidth bound only")
        serve = serving(facts, req, hw) if not (hw.unified or hw.cpu) else None  # vLLM's accounting is for CUDA/ROCm
        if fits:
            needed = serve.utilization_needed if serve else 0.0
            util = max(req.gpu_memory_utilization, math.ceil(needed * 100) / 100)
            from lmscope.core.plan.commands import serve_commands

            commands = serve_commands(model_id or "MODEL", facts, req, hw, utilization=min(util, 1.0), is_gguf=is_gguf)
        else:
            split = split_plan(facts, req, hw)
            from lmscope.core.plan.commands import serve_commands

            commands = serve_commands(model_id or "MODEL", facts, req, hw, utilization=req.gpu_memory_utilization,
                                      gpu_layers=split.gpu_layers, is_gguf=True)
    else:
        from lmscope.core.estimate.training import model_state_bytes

        w, g, o = model_state_bytes(params.total, zero_stage=req.zero, num_gpus=req.count,
                                    optimizer=req.optimizer if req.optimizer != "adam8bit" else "adam-8bit")
        training = {
            "trainable_parameters": params.total if req.mode == "training" else _trainable(facts, req),
            "model_states_bytes": mem.weights_bytes + mem.gradients_bytes + mem.optimizer_bytes + mem.adapter_bytes,
            "paper_model_states_bytes": w + g + o if req.mode == "training" else None,
            "paper_convention": "Rajbhandari et al. 2020 (ZeRO): 2 + 2 + K bytes per parameter, K = 12 for mixed-precision Adam",
        }
    return Plan(
        model_id=model_id,
        request=req,
        hardware=hw,
        facts=facts,
        memory=mem,
        fits=fits,
        headroom_bytes=usable - mem.per_gpu_bytes,
        max_seq_len=max_seq,
        max_batch=max_batch,
        roofline=roof,
        serving=serve,
        split=split,
        commands=commands,
        training=training,
        assumptions=tuple(assumptions),
    )


def _trainable(facts: ModelFacts, req: PlanRequest) -> int:
    from lmscope.core.plan.memory import lora_matrices

    return sum(req.lora_rank * (m.d_in + m.d_out) * m.count for m in lora_matrices(facts, req.lora_targets))


def with_request(plan: Plan, **changes: object) -> PlanRequest:
    """The plan's request with some fields changed (for the app's sliders)."""
    return replace(plan.request, **changes)  # type: ignore[arg-type]


def plan_summary(plan: Plan) -> dict[str, object]:
    """What a comparison shows of a plan: the verdict, the per-GPU bytes, the solved limits, decode speed.

    Every value is the plan's own (``lmscope compare --gpu`` and the app's
    Compare screen print these; ``decode_tokens_per_s`` is the pure roofline
    bound, None for training plans or a card of unknown bandwidth).
    """
    roof = plan.roofline
    return {
        "model_id": plan.model_id,
        "fits": plan.fits,
        "per_gpu_bytes": plan.memory.per_gpu_bytes,
        "usable_bytes": plan.hardware.usable_bytes,
        "headroom_bytes": plan.headroom_bytes,
        "max_seq_len": plan.max_seq_len,
        "max_batch": plan.max_batch,
        "decode_tokens_per_s": roof.decode_tokens_per_s if roof and roof.generative else None,
        "bound": roof.bound if roof and roof.generative else None,
        "error": None,
    }

