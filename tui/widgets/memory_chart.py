"""Memory against sequence length, with the GPUs people actually own as lines.

The curve is a list of (seq_len, bytes) points the screen computed with the
core estimator; this widget only draws it: log-2 x axis (one tick per power of
two), decimal GB on y (the unit printed on GPU boxes), horizontal lines at
24, 40, 80 and 141 GB, and the current setting as a highlighted point.
"""

from __future__ import annotations

from textual_plotext import PlotextPlot

from lmscope.tui.format import gb, tokens

GPU_LINES_GB: tuple[tuple[float, str], ...] = ((24, "24 GB"), (40, "40 GB"), (80, "80 GB"), (141, "141 GB"))


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

    def show(self, points: list[tuple[int, int]], current: tuple[int, int] | None, title: str, context: int | None) -> None:
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
        ys = [gb(b) for _, b in self.points]
        top = max(ys)
        plt.title(self.title)
        plt.xlabel("sequence length (tokens)")
        shown = [(v, label) for v, label in GPU_LINES_GB if v <= max(top, 24) * 1.08]
        for value, _label in shown:
            plt.hline(value, "red" if value == 24 else "yellow" if value == 40 else "green" if value == 80 else "magenta")
        ticks = list(shown)
        if top > 141 * 1.3:
            ticks.append((top, f"{top:,.0f} GB"))
        plt.yticks([v for v, _ in ticks], [label for _, label in ticks])
        plt.plot(xs, ys, marker="braille", color="cyan")
        if self.current is not None:
            seq, nbytes = self.current
            index = next((i for i, (s, _) in enumerate(self.points) if s == seq), None)
            if index is not None:
                plt.scatter([index], [gb(nbytes)], marker="●", color="orange")
        if self.context:
            ctx_index = next((i for i, (s, _) in enumerate(self.points) if s >= self.context), None)
            if ctx_index is not None:
                plt.vline(ctx_index, "gray")
        # Few enough labels that none overlap (plotext would drop some, unpredictably).
        room = max(10, self.size.width - 12)
        step = max(1, -(-len(xs) * 6 // room))
        ticks = xs[::step]
        plt.xticks(ticks, [tokens(self.points[i][0]) for i in ticks])
        plt.ylim(0, max(top, 24) * 1.08)
        self.refresh()
