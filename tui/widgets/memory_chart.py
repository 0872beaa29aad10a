"""Memory against sequence length, with the GPUs people actually own as lines.

The curve is a list of (seq_len, bytes) points the screen computed with the
core estimator; this widget only draws it: log-2 x axis (one tick per power of
two), the tables' unit on y (the run's byte convention: GiB, or GB after ``u``),
a horizontal line per common GPU, labelled by its name, and the current
setting as a highlighted point.

GPU memory is binary whatever the box says: an "80 GB" H100 holds 80 GiB of
HBM (nvidia-smi: 81,559 MiB usable), a "24 GB" RTX 4090 24 GiB. The lines are
the cards of :func:`lmscope.core.charts.gpu_lines` at their planner profile's
memory — the same lines as the PNG/SVG memory charts — converted to the axis.
"""

from __future__ import annotations

from textual_plotext import PlotextPlot

from lmscope.core.charts import gpu_lines
from lmscope.core.units import byte_unit, tokens

LINE_COLOURS = ("red", "yellow", "green", "magenta", "blue")  # one per card of core.charts.gpu_lines()


def _gpu_lines() -> tuple[tuple[int, str, str], ...]:
    """(capacity in bytes, name, line colour) of the cards the PNG/SVG memory charts draw too."""
    return tuple(
        (nbytes, name, LINE_COLOURS[i % len(LINE_COLOURS)]) for i, (name, nbytes) in enumerate(gpu_lines())
    )


class MemoryChart(PlotextPlot):
    """Plot of total memory vs sequence length. Call :meth:`show` with fresh points."""

    DEFAULT_CSS = """
    MemoryChart { height: 1fr; min-height: 10; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.points: list[tuple[int, int]] = []
        self.current: tuple[int, int] | None = None
        self.title = ""
        self.context: int | None = None
        self.decimal: bool | None = None  # None: the run's convention (core.units.set_byte_units)

    def show(
        self, points: list[tuple[int, int]], current: tuple[int, int] | None, title: str, context: int | None, *, decimal: bool | None = None
    ) -> None:
        self.decimal = decimal
        self.points = points
        self.current = current
        self.title = title
        self.context = context
        self.replot()

    def on_resize(self) -> None:
        self.replot()

    def replot(self) -> None:
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        if not self.points:
            plt.title("no model")
            self.refresh()
            return
        xs = list(range(len(self.points)))
        scale, unit = byte_unit(self.decimal)
        ys = [b / scale for _, b in self.points]
        top = max(ys)
        cards = _gpu_lines()
        floor = min(nbytes for nbytes, _, _ in cards) / scale  # the axis always reaches the smallest card
        plt.title(f"{self.title} ({unit})")
        plt.xlabel("sequence length (tokens)")
        shown = [(nbytes / scale, name, colour) for nbytes, name, colour in cards if nbytes / scale <= max(top, floor) * 1.08]
        for value, _name, colour in shown:
            plt.hline(value, colour)
        ticks = [(value, f"{name} {value:,.0f}") for value, name, _colour in shown]
        if top > shown[-1][0] * 1.3:
            ticks.append((top, f"{top:,.0f} {unit}"))
        plt.yticks([v for v, _ in ticks], [label for _, label in ticks])
        plt.plot(xs, ys, marker="braille", color="cyan")
        if self.current is not None:
            seq, nbytes = self.current
            index = next((i for i, (s, _) in enumerate(self.points) if s == seq), None)
            if index is not None:
                plt.scatter([index], [nbytes / scale], marker="●", color="orange")
        if self.context:
            ctx_index = next((i for i, (s, _) in enumerate(self.points) if s >= self.context), None)
            if ctx_index is not None:
                plt.vline(ctx_index, "gray")
        # Few enough labels that none overlap (plotext would drop some, unpredictably).
        room = max(10, self.size.width - 12)
        step = max(1, -(-len(xs) * 6 // room))
        x_ticks = xs[::step]
        plt.xticks(x_ticks, [tokens(self.points[i][0]) for i in x_ticks])  # type: ignore[arg-type]  # ints are positions
        plt.ylim(0, max(top, floor) * 1.08)
        self.refresh()
