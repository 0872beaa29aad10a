"""What a plan is asked: the scenario (model settings) and the deployment (GPUs, parallelism).

Kept apart from :class:`lmscope.core.results.Settings` because a plan has
knobs an estimate has not (tensor/pipeline/expert parallelism, LoRA targets,
an efficiency factor), while reusing its names where they overlap.
"""

from __future__ import annotations

from dataclasses import dataclass

from lmscope.core.checks import LORA_TARGETS, MAX_SIZE, MODES, check_scenario, check_whole_numbers  # noqa: F401 - re-exported
from lmscope.core.errors import UsageError

OPTIMIZERS = ("adamw", "adam8bit", "sgd", "adafactor")
RECOMPUTE = ("none", "selective", "full")


@dataclass(frozen=True)
class PlanRequest:
    """A deployment question. ``count`` GPUs of one kind; ``tp × pp`` must not exceed it.

    ``count`` is also the data-parallel width of ZeRO in training modes.
    ``efficiency`` (0 < e ≤ 1) scales the roofline's peak figures when given
    (shown beside the pure bound, never hidden in it).
    ``gpu_memory_utilization``: vLLM's fraction of total memory for the
    serving view (default 0.9, vLLM's default).
    """

    seq_len: int = 4096
    batch: int = 1
    dtype: str = "auto"
    kv_dtype: str | None = None
    mode: str = "inference"
    count: int = 1
    tp: int | None = None  # None: count // pp for inference, 1 for training
    pp: int = 1
    ep: int = 1
    zero: int = 0
    optimizer: str = "adamw"
    recompute: str = "none"
    lora_rank: int = 16
    lora_targets: str = "all"
    flash: bool = True
    efficiency: float | None = None
    gpu_memory_utilization: float = 0.9

    @property
    def tensor_parallel(self) -> int:
        if self.tp is not None:
            return self.tp
        return max(1, self.count // self.pp) if self.mode == "inference" else 1

    @property
    def training(self) -> bool:
        return self.mode != "inference"


def validate_request(req: PlanRequest) -> None:
    """Raise :class:`UsageError` (one line) for a request no plan can be made for."""
    check_whole_numbers(req, ("seq_len", "batch", "count", "pp", "ep", "lora_rank"))
    if req.tp is not None and (not isinstance(req.tp, int) or not 1 <= req.tp <= MAX_SIZE):
        raise UsageError(f"tp must be a whole number of at least 1, not {req.tp!r}")
    check_scenario(dtype=req.dtype, kv_dtype=req.kv_dtype, mode=req.mode, zero_stage=req.zero, optimizer=req.optimizer,
                   optimizers=OPTIMIZERS, recompute=req.recompute, recompute_kinds=RECOMPUTE, lora_targets=req.lora_targets)
    if req.efficiency is not None and not 0 < req.efficiency <= 1:
        raise UsageError(f"efficiency must be in (0, 1], not {req.efficiency!r}")
    if not 0 < req.gpu_memory_utilization <= 1:
        raise UsageError(f"gpu-memory-utilization must be in (0, 1], not {req.gpu_memory_utilization!r}")
    tp = req.tensor_parallel
    if req.training and (tp > 1 or req.pp > 1 or req.ep > 1):
        raise UsageError("training plans use data parallelism with ZeRO over --count GPUs; --tp/--pp/--ep apply to inference")
    if tp * req.pp > req.count:
        raise UsageError(f"--tp {tp} x --pp {req.pp} needs {tp * req.pp} GPUs but --count is {req.count}")
    if req.ep > req.count:
        raise UsageError(f"--ep {req.ep} is more than --count {req.count} GPUs")


def parallel_sizes(num_heads: int, num_layers: int, num_experts: int, count: int, *, tp: int | None = None,
                   pp: int = 1) -> tuple[list[int], list[int], list[int]]:
    """(TP, PP, EP) sizes a plan on ``count`` GPUs accepts, for the app's pickers.

    TP divides the attention heads (an engine shards whole heads) and, with
    ``pp`` stages, fits ``tp × pp <= count``; PP is at most the layers and
    ``count // tp`` (``tp`` None: TP 1 is the floor); EP divides the routed
    experts ([1] for a dense model). Every size listed passes
    :func:`validate_request` and ``make_plan``'s head check.
    """
    heads = max(1, num_heads)
    tps = [t for t in range(1, max(1, count // max(1, pp)) + 1) if heads % t == 0]
    pps = [p for p in range(1, max(1, count // max(1, tp or 1)) + 1) if p <= max(1, num_layers)]
    eps = [e for e in range(1, count + 1) if num_experts and num_experts % e == 0] or [1]
    return tps, pps, eps
