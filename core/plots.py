"""Draw a :class:`~lmscope.core.charts.Chart` to PNG and SVG bytes with matplotlib (Agg).

matplotlib is an optional extra (``pip install ".[plots]"`` from a clone): it
is imported here, inside functions, and never by ``import lmscope.core`` or on
the app's start-up path. :func:`plots_available` says whether it is there and
:data:`MISSING_MESSAGE` is the one line to show when it is not.

Pictures are deterministic so tests can compare them and git diffs stay quiet:
the bundled DejaVu Sans font at fixed sizes, a fixed ``svg.hashsalt`` (the ids
of clip paths), no date or software version in the metadata, ``svg.fonttype
= none`` so SVG text stays real, searchable text. Figures are drawn on a
white panel with dark ink, so they read the same in dark and light viewers.
The pyplot state machine is never used (``Figure`` + ``FigureCanvasAgg``), so
a render from a worker thread cannot disturb another.
"""

from __future__ import annotations

import io
import math
from typing import Any

from lmscope.core.charts import Chart

MISSING_MESSAGE = 'PNG pictures and charts need matplotlib: pip install ".[plots]" from a clone of lmscope (or pip install matplotlib)'

# A palette that stays distinct for colour-blind readers (Okabe–Ito) and prints dark on white.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000", "#999999")
GPU_COLOURS = ("#B22222", "#8B6914", "#2E7D32", "#6A1B9A", "#37474F")

WIDTH_IN, HEIGHT_IN, DPI = 9.0, 5.0, 100

RC = {
    "font.family": "DejaVu Sans",
    "font.size": 10.0,
    "axes.titlesize": 12.0,
    "axes.labelsize": 10.0,
    "legend.fontsize": 9.0,
    "xtick.labelsize": 9.0,
    "ytick.labelsize": 9.0,
    "svg.fonttype": "none",
    "svg.hashsalt": "lmscope",
    "svg.image_inline": True,
    "figure.facecolor": "white",
    "axes.facecolor": "white",
    "savefig.facecolor": "white",
    "text.color": "#111111",
    "axes.labelcolor": "#111111",
    "axes.edgecolor": "#333333",
    "xtick.color": "#333333",
    "ytick.color": "#333333",
    "axes.grid": True,
    "grid.color": "#DDDDDD",
    "grid.linewidth": 0.6,
    "path.simplify": False,
}


def plots_available() -> bool:
    """True when matplotlib can be imported (the ``plots`` extra is installed)."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def _figure(width: float = WIDTH_IN, height: float = HEIGHT_IN) -> Any:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=DPI)
    FigureCanvasAgg(fig)
    return fig


def save(fig: Any, fmt: str) -> bytes:
    """The figure as PNG or SVG bytes, without dates or version strings."""
    buf = io.BytesIO()
    metadata = {"Date": None, "Creator": "lmscope"} if fmt == "svg" else {"Software": "lmscope"}
    fig.savefig(buf, format=fmt, dpi=DPI, metadata=metadata, facecolor="white")
    return buf.getvalue()


def render(chart: Chart) -> dict[str, bytes]:
    """``{"png": bytes, "svg": bytes}`` for one chart. Raises ImportError without matplotlib."""
    import matplotlib

    with matplotlib.rc_context(RC):  # type: ignore[arg-type]  # RC's keys are rcParams names
        if chart.kind == "hbars":
            fig = _draw_panels(chart)
        else:
            height = HEIGHT_IN
            if chart.kind == "hbar":
                height = max(3.0, 1.2 + 0.38 * len(chart.series[0].ys))
            fig = _figure(height=height)
            ax = fig.add_subplot(1, 1, 1)
            _DRAW[chart.kind](ax, chart)
            _decorate(ax, chart)
            _finish(fig, chart)
        return {"png": save(fig, "png"), "svg": save(fig, "svg")}


def _finish(fig: Any, chart: Chart) -> None:
    fig.suptitle(chart.title, fontsize=12, fontweight="bold", x=0.01, ha="left")
    if chart.note:
        fig.text(0.01, 0.01, chart.note, fontsize=8, color="#444444", ha="left", va="bottom")
    fig.tight_layout(rect=(0, 0.04 if chart.note else 0, 1, 0.95))


def _decorate(ax: Any, chart: Chart) -> None:
    ax.set_axisbelow(True)
    ax.set_xlabel(chart.x_label)
    ax.set_ylabel(chart.y_label)
    if chart.x_log:
        ax.set_xscale("log", base=2)
    if chart.y_log:
        ax.set_yscale("log")
    if chart.xticks:
        ticks = _thin(chart.xticks, 14)
        ax.set_xticks([t for t, _ in ticks], [label for _, label in ticks])
        ax.minorticks_off()
    for i, (value, label) in enumerate(chart.hlines):
        colour = GPU_COLOURS[i % len(GPU_COLOURS)]
        ax.axhline(value, color=colour, linewidth=1.0, linestyle="--")
        ax.annotate(label, xy=(0.995, value), xycoords=("axes fraction", "data"), xytext=(0, 2), textcoords="offset points",
                    fontsize=8, color=colour, va="bottom", ha="right",
                    bbox={"boxstyle": "round,pad=0.15", "facecolor": "white", "edgecolor": "none", "alpha": 0.85})
    for value, label in chart.vlines:
        ax.axvline(value, color="#555555", linewidth=1.0, linestyle=":")
        # at the bottom of the line: the top right corner holds the GPU labels of memory charts
        ax.annotate(label, xy=(value, 0.02), xycoords=("data", "axes fraction"), xytext=(-3, 0), textcoords="offset points",
                    fontsize=8, color="#333333", va="bottom", ha="right",
                    bbox={"boxstyle": "round,pad=0.15", "facecolor": "white", "edgecolor": "none", "alpha": 0.85})
    if chart.kind in ("stacked", "lines") and len(chart.series) > 1:
        if len(chart.series) > 4:  # many lines: the legend goes under the plot, never over the data
            ax.legend(loc="upper left", bbox_to_anchor=(0.0, -0.14), frameon=True, framealpha=0.9, ncol=2)
        else:
            ax.legend(loc="upper left" if chart.kind == "stacked" else "best", frameon=True, framealpha=0.9)


def _thin(ticks: tuple[tuple[float, str], ...], most: int) -> tuple[tuple[float, str], ...]:
    """At most ``most`` tick labels, evenly picked (labels never overlap)."""
    step = max(1, math.ceil(len(ticks) / most))
    return ticks[::step]


def _stacked(ax: Any, chart: Chart) -> None:
    xs = chart.series[0].xs
    ax.stackplot(xs, *[s.ys for s in chart.series], labels=[s.name for s in chart.series],
                 colors=PALETTE[: len(chart.series)], alpha=0.85, linewidth=0.5, edgecolor="white")
    top = max(sum(col) for col in zip(*(s.ys for s in chart.series)))
    line_top = max((v for v, _ in chart.hlines), default=0.0)
    ax.set_ylim(0, max(top, line_top) * 1.08 or 1.0)
    ax.set_xlim(xs[0], xs[-1])


def _lines(ax: Any, chart: Chart) -> None:
    for i, s in enumerate(chart.series):
        marker = "o" if len(s.xs) <= 40 else None
        ax.plot(s.xs, s.ys, label=s.name, color=PALETTE[i % len(PALETTE)], linewidth=1.6, marker=marker, markersize=3)
    if chart.hlines:
        top = max(max(s.ys) for s in chart.series if s.ys)
        ax.set_ylim(0, max(top, max(v for v, _ in chart.hlines)) * 1.08)


def _hbar(ax: Any, chart: Chart, series: Any = None, colour: str = PALETTE[0]) -> None:
    s = series or chart.series[0]
    ys = list(range(len(s.ys)))
    ax.barh(ys, s.ys, color=colour, height=0.65)
    ax.set_yticks(ys, list(s.labels))
    ax.invert_yaxis()
    ax.grid(axis="y", visible=False)
    ax.set_axisbelow(True)
    top = max(s.ys) if s.ys else 1.0
    for y, v in zip(ys, s.ys):
        ax.annotate(_short(v), xy=(v, y), xytext=(3, 0), textcoords="offset points", va="center", fontsize=8)
    ax.set_xlim(0, top * 1.18 or 1.0)


def _short(v: float) -> str:
    if v and abs(v) < 0.01:
        return f"{v:.2g}"
    if v >= 100:
        return f"{v:,.0f}"
    if v >= 10:
        return f"{v:.1f}"
    return f"{v:.2f}"


def _bar(ax: Any, chart: Chart) -> None:
    s = chart.series[0]
    ax.bar(s.xs, s.ys, color=PALETTE[0], width=0.7)
    if s.labels:
        ax.set_xticks(s.xs, list(s.labels))
    ax.grid(axis="x", visible=False)


def _hist(ax: Any, chart: Chart) -> None:
    s = chart.series[0]
    edges, counts = s.xs, s.ys
    if len(edges) == len(counts) + 1:
        widths = [b - a for a, b in zip(edges[:-1], edges[1:])]
        ax.bar(edges[:-1], counts, width=widths, align="edge", color=PALETTE[0], edgecolor="white", linewidth=0.4)
    ax.grid(axis="x", visible=False)


def _draw_panels(chart: Chart) -> Any:
    n = len(chart.series)
    rows = max(len(s.ys) for s in chart.series)
    fig = _figure(width=WIDTH_IN + 1.5 * max(0, n - 2), height=max(3.2, 1.4 + 0.38 * rows))
    for i, s in enumerate(chart.series):
        ax = fig.add_subplot(1, n, i + 1)
        _hbar(ax, chart, s, PALETTE[i % len(PALETTE)])
        ax.set_title(s.name, fontsize=10)
    _finish(fig, chart)
    return fig


_DRAW = {"stacked": _stacked, "lines": _lines, "hbar": _hbar, "bar": _bar, "hist": _hist}

__all__ = ["MISSING_MESSAGE", "plots_available", "render", "save"]
