"""The singular-value spectrum of one tensor, on a log scale.

A trained matrix's spectrum tells whether it is low-rank (a fast drop),
heavy-tailed (a long straight line on log-log) or noise-like (flat). The
values come from the weights engine (``SpectrumStats.singular_values``); this
widget only draws them, with the 90 % / 99 % energy ranks marked.

:class:`SpectrumPanel` is what screens use: a caption (the tensor's name, or
in words why there is nothing to plot: not a matrix, spectra off) above the
plot. ``panel.values`` holds the singular values it was last given (tests
compare them with an independent SVD).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Static
from textual_plotext import PlotextPlot

if TYPE_CHECKING:  # pragma: no cover
    from lmscope.core.charts import Chart
    from lmscope.core.weights.records import SpectrumStats


class SpectrumPlot(PlotextPlot):
    """Plot log10 σᵢ against i for one SpectrumStats (``chart``: the core Chart it last drew)."""

    chart: Chart | None = None

    DEFAULT_CSS = """
    SpectrumPlot { height: 1fr; min-height: 8; }
    """

    def show(self, name: str | None, spectrum: SpectrumStats | None) -> None:
        from lmscope.core.charts import tensor_spectrum
        from lmscope.core.plot_text import draw

        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        values = [v for v in spectrum.singular_values if v > 0] if spectrum is not None else []
        if not values:
            self.chart = None
            self.refresh()
            return
        # the series of core.charts.tensor_spectrum, the same the report folder's PNG/SVG draws
        self.chart = tensor_spectrum(name or "", spectrum)
        draw(plt, self.chart, title="log10 σᵢ", compact=True)
        self.refresh()


class SpectrumPanel(Vertical):
    """A caption and a :class:`SpectrumPlot`; ``show(name, spectrum, reason)`` updates both."""

    DEFAULT_CSS = """
    SpectrumPanel { height: 1fr; }
    SpectrumPanel > #spectrum-caption { height: auto; max-height: 4; padding: 0 1; }
    """

    def __init__(self, *, id: str | None = None) -> None:  # noqa: A002 - Textual's name
        super().__init__(id=id)
        self.name_shown: str | None = None
        self.values: tuple[float, ...] = ()
        self.message = "select a tensor to see its spectrum"

    def compose(self) -> ComposeResult:
        yield Static(self.message, id="spectrum-caption")
        yield SpectrumPlot(id="spectrum-plot")

    def show(self, name: str | None, spectrum: SpectrumStats | None, reason: str | None = None) -> None:
        """Plot ``spectrum`` (a SpectrumStats) of tensor ``name``; without one, say ``reason`` in words."""
        self.name_shown = name
        self.values = tuple(spectrum.singular_values) if spectrum is not None else ()
        plot = self.query_one(SpectrumPlot)
        if name is None:
            self.message = "select a tensor to see its spectrum"
        elif spectrum is None:
            self.message = f"{name}: {reason or 'no spectrum'}"
        elif not any(v > 0 for v in self.values):
            self.message = f"{name}: singular values were not kept (or all are zero)"
        else:
            self.message = (
                f"{name}: {len(self.values)} singular values · stable rank {spectrum.stable_rank:.1f} · "
                f"rank90 {spectrum.rank_90} · rank99 {spectrum.rank_99}"
            )
        self.query_one("#spectrum-caption", Static).update(self.message)
        plot.display = bool(self.values) and any(v > 0 for v in self.values)
        plot.show(name, spectrum if plot.display else None)
