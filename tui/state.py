"""What the app knows about an opened model, as one frozen value.

A :class:`LoadedModel` pairs the core ``Report`` (built with the analytic
engine, instant) with the exact engine's answer once it arrives. Screens read
``params`` and ``marker`` and never care which engine produced the numbers;
the marker tells the user ("analytic", "exact ✓", "exact ≠ analytic").
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover - typing only
    from lmscope.core.architecture import Architecture
    from lmscope.core.report import Report
    from lmscope.core.results import ParameterBreakdown


@dataclass(frozen=True)
class LoadedModel:
    """One opened model.

    ``exact_state``: "pending" (worker running or about to), "exact" (the
    meta-device count is in ``exact``), "unavailable" (torch/transformers
    missing or class unknown; ``exact_reason`` says why), "off" (disabled by
    the user or ``LMSCOPE_NO_EXACT``).
    """

    spec: str
    report: Report
    exact: ParameterBreakdown | None = None
    exact_state: str = "pending"
    exact_reason: str | None = None

    @property
    def model_id(self) -> str:
        return str(self.report.source.model_id)

    @property
    def architecture(self) -> Architecture | None:
        """None only for a file that carries no architecture (an ONNX graph without a config)."""
        return self.report.architecture

    @property
    def has_architecture(self) -> bool:
        return self.report.architecture is not None and self.report.estimate is not None

    @property
    def analytic(self) -> ParameterBreakdown | None:
        # what the report used before the exact engine: the analytic count, or the stored tensors'
        # when the formulas are only approximate for this type
        return self.report.parameters or self.report.parameters_analytic

    @property
    def params(self) -> ParameterBreakdown | None:
        """The best parameter breakdown known: exact when the exact engine confirmed it."""
        return self.exact if self.exact is not None else self.analytic

    @property
    def context_length(self) -> int | None:
        return self.architecture.max_position_embeddings if self.architecture is not None else None

    @property
    def checkpoint_dtype(self) -> str | None:
        """How the checkpoint stores its weights: the quantization when there is one, else torch_dtype.

        A quantized checkpoint's ``torch_dtype`` names the compute dtype (e.g.
        bfloat16 for an MLX 4-bit model), which would mislabel "auto".
        """
        arch = self.architecture
        if arch is None:
            return None
        quant = arch.quantization
        if quant is not None:
            bits = f" {quant.bits:g}-bit" if quant.bits else ""
            return f"{quant.method}{bits}"
        return arch.torch_dtype

    @property
    def marker(self) -> str:
        """A short word for the header: which engine the parameter numbers come from."""
        if not self.has_architecture:
            return "exact (no architecture)" if self.exact is not None else "no architecture"
        if self.exact is not None:
            analytic = self.analytic
            return "exact ✓" if analytic is None or self.exact.total == analytic.total else "exact (corrected)"
        method = self.analytic.method if self.analytic is not None else "analytic"
        if self.exact_state == "pending":
            return f"{method} · exact…"
        return method

    def with_exact(self, params: ParameterBreakdown | None, reason: str | None = None) -> LoadedModel:
        """This model with the exact engine's result (None: it could not run)."""
        if params is None:
            return replace(self, exact=None, exact_state="unavailable", exact_reason=reason)
        return replace(self, exact=params, exact_state="exact", exact_reason=None)

    def without_exact(self, reason: str) -> LoadedModel:
        return replace(self, exact=None, exact_state="off", exact_reason=reason)


@dataclass(frozen=True)
class Deployment:
    """The hardware the Plan (and Compare) screens answer for; the GPU count is ``Settings.num_gpus``.

    ``gpu``: a built-in profile name ("h100"), ``"local:N"`` for the N-th
    detected GPU that matches no profile (planned as a custom card of its
    memory), or None until local detection has run. ``tp`` None: the plan's
    default (count // pp for inference).
    """

    gpu: str | None = None
    tp: int | None = None
    pp: int = 1
    ep: int = 1
