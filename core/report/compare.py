"""Several reports side by side: the metrics and facts compared, ratios against the first model."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from lmscope.core.errors import UsageError
from lmscope.core.report.build import build_report
from lmscope.core.report.schema import SCHEMA_VERSION, JSONObject, _json_safe, settings_dict
from lmscope.core.results import Settings
from lmscope.core.sources.base import ModelSource

if TYPE_CHECKING:
    from lmscope.core.report.build import Report


# (dotted path in the report dict, label, unit) — unit: params | bytes | flops | tokens
COMPARE_METRICS: tuple[tuple[str, str, str], ...] = (
    ("parameters.total", "parameters", "params"),
    ("parameters.active_per_token", "active per token", "params"),
    ("memory.weights_bytes_selected", "weights", "bytes"),
    ("memory.kv_cache_bytes_per_token", "KV cache / token", "bytes"),
    ("memory.kv_cache_bytes", "KV cache", "bytes"),
    ("memory.state_bytes", "fixed state", "bytes"),
    ("memory.activation_bytes", "activations", "bytes"),
    ("memory.inference_total_bytes", "inference total", "bytes"),
    ("memory.training_total_bytes", "training total", "bytes"),
    ("flops.prefill.total", "prefill FLOPs", "flops"),
    ("flops.decode_per_token", "decode FLOPs / token", "flops"),
    ("flops.training_step", "training step FLOPs", "flops"),
    ("capabilities.max_context_length", "context length", "tokens"),
)


COMPARE_FACTS: tuple[tuple[str, str], ...] = (
    ("family", "family"),
    ("architecture_class", "class"),
    ("attention.kind", "attention"),
    ("attention.num_heads", "heads"),
    ("attention.num_kv_heads", "KV heads"),
    ("attention.head_dim", "head dim"),
    ("architecture.num_layers", "layers"),
    ("architecture.hidden_size", "hidden size"),
    ("architecture.vocab_size", "vocab"),
    ("capabilities.moe", "MoE"),
    ("capabilities.hybrid", "hybrid"),
    ("quantization.method", "quantization"),
    ("parameters.method", "count method"),
)


def lookup(data: object, path: str) -> object:
    """``data["a"]["b"]`` for ``path == "a.b"``; None when any step is missing."""
    for part in path.split("."):
        if not isinstance(data, dict):
            return None
        data = data.get(part)
    return data


@dataclass(frozen=True)
class CompareReport:
    """Several models under one :class:`Settings`; ratios are against the first."""

    reports: tuple[Report, ...]
    settings: Settings
    notes: tuple[str, ...] = field(default=())
    # with a GPU (`lmscope compare --gpu`): the card (Accelerator.to_dict() + count) and one
    # core.plan.plan_summary per model (``error`` set, the rest None, when no plan could be made)
    hardware: dict[str, object] | None = None
    plans: tuple[dict[str, object], ...] = ()

    def rows(self) -> list[dict[str, object]]:
        """One row per metric: label, unit, values, ratios vs the first model (None when undefined)."""
        dicts = [r.to_dict() for r in self.reports]
        rows: list[dict[str, object]] = []
        for path, label, unit in COMPARE_METRICS:
            values = [lookup(d, path) for d in dicts]
            base = values[0]
            ratios = [
                (v / base) if isinstance(v, (int, float)) and isinstance(base, (int, float)) and base else None
                for v in values
            ]
            rows.append({"metric": path, "label": label, "unit": unit, "values": values, "ratios": ratios})
        return rows

    def facts(self) -> list[JSONObject]:
        """Non-numeric facts side by side, with which models differ from the first."""
        dicts = [r.to_dict() for r in self.reports]
        out: list[JSONObject] = []
        for path, label in COMPARE_FACTS:
            values = [lookup(d, path) for d in dicts]
            out.append({"fact": path, "label": label, "values": values, "differs": [v != values[0] for v in values]})
        return out

    def _repr_markdown_(self) -> str:
        """Jupyter shows the side-by-side table (the Markdown export)."""
        from lmscope.core.export import compare_to_markdown

        return compare_to_markdown(self)

    def to_dict(self) -> dict[str, object]:
        """JSON for ``lmscope compare --format json``: the settings, each report, and the comparison rows."""
        return _json_safe(
            {
                "schema_version": SCHEMA_VERSION,
                "settings": settings_dict(self.settings),
                "model_ids": [r.model_id for r in self.reports],
                "comparison": self.rows(),
                "facts": self.facts(),
                "models": [r.to_dict() for r in self.reports],
                "notes": list(self.notes),
                **({"hardware": self.hardware, "plans": list(self.plans)} if self.hardware is not None else {}),
            }
        )  # type: ignore[return-value]


def build_compare(sources: list[ModelSource], settings: Settings, *, exact: bool = True, seq_len_given: bool = True) -> CompareReport:
    """Reports for several sources under the same settings.

    ``seq_len_given=False``: the shortest of the models' :func:`default_seq_len`
    (one length for all, so every row compares like with like).
    """
    if len(sources) < 2:
        raise UsageError("compare needs at least two models")
    reports = tuple(build_report(s, settings, exact=exact, seq_len_given=seq_len_given) for s in sources)
    lengths = {r.settings.seq_len for r in reports}
    if len(lengths) > 1 or (lengths and settings.seq_len not in lengths):
        settings = replace(settings, seq_len=min(lengths))
        if len(lengths) > 1:
            reports = tuple(build_report(s, settings, exact=exact) for s in sources)
    return CompareReport(reports=reports, settings=settings)


def with_plans(compare: CompareReport, request: object, accelerator: object) -> CompareReport:
    """``compare`` with each model planned on ``accelerator`` × ``request.count`` (core.plan, one memory model).

    ``request`` is a :class:`lmscope.core.plan.PlanRequest` (the settings' seq_len
    and batch are the comparison's). A model the planner refuses (no
    architecture, a TP size that does not divide its heads) gets its one-line
    reason in ``error``.
    """
    from lmscope.core.errors import LmscopeError
    from lmscope.core.plan import make_plan, plan_summary

    req = replace(request, seq_len=compare.settings.seq_len, batch=compare.settings.batch)  # type: ignore[type-var]
    plans: list[dict[str, object]] = []
    for report in compare.reports:
        empty: dict[str, object] = {"model_id": report.model_id, "fits": None, "per_gpu_bytes": None, "usable_bytes": None,
                 "headroom_bytes": None, "max_seq_len": None, "max_batch": None, "decode_tokens_per_s": None,
                 "bound": None}
        if report.architecture is None or report.estimate is None:
            plans.append({**empty, "error": "no architecture to plan for"})
            continue
        try:
            plan = make_plan(report.architecture, report.estimate.parameters, req, accelerator,  # type: ignore[arg-type]
                             model_id=report.model_id, is_gguf=report.source.kind == "gguf")
        except LmscopeError as err:
            plans.append({**empty, "error": str(err)})
            continue
        plans.append(plan_summary(plan))
    hardware = {**accelerator.to_dict(), "count": req.count}  # type: ignore[attr-defined]
    return replace(compare, hardware=hardware, plans=tuple(plans))

