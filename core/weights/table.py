"""Sorting and filtering weights records: what the app's Weights table shows, decided outside the UI.

The app lists one row per tensor as the run streams in; a 7 B model has ~300
rows and an MoE checkpoint tens of thousands, so "which layers have the
heaviest tails" needs a sort by α and a filter by kind or layer. The rules live
here, as data and pure functions, so the screen only asks for the order of its
rows (no arithmetic in the UI) and tests check them without a terminal.

Metrics of a stacked expert tensor (several spectra) are averaged over its
experts, as in the text report's per-tensor table; a tensor without a spectrum
has no spectral metric and sorts after every tensor that has one, in either
direction.

Filter expressions (``parse_filter``), terms separated by spaces, all must hold:

* ``kind:mlp`` — a module kind or family (``attention``, ``mlp``, ``experts``…;
  see :data:`lmscope.core.weights.classify.KINDS`); ``kind:mlp,norm`` any of them;
* ``layer:3`` or ``layer:2-5`` — block index (inclusive range); ``layer:none``
  for tensors outside the blocks;
* ``alpha>4``, ``stable_rank<=10``, ``std>=0.05`` — any metric of
  :data:`METRICS` with ``< <= > >= =``;
* any other word — a substring of the tensor's name (case-insensitive).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from lmscope.core.errors import UsageError
from lmscope.core.weights import classify
from lmscope.core.weights.records import TensorStats


def _mean_spectral(attr: str) -> Callable[[TensorStats], float | None]:
    def value(t: TensorStats) -> float | None:
        vals = [getattr(s, attr) for s in t.spectra]
        vals = [float(v) for v in vals if v is not None]
        return sum(vals) / len(vals) if vals else None

    return value


def _element(attr: str) -> Callable[[TensorStats], float | None]:
    return lambda t: float(getattr(t, attr))


def _rank_ratio(attr: str) -> Callable[[TensorStats], float | None]:
    def value(t: TensorStats) -> float | None:
        vals = [getattr(s, attr) / s.design_rank for s in t.spectra if s.design_rank]
        return sum(vals) / len(vals) if vals else None

    return value


@dataclass(frozen=True)
class Metric:
    """A numeric column of the table: ``key`` as typed in filters, ``label`` as shown."""

    key: str
    label: str
    value: Callable[[TensorStats], float | None]


# Every metric the table sorts and filters by, in the order ``s`` cycles through them.
METRICS: tuple[Metric, ...] = (
    Metric("stable_rank", "stable rank", _mean_spectral("stable_rank")),
    Metric("rank_90", "rank90", _mean_spectral("rank_90")),
    Metric("rank90_ratio", "rank90 / design rank", _rank_ratio("rank_90")),
    Metric("alpha", "α", _mean_spectral("alpha")),
    Metric("std", "std", _element("std")),
    Metric("mean", "mean", _element("mean")),
    Metric("mean_abs", "mean |w|", _element("mean_abs")),
    Metric("zero_fraction", "zero %", _element("zero_fraction")),
    Metric("numel", "parameters", _element("numel")),
    Metric("spectral_norm", "‖W‖₂", _mean_spectral("spectral_norm")),
    Metric("condition_number", "condition number", _mean_spectral("condition_number")),
    Metric("numerical_rank", "numerical rank", _mean_spectral("numerical_rank")),
    Metric("rank_ratio", "numerical rank / design rank", _rank_ratio("numerical_rank")),
    Metric("ks_distance", "KS distance of the α fit", _mean_spectral("ks_distance")),
)
METRIC_BY_KEY = {m.key: m for m in METRICS}
# Aliases typed in filters.
_ALIASES = {"α": "alpha", "rank90": "rank_90", "stable": "stable_rank", "zeros": "zero_fraction", "params": "numel",
            "cond": "condition_number", "norm": "spectral_norm", "sigma_max": "spectral_norm"}

# (key, label): what ``s`` cycles through; "arrival" is the order the engine delivered, "report" the report's.
SORTS: tuple[tuple[str, str], ...] = (
    ("arrival", "as analysed"),
    ("report", "layer (report order)"),
    ("kind", "kind"),
    ("name", "name"),
    *((m.key, m.label) for m in METRICS),
)
SORT_LABELS = dict(SORTS)


@dataclass(frozen=True)
class Filter:
    """A parsed filter expression (see the module docstring); the empty filter keeps everything."""

    kinds: tuple[str, ...] = ()
    layers: tuple[tuple[int, int], ...] = ()
    outside_layers: bool = False
    conditions: tuple[tuple[str, str, float], ...] = ()
    words: tuple[str, ...] = ()
    text: str = ""

    @property
    def empty(self) -> bool:
        return not (self.kinds or self.layers or self.outside_layers or self.conditions or self.words)


_CONDITION = re.compile(r"^([A-Za-zα_0-9]+)\s*(<=|>=|<|>|=)\s*(-?[0-9.]+(?:e-?[0-9]+)?%?)$")
_LAYERS = re.compile(r"^(\d+)(?:-(\d+))?$")


def parse_filter(text: str) -> Filter:
    """Parse a filter expression; a term that cannot be understood is a one-line :class:`UsageError`."""
    kinds: list[str] = []
    layers: list[tuple[int, int]] = []
    outside = False
    conditions: list[tuple[str, str, float]] = []
    words: list[str] = []
    for term in text.split():
        low = term.lower()
        if low.startswith("kind:"):
            for k in filter(None, low[5:].split(",")):
                if k not in classify.KINDS and k not in set(classify.KINDS.values()):
                    raise UsageError(f"unknown kind {k!r}: one of {', '.join(sorted(set(classify.KINDS) | set(classify.KINDS.values())))}")
                kinds.append(k)
            continue
        if low.startswith("layer:"):
            spec = low[6:]
            if spec in ("none", "-"):
                outside = True
                continue
            for part in filter(None, spec.split(",")):
                m = _LAYERS.match(part)
                if not m:
                    raise UsageError(f"bad layer filter {part!r}: write layer:3, layer:2-5 or layer:none")
                lo = int(m.group(1))
                hi = int(m.group(2)) if m.group(2) else lo
                layers.append((min(lo, hi), max(lo, hi)))
            continue
        m = _CONDITION.match(term)
        if m:
            key = _ALIASES.get(m.group(1).lower(), m.group(1).lower())
            if key not in METRIC_BY_KEY:
                raise UsageError(f"unknown metric {m.group(1)!r}: one of {', '.join(METRIC_BY_KEY)}")
            raw = m.group(3)
            value = float(raw.rstrip("%")) / (100.0 if raw.endswith("%") else 1.0)
            conditions.append((key, m.group(2), value))
            continue
        if any(op in term for op in "<>="):
            raise UsageError(f"cannot read the condition {term!r}: write e.g. alpha>4 or std<=0.05")
        words.append(low)
    return Filter(tuple(kinds), tuple(layers), outside, tuple(conditions), tuple(words), text.strip())


_OPS: dict[str, Callable[[float, float], bool]] = {
    "<": lambda a, b: a < b, "<=": lambda a, b: a <= b, ">": lambda a, b: a > b, ">=": lambda a, b: a >= b,
    "=": lambda a, b: math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12),
}


def matches(t: TensorStats, f: Filter) -> bool:
    """True when tensor ``t`` passes every term of ``f``."""
    if f.kinds and not classify.kind_matches(t.kind, f.kinds):
        return False
    if f.layers or f.outside_layers:
        inside = t.layer is not None and any(lo <= t.layer <= hi for lo, hi in f.layers)
        if not (inside or (f.outside_layers and t.layer is None)):
            return False
    for key, op, value in f.conditions:
        v = METRIC_BY_KEY[key].value(t)
        if v is None or (isinstance(v, float) and math.isnan(v)) or not _OPS[op](v, value):
            return False
    name = t.name.lower()
    return all(w in name for w in f.words)


def view(results: Sequence[TensorStats], sort: str = "arrival", descending: bool = False,
         where: Filter | None = None) -> list[int]:
    """Indices into ``results`` of the rows to show, filtered by ``where`` and in ``sort`` order.

    Ties keep the arrival order; rows without the sorted metric come last whichever the direction.
    """
    keep = [i for i, t in enumerate(results) if where is None or matches(t, where)]
    if sort == "arrival":
        return keep[::-1] if descending else keep
    if sort == "report":
        from lmscope.core.weights.report import ordered

        rank = {id(t): n for n, t in enumerate(ordered(results))}
        keep.sort(key=lambda i: rank[id(results[i])], reverse=descending)
        return keep
    if sort in ("kind", "name"):
        keep.sort(key=lambda i: (_kind_rank(results[i].kind) if sort == "kind" else 0, getattr(results[i], sort)),
                  reverse=descending)
        return keep
    metric = METRIC_BY_KEY.get(sort)
    if metric is None:
        raise UsageError(f"unknown sort key {sort!r}")
    have = [(metric.value(results[i]), i) for i in keep]
    known = [(v, i) for v, i in have if v is not None and not math.isnan(v)]
    missing = [i for v, i in have if v is None or math.isnan(v)]
    known.sort(key=lambda p: p[0], reverse=descending)  # stable: equal values keep arrival order
    return [i for _, i in known] + missing


def metric_cell(t: TensorStats, key: str) -> str:
    """The value of metric ``key`` for ``t`` as the table shows it ("" when the tensor has none)."""
    v = METRIC_BY_KEY[key].value(t)
    if v is None:
        return ""
    if key == "numel":
        return f"{int(v):,}"
    if key == "zero_fraction":
        return f"{100 * v:.2f}"
    if math.isinf(v) or math.isnan(v):
        return "∞" if v > 0 else str(v)
    return f"{v:.4g}"


def _kind_rank(kind: str) -> int:
    order = list(classify.KINDS)
    return order.index(kind) if kind in order else len(order)


def next_sort(current: str) -> str:
    """The sort key after ``current`` in :data:`SORTS` (wrapping)."""
    keys = [k for k, _ in SORTS]
    return keys[(keys.index(current) + 1) % len(keys)] if current in keys else keys[0]


def kinds_present(results: Sequence[TensorStats]) -> list[str]:
    """The module kinds among ``results``, in :data:`classify.KINDS` order (what ``k`` cycles through)."""
    return sorted({t.kind for t in results}, key=_kind_rank)


def next_kind(current: str | None, results: Sequence[TensorStats]) -> str | None:
    """The kind filter after ``current``: None (all kinds), then each kind present, then None again."""
    kinds = kinds_present(results)
    if not kinds:
        return None
    if current not in kinds:
        return kinds[0]
    i = kinds.index(current)
    return kinds[i + 1] if i + 1 < len(kinds) else None
