"""One call for everything the memory and FLOPs views show: :func:`estimate`.

The estimators live in small modules with one job each (``kv``, ``memory``,
``training``, ``lora``, ``flops``, ``shapes``); this module validates the
settings, resolves "auto" dtypes once, calls each estimator and adds what
only the combination knows — the arithmetic intensity:

* prefill: FLOPs of the forward pass / bytes it must move at least once —
  the weights at the selected dtype, the KV cache it writes and its
  activation peak;
* decode: FLOPs of one token (batch 1, ``seq_len`` cached) / bytes that step
  reads — the weights one token touches (all of a dense model; the active
  share of an MoE's, ``active_per_token / total``), the KV cache of one
  sequence at ``seq_len`` (windows capped) and its recurrent state.

Pure and fast: integer arithmetic over the layer list, well under a
millisecond per call (``benchmarks/bench_estimate.py``).
"""

from __future__ import annotations

from dataclasses import replace

from lmscope.core.architecture import Architecture, Mixer
from lmscope.core.checks import check_scenario, check_whole_numbers
from lmscope.core.estimate.kv import kv_estimate
from lmscope.core.estimate.lora import lora_estimate
from lmscope.core.estimate.memory import (
    compute_dtype,
    inference_activation_bytes,
    kv_dtype_for,
    resolve_dtype,
    weights_bytes,
)
from lmscope.core.estimate.training import OPTIMIZER_STATE_BYTES, RECOMPUTE, training_memory
from lmscope.core.results import Estimate, MemoryEstimate, ParameterBreakdown, Settings

__all__ = ["estimate", "validate_settings"]


def validate_settings(settings: Settings) -> None:
    """Raise :class:`UsageError` (one line) for settings no estimate can be made at."""
    check_whole_numbers(settings, ("seq_len", "batch", "num_gpus", "lora_rank"))
    check_scenario(dtype=settings.dtype, kv_dtype=settings.kv_dtype, mode=settings.mode, zero_stage=settings.zero_stage,
                   optimizer=settings.optimizer, optimizers=tuple(OPTIMIZER_STATE_BYTES), recompute=settings.recompute,
                   recompute_kinds=RECOMPUTE, lora_targets=settings.lora_targets)


def estimate(arch: Architecture, settings: Settings, params: ParameterBreakdown | None = None) -> Estimate:
    """Parameters, memory (weights, KV, state, activations, training, LoRA) and FLOPs of one model.

    ``params`` defaults to :func:`lmscope.core.params.count_parameters` (pass
    the exact count when you have it: every byte figure follows it).
    """
    validate_settings(settings)
    if params is None:
        from lmscope.core.params import count_parameters

        params = count_parameters(arch)
    from lmscope.core.estimate.flops import flops as count_flops

    s, b = settings.seq_len, settings.batch
    w_dtype = resolve_dtype(arch, settings.dtype)
    c_dtype = compute_dtype(arch, settings.dtype)
    kv_dtype = kv_dtype_for(arch, settings.dtype, settings.kv_dtype)

    weights = weights_bytes(arch, params)
    selected = weights.by_dtype["checkpoint" if settings.dtype == "auto" else w_dtype]
    kv = kv_estimate(arch, seq_len=s, batch=b, kv_dtype=kv_dtype, compute_dtype=c_dtype)
    act_flash = inference_activation_bytes(arch, seq_len=s, batch=b, dtype=c_dtype, flash=True)
    act_eager = inference_activation_bytes(arch, seq_len=s, batch=b, dtype=c_dtype, flash=False)
    act = act_flash if settings.flash_attention else act_eager

    train = training_memory(
        arch,
        params.total,
        seq_len=s,
        micro_batch=b,
        zero_stage=settings.zero_stage,
        num_gpus=settings.num_gpus,
        optimizer=settings.optimizer,
        recompute=settings.recompute,
        flash=settings.flash_attention,
        fp32=w_dtype == "fp32",
    )
    lora = lora_estimate(
        arch,
        params.total,
        rank=settings.lora_rank,
        seq_len=s,
        micro_batch=b,
        recompute=settings.recompute,
        flash=settings.flash_attention,
        targets=settings.lora_targets,
    )

    memory = MemoryEstimate(
        weights_bytes=weights.by_dtype,
        weights_bytes_selected=selected,
        kv_cache_bytes_per_token=kv.bytes_per_token,
        kv_cache_bytes=kv.cache_bytes,
        state_bytes=kv.state_bytes,
        activation_bytes=act,
        activation_bytes_no_flash=act_eager,
        inference_total_bytes=selected + kv.cache_bytes + kv.state_bytes + act,
        training_total_bytes=train.total,
        training_breakdown=train.breakdown(),
        kv_per_layer_kind=kv.per_layer_kind,
    )

    fl = count_flops(arch, params, settings)
    prefill_bytes = selected + kv.cache_bytes + kv.state_bytes + act
    active_share = params.active_per_token / params.total if params.total else 1.0
    kv_one = kv.cache_bytes // b  # batch 1 (every sequence holds the same cache)
    state_one = kv.state_bytes // b
    decode_bytes = int(selected * min(1.0, active_share)) + kv_one + state_one
    fl = replace(
        fl,
        prefill_intensity=fl.prefill_total / prefill_bytes if prefill_bytes else 0.0,
        decode_intensity=fl.decode_per_token / decode_bytes if decode_bytes else 0.0,
    )

    notes = [
        f"weights at {w_dtype}" + (" (the checkpoint's storage)" if settings.dtype == "auto" else "")
        + f"; activations in {c_dtype}; KV cache in {kv_dtype}",
        *weights.notes,
        *kv.notes,
        "activations: prefill peak of one layer's live tensors plus the residual stream; "
        "logits for the last position only (serving-engine convention)",
    ]
    scans = {layer.mixer for layer in arch.layers} & {Mixer.MAMBA, Mixer.MAMBA2, Mixer.LINEAR}
    if scans:
        notes.append("FLOPs: the state-space layers count their projections only; the scan / chunked-state products "
                     "(selective scan, Mamba-2 SSD, gated delta rule) depend on the kernel and are left out — "
                     "a lower bound for those layers")
    return Estimate(
        settings=settings,
        parameters=params,
        memory=memory,
        flops=fl,
        lora_trainable_parameters=lora.trainable_parameters,
        lora_memory_bytes=lora.lora_bytes,
        qlora_memory_bytes=lora.qlora_bytes,
        notes=tuple(notes),
        weight_dtype=w_dtype,
        compute_dtype=c_dtype,
        kv_dtype=kv_dtype,
    )
