"""The singular-value spectrum of one tensor, on a log scale.

A trained matrix's spectrum tells whether it is low-rank (a fast drop),
heavy-tailed (a long straight line on log-log) or noise-like (flat). The
values come from the weights engine (``SpectrumStats.singular_values``); this
widget only draws them, with the 90 % / 99 % energy ranks marked.
"""

from __future__ import annotations

import math
from typing import Any

from textual_plotext import PlotextPlot


class SpectrumPlot(PlotextPlot):
    """Plot σᵢ (log y) against i for one SpectrumStats."""

    DEFAULT_CSS = """
    SpectrumPlot { height: 1fr; min-height: 8; }
    """

    def show(self, name: str | None, spectrum: Any | None) -> None:
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        values = [v for v in getattr(spectrum, "singular_values", ()) if v > 0] if spectrum is not None else []
        if not values:
            plt.title(f"{name}: no spectrum (a vector, or spectra off)" if name else "select a tensor to see its spectrum")
            self.refresh()
            return
        xs = list(range(1, len(values) + 1))
        plt.plot(xs, [math.log10(v) for v in values], marker="braille", color="cyan")
        for rank, colour in ((spectrum.rank_90, "yellow"), (spectrum.rank_99, "green")):
            if 1 <= rank <= len(values):
                plt.vline(rank, colour)
        plt.title(f"{name}: log10 σ")
        plt.xlabel(f"i · stable rank {spectrum.stable_rank:.1f} · rank90 {spectrum.rank_90} · rank99 {spectrum.rank_99}")
        self.refresh()
