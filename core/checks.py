"""The checks every engine makes of a scenario's options, in one place (one-line ``UsageError``s).

Why shared: ``estimate`` (its :class:`~lmscope.core.results.Settings`) and the
planner (its ``PlanRequest``) take the same sizes, dtypes, modes, ZeRO stages,
optimizers and recomputation kinds; one rule and one message each means a
bad ``--mode`` reads the same in ``report`` and ``plan``.
"""

from __future__ import annotations

from collections.abc import Collection

from lmscope.core.errors import UsageError
from lmscope.core.results import DTYPES

MAX_SIZE = 1 << 40
MODES = ("inference", "training", "lora", "qlora")
LORA_TARGETS = ("all", "qv")
ZERO_STAGES = (0, 1, 2, 3)


def check_whole_numbers(options: object, names: tuple[str, ...]) -> None:
    """Each named attribute is a whole number in 1 … 2⁴⁰."""
    for name in names:
        value = getattr(options, name)
        if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= MAX_SIZE:
            raise UsageError(f"{name.replace('_', '-')} must be a whole number between 1 and 2^40, not {value!r}")


def check_scenario(*, dtype: str, kv_dtype: str | None, mode: str, zero_stage: object, optimizer: str,
                   optimizers: Collection[str], recompute: str, recompute_kinds: Collection[str],
                   lora_targets: str) -> None:
    """The named choices are ones the engines know (``optimizers``/``recompute_kinds``: the engine's tables)."""
    if dtype != "auto" and dtype not in DTYPES:
        raise UsageError(f"unknown dtype {dtype!r}; choose auto or one of {', '.join(DTYPES)}")
    if kv_dtype is not None and kv_dtype not in DTYPES:
        raise UsageError(f"unknown KV dtype {kv_dtype!r}; choose one of {', '.join(DTYPES)}")
    if mode not in MODES:
        raise UsageError(f"unknown mode {mode!r}; choose inference, training, lora or qlora")
    if lora_targets not in LORA_TARGETS:
        raise UsageError(f"unknown LoRA targets {lora_targets!r}; choose all or qv")
    if recompute not in recompute_kinds:
        raise UsageError(f"unknown recomputation {recompute!r}; choose none, selective or full")
    if zero_stage not in ZERO_STAGES:
        raise UsageError(f"ZeRO stage must be 0, 1, 2 or 3, not {zero_stage!r}")
    if optimizer not in optimizers:
        raise UsageError(f"unknown optimizer {optimizer!r}; choose one of {', '.join(optimizers)}")
