"""Weights: statistics and SVD spectra of a model's real weights, streaming in.

The weights engine runs in a thread worker and yields one event per tensor;
the worker forwards each as a message, so the progress bar (tensor i/N,
bytes, ETA) and the per-tensor table fill in while the analysis runs, and the
spectrum of the highlighted tensor is drawn beside it. Escape (or c) sets the
engine's cancel flag; it stops between tensors. The device (CUDA or CPU, and
any fallback after running out of GPU memory) is shown as reported by the
engine. With no local weights the screen says so and how to get them.
"""

from __future__ import annotations

import threading
from typing import Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, ProgressBar, Static

from lmscope.tui.format import human_bytes
from lmscope.tui.messages import WeightsEvent, WeightsFinished
from lmscope.tui.screens.base import LmscopeScreen


class WeightsScreen(LmscopeScreen):
    """Run / cancel the weights engine on the main model's local files."""

    MODE = "weights"
    VIEW_NAME = "weights"
    BINDINGS = [
        Binding("r,ctrl+r", "run", "Analyse weights", id="weights.run"),
        Binding("escape,c", "cancel", "Cancel", id="weights.cancel"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.results: list[Any] = []
        self.summary: Any = None
        self.running = False
        self.device: str | None = None
        self._cancel: threading.Event | None = None
        self._run_id = 0
        self._model_id: str | None = None

    def compose_body(self) -> ComposeResult:
        yield Static(id="weights-status")
        with Horizontal(id="weights-progress-row"):
            yield ProgressBar(total=100, show_eta=False, id="weights-progress")
            yield Static(id="weights-progress-text")
        with Horizontal(id="weights-main"):
            table: DataTable = DataTable(id="weights-table", cursor_type="row", zebra_stripes=True)
            for label in ("tensor", "shape", "stable rank", "rank90", "α", "mean", "std", "zero %", "kind", "dtype"):
                table.add_column(label, key=label)
            yield table
            with Vertical(id="weights-side"):
                from lmscope.tui.widgets.spectrum import SpectrumPlot

                yield SpectrumPlot(id="weights-spectrum")

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one(DataTable).focus()

    def refresh_view(self) -> None:
        model = self.lm.main_model
        if model is not None and model.model_id != self._model_id and not self.running:
            self._model_id = model.model_id
            self.results = []
            self.summary = None
            self.query_one(DataTable).clear()
            self.query_one("#weights-progress-text", Static).update("")
        self._update_status()

    def _update_status(self) -> None:
        from lmscope.tui import loader

        status = self.query_one("#weights-status", Static)
        model = self.lm.main_model
        if model is None:
            status.update(self.lm.status_text())
            self.query_one("#weights-main").display = False
            self.query_one("#weights-progress-row").display = False
            return
        files = loader.local_weight_files(model)
        show_run = bool(files) or self.running or bool(self.results)
        self.query_one("#weights-main").display = show_run
        self.query_one("#weights-progress-row").display = show_run
        text = Text()
        if self.running:
            text.append(f"Analysing {model.model_id} on {self.device or 'auto device'}… ", style="bold")
            text.append("(Esc cancels)", style="dim")
        elif not files:
            text.append(f"No local weights for {model.model_id}", style="bold yellow")
            text.append(f" (it was opened from the {model.report.source.kind}).\n")
            text.append("The weights engine reads real tensors, so the files must be on this machine. Get them with:\n")
            text.append(f"  lmscope weights {model.model_id} --download", style="bold")
            text.append("\nor open a local folder / .gguf file (ctrl+o).", style="dim")
        elif not loader.weights_engine_available():
            text.append(f"{len(files)} weight file(s) found for {model.model_id}. ", style="bold")
            text.append(
                "The weights engine is not installed in this build: when it is, r analyses every tensor "
                "(statistics, SVD spectra, power-law α) here, streaming one row per tensor.",
                style="yellow",
            )
        else:
            size = sum(_size(f) for f in files)
            text.append(f"{len(files)} weight file(s), {human_bytes(size)} for {model.model_id}. ", style="bold")
            if self.summary is not None:
                verb = "Cancelled after" if self.summary.cancelled else "Done:"
                text.append(f"{verb} {self.summary.tensors_done}/{self.summary.tensors_total} tensors in {self.summary.seconds:.1f} s on {self.summary.device}. ")
            text.append("Press r to analyse (statistics + SVD spectra, one row per tensor).", style="dim")
        status.update(text)

    # --- running ------------------------------------------------------------------------
    def action_run(self) -> None:
        from lmscope.tui import loader

        model = self.lm.main_model
        if self.running or model is None:
            return
        if not loader.local_weight_files(model):
            self.notify(f"no local weights: lmscope weights {model.model_id} --download", severity="warning")
            return
        if not loader.weights_engine_available():
            self.notify("the weights engine is not installed in this build", severity="warning")
            return
        self._run_id += 1
        self._cancel = threading.Event()
        self.results = []
        self.summary = None
        self.device = None
        self.running = True
        self._model_id = model.model_id
        self.query_one(DataTable).clear()
        self.query_one(ProgressBar).update(total=100, progress=0)
        self._update_status()
        self._weights_worker(self._run_id, model, self._cancel)

    def action_cancel(self) -> None:
        if self.running and self._cancel is not None:
            self._cancel.set()
            self.notify("cancelling after the current tensor…")

    @work(thread=True, group="weights", exit_on_error=False)
    def _weights_worker(self, run_id: int, model: Any, cancel: threading.Event) -> None:
        from lmscope.tui import loader

        try:
            for event in loader.weights_events(model, cancel):
                self.post_message(WeightsEvent(run_id, event))
        except Exception as err:  # noqa: BLE001 - shown, never a crash
            self.post_message(WeightsFinished(run_id, "failed", loader.error_line(err)))
            return
        self.post_message(WeightsFinished(run_id, "cancelled" if cancel.is_set() else "done"))

    def on_weights_event(self, message: WeightsEvent) -> None:
        if message.run_id != self._run_id:
            return
        event = message.event
        bar = self.query_one(ProgressBar)
        bar.update(total=max(1, event.total), progress=event.index)
        eta = f", ETA {event.eta_seconds:,.0f} s" if event.eta_seconds is not None else ""
        self.query_one("#weights-progress-text", Static).update(
            f" tensor {event.index}/{event.total} · {human_bytes(event.bytes_done)} / {human_bytes(event.bytes_total)}{eta}"
        )
        if event.result is not None:
            self._add_row(event.result)
        if event.summary is not None:
            self.summary = event.summary
            self.device = event.summary.device

    def _add_row(self, t: Any) -> None:
        self.results.append(t)
        spectrum = t.spectra[0] if t.spectra else None
        if spectrum is not None and self.device is None:
            self.device = spectrum.device
            self._update_status()
        table = self.query_one(DataTable)
        table.add_row(
            short_name(t.name),
            "×".join(str(d) for d in t.shape),
            f"{spectrum.stable_rank:.1f}" if spectrum else "",
            f"{spectrum.rank_90}/{spectrum.design_rank}" if spectrum else "",
            f"{spectrum.alpha:.2f}" if spectrum and spectrum.alpha is not None else "",
            f"{t.mean:.3g}",
            f"{t.std:.3g}",
            f"{100 * t.zero_fraction:.2f}",
            t.kind,
            t.dtype,
            key=f"{len(self.results)}:{t.name}",
        )
        if len(self.results) == 1:
            self._plot(0)

    def on_weights_finished(self, message: WeightsFinished) -> None:
        if message.run_id != self._run_id:
            return
        self.running = False
        if message.status == "failed":
            self.notify(message.error or "failed", title="Weights analysis failed", severity="error", timeout=8)
        elif message.status == "cancelled":
            self.notify(f"cancelled after {len(self.results)} tensors")
        else:
            self.notify(f"analysed {len(self.results)} tensors")
        if self.summary is not None:
            for note in self.summary.notes:
                if "fallback" in note.lower() or "out of memory" in note.lower():
                    self.notify(note, title="device", severity="warning")
        self._update_status()

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.data_table.id == "weights-table":
            self._plot(event.cursor_row)

    def _plot(self, index: int) -> None:
        from lmscope.tui.widgets.spectrum import SpectrumPlot

        if 0 <= index < len(self.results):
            t = self.results[index]
            self.query_one(SpectrumPlot).show(short_name(t.name), t.spectra[0] if t.spectra else None)

    def export_text(self, fmt: str) -> str:
        from lmscope.core.errors import UsageError
        from lmscope.tui.exporting import weights_text

        if not self.results:
            raise UsageError("no weights results yet: press r to analyse first")
        return weights_text(self._model_id or "", self.results, self.summary, fmt)


def short_name(name: str) -> str:
    """A tensor name without the ubiquitous ``model.`` prefix and ``.weight`` suffix (display only)."""
    if name.startswith("model."):
        name = name[len("model.") :]
    return name[: -len(".weight")] if name.endswith(".weight") else name


def _size(path: str) -> int:
    import os

    try:
        return os.path.getsize(path)
    except OSError:
        return 0
