"""Draw a :class:`~lmscope.core.charts.Chart` with plotext: in the terminal and as plain text.

The terminal renderer beside :mod:`lmscope.core.plots` (files): both draw the
same series, so a chart in the TUI, in a Markdown code block and in a PNG
shows the same numbers. :func:`draw` works on any plotext-like object — the
``plotext`` module itself or a ``textual_plotext`` widget's ``plt`` — and
:func:`to_text` builds a chart into plain text (colour codes stripped) for
Markdown. plotext is a base dependency, imported lazily.
"""

from __future__ import annotations

import math
import re
from typing import Any

from lmscope.core.charts import Chart

_ANSI = re.compile(r"\x1b\[[0-9;]*m")
COLOURS = ("cyan", "orange", "green", "magenta", "blue", "red", "yellow", "gray")


def draw(plt: Any, chart: Chart, title: str | None = None, compact: bool = False) -> None:
    """Add ``chart``'s series to ``plt`` (the caller has cleared it and sets the size).

    ``title``: a shorter title for a narrow panel; ``compact``: no y label and no legend (a panel
    whose caption names the one series). The series are the chart's either way.
    """
    plt.title(chart.title if title is None else title)
    if chart.x_label:
        plt.xlabel(chart.x_label)
    if chart.y_label and not compact:
        plt.ylabel(chart.y_label)
    if chart.kind in ("lines", "stacked"):
        cumulative = [0.0] * len(chart.series[0].xs) if chart.series else []
        for i, s in enumerate(chart.series):
            xs = [math.log2(x) for x in s.xs] if chart.x_log else list(s.xs)
            ys = list(s.ys)
            if chart.kind == "stacked":  # plotext has no stackplot: draw each running total
                cumulative = [a + b for a, b in zip(cumulative, ys)]
                ys = list(cumulative)
            plt.plot(xs, ys, label=None if compact else s.name[-40:], marker="braille", color=COLOURS[i % len(COLOURS)])
        if chart.xticks:
            ticks = [(math.log2(x) if chart.x_log else x, label) for x, label in chart.xticks]
            plt.xticks([t for t, _ in ticks], [label for _, label in ticks])
    elif chart.kind in ("hbar", "hbars", "bar"):
        s = chart.series[0]
        labels = list(s.labels) or [str(x) for x in s.xs]
        plt.bar(labels, list(s.ys), orientation="horizontal" if chart.kind != "bar" else "vertical", color="cyan")
    elif chart.kind == "hist":
        s = chart.series[0]
        centres = [(a + b) / 2 for a, b in zip(s.xs[:-1], s.xs[1:])]
        plt.bar(centres, list(s.ys), color="cyan")
    for value, _label in chart.hlines:
        plt.hline(value, "gray")
    for value, _label in chart.vlines:
        plt.vline(math.log2(value) if chart.x_log else value, "gray")


def to_text(chart: Chart, width: int = 78, height: int = 20) -> str | None:
    """The chart as plain text (None when it has no data)."""
    if chart.empty:
        return None
    import plotext as plt

    plt.clear_figure()
    plt.plotsize(width, height)
    plt.theme("clear")
    draw(plt, chart)
    return _ANSI.sub("", plt.build())


__all__ = ["draw", "to_text"]
