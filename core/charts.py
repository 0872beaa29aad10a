"""The series behind every chart, computed once and drawn by two renderers.

Why a module of its own: the numbers in a picture must be the numbers in the
tables. Each function here turns core results (an :class:`Estimate`, a
:class:`ParameterBreakdown`, weights-engine records) into a :class:`Chart` —
plain floats, labels and units, nothing drawn — and the renderers only draw
it: :mod:`lmscope.core.plot_text` with plotext (the TUI's terminal plots and
the text/Markdown views), :mod:`lmscope.core.plots` with matplotlib (PNG and
SVG files). Neither renderer computes anything.

Units: memory in the run's byte convention (GiB = 2^30 by default, as the
tables; GB = 10^9 on request, :func:`lmscope.core.units.set_byte_units`), with
each GPU line at the memory its planner profile holds (an "80 GB" H100 holds
80 GiB of HBM: the line sits at 80 GiB, 85.9 GB), FLOPs in TFLOP/GFLOP,
parameters in millions/billions; the scale of each chart is picked here
(:func:`scale_for`) and written into its axis label.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from lmscope.core.units import byte_unit, fixed, tokens, unit_for

# Charts kinds the renderers know:
#   stacked  - stacked areas over x (memory vs sequence length)
#   lines    - one line per series
#   hbar     - horizontal bars, one series, labels on y (parameters by component)
#   hbars    - one horizontal-bar panel per series, side by side (prefill / decode FLOPs)
#   bar      - vertical bars over categorical x (cluster sizes)
#   hist     - a histogram given as bin edges (xs, len n+1) and counts (ys, len n)
KINDS = ("stacked", "lines", "hbar", "hbars", "bar", "hist")

# GPUs drawn as named horizontal lines on memory charts, one common card per size class:
# (short name, planner profile in core/data/gpus.json, whose memory the line sits at).
GPU_LINE_CARDS: tuple[tuple[str, str], ...] = (
    ("RTX 4090", "rtx4090"),
    ("A100", "a100-40gb"),
    ("H100", "h100"),
    ("H200", "h200"),
    ("B200", "b200"),
)


def gpu_lines() -> tuple[tuple[str, int], ...]:
    """(short name, memory in bytes) of every GPU line, from the planner's profiles.

    Why from the profiles: the chart's lines and the Plan screen's verdicts must
    mean the same card (one table of capacities, never a second list here).
    """
    from lmscope.core.hardware import get_accelerator

    return tuple((short, get_accelerator(name).memory_bytes) for short, name in GPU_LINE_CARDS)


def _gpu_hlines(top: float, div: float) -> tuple[tuple[float, str], ...]:
    """GPU lines (in the axis unit ``div``) up to a little above ``top``; the axis always reaches the smallest card."""
    lines = gpu_lines()
    floor = min(nbytes for _, nbytes in lines) / div
    return tuple(
        (nbytes / div, f"{short} · {fixed(nbytes, 'GiB', 0)}")
        for short, nbytes in lines
        if nbytes / div <= max(top, floor) * 1.15
    )


def _memory_axis() -> tuple[int, str]:
    """(divisor, y label) of a memory axis in the run's byte convention."""
    div, unit = byte_unit()
    return div, f"memory ({unit}, {'10⁹' if unit == 'GB' else '2³⁰'} bytes)"


@dataclass(frozen=True)
class Series:
    """One named sequence of values. ``labels`` names categorical x positions (bars)."""

    name: str
    xs: tuple[float, ...]
    ys: tuple[float, ...]
    labels: tuple[str, ...] = ()


@dataclass(frozen=True)
class Chart:
    """Everything a renderer needs, already in display units.

    ``hlines`` / ``vlines``: (value, label) reference lines (GPU sizes, the
    model's context, the best k). ``xticks``: (x, label) when the x axis is
    not plain numbers (token counts as "4k"). ``x_log`` / ``y_log``: log axes
    (base 2 for x token counts, base 10 otherwise). ``note``: one line printed
    under the chart (what is counted, the source of the numbers).
    """

    name: str  # file stem: memory, parameters, flops, spectra, ...
    title: str
    kind: str
    series: tuple[Series, ...]
    x_label: str = ""
    y_label: str = ""
    x_log: bool = False
    y_log: bool = False
    hlines: tuple[tuple[float, str], ...] = ()
    vlines: tuple[tuple[float, str], ...] = ()
    xticks: tuple[tuple[float, str], ...] = ()
    note: str = ""

    @property
    def empty(self) -> bool:
        return not any(s.ys for s in self.series)


# --------------------------------------------------------------------------- units


def scale_for(values: Sequence[float], unit: str) -> tuple[float, str]:
    """(divisor, unit label) that puts the largest of ``values`` in a readable range.

    ``unit``: "params" (K/M/B/T), "flops" (KFLOP … EFLOP, decimal), "bytes" (one fixed unit: GiB, or GB
    in the decimal convention). Otherwise the unit is the one :func:`lmscope.core.units.human` would write
    the largest value in.
    """
    if unit == "bytes":
        div, name = byte_unit()
        return float(div), name
    top = max((abs(v) for v in values), default=0.0)
    return unit_for(top, "count" if unit == "params" else unit)


def token_label(n: int) -> str:
    """A token count as "4k", "128k", "1M" (k = 1024, as context lengths are quoted): :func:`lmscope.core.units.tokens`."""
    return tokens(n)


def component_label(name: str) -> str:
    """``shared_experts`` -> ``shared experts`` (the names of ``by_component`` as words)."""
    return name.replace("_", " ")


# --------------------------------------------------------------------------- config-side charts


def seq_lens_for(context: int | None, current: int | None = None) -> tuple[int, ...]:
    """Powers of two from 128 to the model's context (at least 32k, at most 16M), plus ``current``."""
    top = min(max(context or 0, 1 << 15, current or 0), 1 << 24)
    out = []
    n = 128
    while n <= top:
        out.append(n)
        n *= 2
    extra = {v for v in (context, current) if v and 128 <= v <= 1 << 24}
    return tuple(sorted(set(out) | extra))


@dataclass(frozen=True)
class MemoryPoint:
    """Memory at one sequence length: the stacked parts (bytes) and their total (the memory table's total)."""

    seq_len: int
    parts: tuple[tuple[str, int], ...]
    total: int


def memory_points(arch: Any, settings: Any, params: Any, seq_lens: Sequence[int]) -> tuple[MemoryPoint, ...]:
    """:func:`lmscope.core.estimate.estimate` at each sequence length, other settings unchanged.

    Inference: weights, KV cache, activations, state (total = ``inference_total_bytes``);
    training: the training breakdown (total = ``training_total_bytes``); LoRA/QLoRA:
    ``lora_memory_bytes`` / ``qlora_memory_bytes`` as one part. The TUI's
    terminal chart plots the totals, the file chart stacks the parts.
    """
    from lmscope.core.estimate import estimate

    training = settings.mode == "training"
    out = []
    for n in seq_lens:
        est = estimate(arch, replace(settings, seq_len=n), params)
        mem = est.memory
        if training:
            parts = tuple(mem.training_breakdown.items())
            total = mem.training_total_bytes
        elif settings.mode in ("lora", "qlora"):  # the estimator gives LoRA/QLoRA as one figure
            total = est.lora_memory_bytes if settings.mode == "lora" else est.qlora_memory_bytes
            parts = ((f"{'LoRA' if settings.mode == 'lora' else 'QLoRA'} fine-tune", total),)
        else:
            parts = (
                ("weights", mem.weights_bytes_selected),
                ("KV cache", mem.kv_cache_bytes),
                ("activations", mem.activation_bytes),
                ("state (SSM/linear)", mem.state_bytes),
            )
            total = mem.inference_total_bytes
        out.append(MemoryPoint(n, parts, total))
    return tuple(out)


def memory_vs_seq_len(
    arch: Any,
    settings: Any,
    params: Any = None,
    seq_lens: Sequence[int] | None = None,
) -> Chart:
    """Inference memory (weights, KV cache, activations, state; stacked) against sequence length.

    Every point is :func:`memory_points` (the estimator at that sequence
    length), so the stack at the current setting equals the memory table's
    rows. In training mode the stack is the training breakdown (weights,
    gradients, optimizer, activations).
    """
    lens = tuple(seq_lens) if seq_lens else seq_lens_for(arch.max_position_embeddings, settings.seq_len)
    training = settings.mode == "training"
    div, y_label = _memory_axis()
    stacks: dict[str, list[float]] = {}
    for point in memory_points(arch, settings, params, lens):
        for key, value in point.parts:
            stacks.setdefault(key, []).append(value / div)
    xs = tuple(float(n) for n in lens)
    series = tuple(Series(name, xs, tuple(values)) for name, values in stacks.items() if any(values))
    top = max((sum(col) for col in zip(*(s.ys for s in series))), default=0.0)
    hlines = _gpu_hlines(top, div)
    vlines: list[tuple[float, str]] = []
    if arch.max_position_embeddings and arch.max_position_embeddings in lens:
        vlines.append((float(arch.max_position_embeddings), f"context {token_label(arch.max_position_embeddings)}"))
    ticks = tuple((float(n), token_label(n)) for n in lens if n & (n - 1) == 0)
    mode = "training" if training else "inference"
    return Chart(
        name="memory",
        title=f"{mode.capitalize()} memory vs sequence length (batch {settings.batch})",
        kind="stacked",
        series=series,
        x_label="sequence length (tokens)",
        y_label=y_label,
        x_log=True,
        hlines=hlines,
        vlines=tuple(vlines),
        xticks=ticks,
        note="lmscope estimate at every point; GPU lines at each card's memory (the planner's profiles)",
    )


def parameters_by_component(params: Any) -> Chart:
    """Parameters per component (``ParameterBreakdown.by_component``), largest first."""
    items = sorted(params.by_component.items(), key=lambda kv: -kv[1])
    div, unit = scale_for([v for _, v in items], "params")
    labels = tuple(component_label(k) for k, _ in items)
    series = Series("parameters", tuple(float(i) for i in range(len(items))), tuple(v / div for _, v in items), labels)
    total = fixed(params.total, unit, divisor=div) if unit else f"{params.total:,}"
    return Chart(
        name="parameters",
        title=f"Parameters by component (total {total}, {params.method})",
        kind="hbar",
        series=(series,),
        x_label=f"parameters ({unit or 'count'})",
    )


def flops_by_component(est: Any) -> Chart:
    """FLOPs per component: prefill (batch × seq_len tokens) and one decode step, side by side."""
    s = est.settings
    panels = []
    for title, by in (
        (f"prefill · {s.batch} × {token_label(s.seq_len)} tokens", est.flops.by_component),
        (f"decode · 1 token, {token_label(s.seq_len)} cached", est.flops.decode_by_component),
    ):
        items = sorted(((k, v) for k, v in by.items() if v), key=lambda kv: -kv[1])
        div, unit = scale_for([v for _, v in items], "flops")
        labels = tuple(component_label(k) for k, _ in items)
        panels.append(Series(f"{title} ({unit})", tuple(float(i) for i in range(len(items))), tuple(v / div for _, v in items), labels))
    return Chart(
        name="flops",
        title="FLOPs by component (2 per multiply-add, matrix products only)",
        kind="hbars",
        series=tuple(panels),
        note="attention scores: QKᵀ and AV over the full square (no causal skip)",
    )


# --------------------------------------------------------------------------- weights charts


def _kind_order(kind: str) -> int:
    from lmscope.core.weights.classify import KINDS as WEIGHT_KINDS

    order = list(WEIGHT_KINDS)
    return order.index(kind) if kind in order else len(order)


def spectrum_points(values: Sequence[float], normalise: bool = False) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """(x, log10 σᵢ) of one matrix's singular values (descending): x = i (1-based), or i / min(m, n).

    Zero singular values (log undefined) are left out; the x of the others is kept.
    """
    k = len(values)
    pts = [((i + 1) / k if normalise else float(i + 1), math.log10(v)) for i, v in enumerate(values) if v > 0]
    return tuple(p[0] for p in pts), tuple(p[1] for p in pts)


def tensor_spectrum(name: str, spectrum: Any) -> Chart:
    """One matrix's spectrum, log10 σᵢ against i, with its 90 % / 99 % energy ranks marked.

    What the app's spectrum panel draws for the highlighted tensor (plotext) and what its report
    folder writes as ``spectrum_selected`` (PNG/SVG): one series, two renderers.
    """
    xs, ys = spectrum_points(spectrum.singular_values)
    k = len(spectrum.singular_values)
    vlines = tuple((float(r), f"{label} = {r}") for r, label in ((spectrum.rank_90, "rank90"), (spectrum.rank_99, "rank99"))
                   if 1 <= r <= k)
    return Chart(
        name="spectrum_selected",
        title=f"Singular values of {name}",
        kind="lines",
        series=(Series(name, xs, ys),),
        x_label="i  (| rank90  | rank99)",
        y_label="log₁₀ σᵢ",
        vlines=vlines,
    )


def spectra_by_kind(results: Sequence[Any], max_lines: int = 8) -> Chart:
    """log10 σᵢ against i / min(m, n) for the first matrix of each tensor kind (stored σ needed)."""
    chosen: dict[str, tuple[Any, Any]] = {}
    for r in results:
        if r.kind in chosen or len(chosen) >= max_lines:
            continue
        sp = next((s for s in r.spectra if s.singular_values), None)
        if sp is not None:
            chosen[r.kind] = (r, sp)
    series = []
    for kind in sorted(chosen, key=_kind_order):
        r, sp = chosen[kind]
        xs, ys = spectrum_points(sp.singular_values, normalise=True)
        name = r.name if sp.expert is None else f"{r.name}[{sp.expert}]"
        series.append(Series(f"{kind}: {name}", xs, ys))
    return Chart(
        name="spectra",
        title="Singular-value spectra (first matrix of each kind)",
        kind="lines",
        series=tuple(series),
        x_label="i / min(m, n)",
        y_label="log₁₀ σᵢ",
    )


def _by_layer(results: Sequence[Any], value: str) -> dict[str, dict[int, list[float]]]:
    series: dict[str, dict[int, list[float]]] = {}
    for r in results:
        if r.layer is None:
            continue
        for s in r.spectra:
            v = getattr(s, value)
            if v is not None and math.isfinite(v):
                series.setdefault(r.kind, {}).setdefault(r.layer, []).append(float(v))
    return series


def metric_by_layer(results: Sequence[Any], metric: str) -> Chart:
    """Power-law α (``metric="alpha"``) or stable rank (``"stable_rank"``) by layer, one line per kind.

    Stacked expert tensors are averaged over experts (one point per layer and kind).
    """
    data = _by_layer(results, metric)
    series = []
    for kind in sorted(data, key=_kind_order):
        layers = sorted(data[kind])
        series.append(Series(kind, tuple(float(i) for i in layers), tuple(sum(data[kind][i]) / len(data[kind][i]) for i in layers)))
    if metric == "alpha":
        return Chart(name="alpha_by_layer", title="Power-law exponent α by layer", kind="lines", series=tuple(series), x_label="layer", y_label="α (CSN fit of eigenvalues of WᵀW)")
    return Chart(name="stable_rank_by_layer", title="Stable rank by layer", kind="lines", series=tuple(series), x_label="layer", y_label="stable rank (‖W‖F² / σmax²)")


def cluster_sizes(emb: Any) -> Chart:
    """Rows per k-means cluster (the best k) of one embedding matrix's sample."""
    sizes = tuple(float(v) for v in emb.cluster_sizes)
    labels = tuple(str(i) for i in range(len(sizes)))
    return Chart(
        name="cluster_sizes",
        title=f"Embedding clusters (k = {emb.best_k}, {emb.sample_rows:,} of {emb.rows:,} rows)",
        kind="bar",
        series=(Series("rows", tuple(float(i) for i in range(len(sizes))), sizes, labels),),
        x_label="cluster",
        y_label="rows in the sample",
    )


def cluster_scores(emb: Any) -> Chart:
    """Calinski–Harabasz score against k, the chosen k marked."""
    xs = tuple(float(k) for k, _ in emb.scores)
    ys = tuple(float(v) for _, v in emb.scores)
    return Chart(
        name="cluster_scores",
        title="Cluster score vs k (Calinski–Harabasz, higher is better)",
        kind="lines",
        series=(Series("Calinski–Harabasz", xs, ys),),
        x_label="k (clusters)",
        y_label="score",
        vlines=((float(emb.best_k), f"best k = {emb.best_k}"),) if emb.best_k else (),
    )


def row_norm_histogram(emb: Any) -> Chart:
    """Histogram of the L2 norm of every embedding row (all rows, not the sample)."""
    edges = tuple(float(e) for e in getattr(emb, "norm_bin_edges", ()))
    counts = tuple(float(c) for c in getattr(emb, "norm_counts", ()))
    return Chart(
        name="row_norms",
        title=f"Embedding row norms ({emb.rows:,} rows)",
        kind="hist",
        series=(Series("rows", edges, counts),),
        x_label="‖row‖₂",
        y_label="rows",
    )


def report_charts(arch: Any, est: Any) -> tuple[Chart, ...]:
    """The config-side charts of one model: memory vs sequence length, parameters, FLOPs."""
    return (
        memory_vs_seq_len(arch, est.settings, est.parameters),
        parameters_by_component(est.parameters),
        flops_by_component(est),
    )


def weights_charts(results: Sequence[Any], summary: Any) -> tuple[Chart, ...]:
    """The weights-analysis charts that have data (spectra need stored singular values)."""
    charts = [spectra_by_kind(results), metric_by_layer(results, "alpha"), metric_by_layer(results, "stable_rank")]
    embeddings = getattr(summary, "embeddings", ()) if summary is not None else ()
    for i, emb in enumerate(embeddings):
        suffix = "" if i == 0 else f"_{i + 1}"
        for chart in (cluster_sizes(emb), cluster_scores(emb), row_norm_histogram(emb)):
            charts.append(replace(chart, name=chart.name + suffix, title=chart.title + ("" if not suffix else f" — {emb.name}")))
    return tuple(c for c in charts if not c.empty)


def compare_memory(reports: Sequence[Any], settings: Any) -> Chart:
    """Total inference memory against sequence length, one line per model."""
    from lmscope.core.estimate import estimate

    contexts = [r.architecture.max_position_embeddings for r in reports if r.architecture is not None]
    lens = seq_lens_for(max((c or 0 for c in contexts), default=0) or None, settings.seq_len)
    div, y_label = _memory_axis()
    series = []
    for r in reports:
        if r.architecture is None or r.estimate is None:
            continue
        ys = tuple(estimate(r.architecture, replace(settings, seq_len=n), r.estimate.parameters).memory.inference_total_bytes / div for n in lens)
        series.append(Series(r.model_id, tuple(float(n) for n in lens), ys))
    top = max((max(s.ys) for s in series), default=0.0)
    return Chart(
        name="memory",
        title=f"Inference memory vs sequence length (batch {settings.batch})",
        kind="lines",
        series=tuple(series),
        x_label="sequence length (tokens)",
        y_label=y_label,
        x_log=True,
        hlines=_gpu_hlines(top, div),
        xticks=tuple((float(n), token_label(n)) for n in lens if n & (n - 1) == 0),
        note="weights + KV cache + activations + state, lmscope estimate at every point",
    )


def compare_parameters(reports: Sequence[Any]) -> Chart:
    """Total and active-per-token parameters of each model (two bar panels)."""
    rows = [(r.model_id, r.parameters) for r in reports if r.parameters is not None]
    panels = []
    for field_name, title in (("total", "total parameters"), ("active_per_token", "active per token")):
        values = [getattr(p, field_name) for _, p in rows]
        div, unit = scale_for(values, "params")
        panels.append(Series(f"{title} ({unit or 'count'})", tuple(float(i) for i in range(len(rows))), tuple(v / div for v in values), tuple(m for m, _ in rows)))
    return Chart(name="parameters", title="Parameters", kind="hbars", series=tuple(panels))


__all__ = [
    "GPU_LINE_CARDS",
    "gpu_lines",
    "KINDS",
    "Chart",
    "MemoryPoint",
    "Series",
    "cluster_scores",
    "cluster_sizes",
    "compare_memory",
    "compare_parameters",
    "flops_by_component",
    "memory_points",
    "memory_vs_seq_len",
    "metric_by_layer",
    "parameters_by_component",
    "report_charts",
    "row_norm_histogram",
    "scale_for",
    "seq_lens_for",
    "spectra_by_kind",
    "token_label",
    "weights_charts",
]
