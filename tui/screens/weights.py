"""Weights: statistics and SVD spectra of a model's real weights, streaming in.

The weights engine runs in a thread worker and yields one event per tensor;
the worker forwards each as a message, so the progress bar (tensor i/N,
bytes, ETA) and the per-tensor table fill in while the analysis runs, and the
spectrum of the highlighted tensor is drawn beside it. Escape (or c) sets the
engine's cancel flag; it stops between tensors. The device (CUDA or CPU, and
any fallback after running out of GPU memory) is shown as reported by the
engine. With no local weights the screen says so and how to get them.

When a run starts the table takes focus; the cursor goes to the first matrix
as soon as one arrives and its spectrum is drawn, and moving the cursor
redraws it. Names in the table are shortened (``model.``/``.weight`` dropped,
``layers.N.`` → ``LN.``, common modules abbreviated, middle ellipsis) and the spectral columns come first,
so stable rank / rank90 / α / std fit at 100 columns; the full name and the
rest of the selected tensor's facts are on the detail line under the table.
"""

from __future__ import annotations

import re
import threading
from typing import Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, ProgressBar, Static

from lmscope.core.units import human_bytes
from lmscope.tui.messages import WeightsEvent, WeightsFinished
from lmscope.tui.screens.base import LmscopeScreen


# sources named by a Hub id, whose weights `lmscope weights ID --download` can fetch
HUB_KINDS = ("hub", "cache", "catalog")


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
        self._auto_select = False  # move the cursor to the first matrix that arrives
        self._cells: list[tuple[str, ...]] = []  # display cells per result, all COLUMNS
        self._widths = [len(label) for label in COLUMNS]  # widest cell per column so far
        self._shown = len(COLUMNS)  # leading columns that fit the table's width
        self.selected: int | None = None  # index into results of the tensor on the detail line / plot

    def compose_body(self) -> ComposeResult:
        yield Static(id="weights-status")
        with Horizontal(id="weights-progress-row"):
            yield ProgressBar(total=100, show_eta=False, id="weights-progress")
            yield Static(id="weights-progress-text")
        with Horizontal(id="weights-main"):
            with Vertical(id="weights-left"):
                table: DataTable = DataTable(id="weights-table", cursor_type="row", zebra_stripes=True)
                for label in COLUMNS:
                    table.add_column(label, key=label)
                yield table
                yield Static(id="weights-detail")
            with Vertical(id="weights-side"):
                from lmscope.tui.widgets.spectrum import SpectrumPanel

                yield SpectrumPanel(id="weights-spectrum")

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one(DataTable).focus()

    def on_resize(self) -> None:
        self.call_after_refresh(self._fit_columns)

    def _fit_columns(self) -> bool:
        """Show only the leading columns that fit whole (a cut "mean" column helps nobody); True if rebuilt.

        The detail line under the table and the exports keep every field.
        """
        table = self.query_one(DataTable)
        from lmscope.tui.widgets.fit import columns_that_fit

        room = table.size.width - 2  # the vertical scrollbar
        if room <= 2:
            return False
        shown = columns_that_fit(self._widths, room, padding=table.cell_padding)
        if shown == self._shown:
            return False
        self._shown = shown
        cursor = table.cursor_row
        table.clear(columns=True)
        for label in COLUMNS[:shown]:
            table.add_column(label, key=label)
        for i, (t, cells) in enumerate(zip(self.results, self._cells)):
            table.add_row(*cells[:shown], key=f"{i + 1}:{t.name}")
        if self._cells:
            table.move_cursor(row=min(cursor, len(self._cells) - 1), animate=False)
        return True

    def refresh_view(self) -> None:
        model = self.lm.main_model
        if model is not None and model.model_id != self._model_id and not self.running:
            self._model_id = model.model_id
            self.results = []
            self.summary = None
            self._clear_results()
            self.query_one("#weights-progress-text", Static).update("")
        self._update_status()

    def _clear_results(self) -> None:
        from lmscope.tui.widgets.spectrum import SpectrumPanel

        self.query_one(DataTable).clear()
        self._cells = []
        self._widths = [len(label) for label in COLUMNS]
        self.selected = None
        self.query_one("#weights-detail", Static).update("")
        self.query_one(SpectrumPanel).show(None, None)

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
            # the run's model: another one may have been opened since it started
            text.append(f"Analysing {self._model_id or model.model_id} on {self.device or 'auto device'}… ", style="bold")
            text.append("(Esc cancels)", style="dim")
        elif not files:
            text.append(f"No local weights for {model.model_id}", style="bold yellow")
            source = model.report.source
            if source.kind in HUB_KINDS:
                where = "the built-in catalog" if source.kind == "catalog" else "the Hub" if source.kind == "hub" else "the Hugging Face cache"
                text.append(f" (it was opened from {where}).\n")
                text.append("The weights engine reads real tensors, so the files must be on this machine. Get them with:\n")
                text.append(f"  lmscope weights {model.model_id} --download", style="bold")
                text.append("\nor open a local folder / .gguf file (ctrl+o).", style="dim")
            elif source.kind == "onnx":
                text.append(" (an ONNX file).\n")
                text.append("The weights engine reads .safetensors, .bin and .gguf checkpoints, not ONNX initializers.\n")
                text.append("Open the model's checkpoint folder or .gguf file (ctrl+o).", style="dim")
            else:
                text.append(f" ({source.location} holds no .safetensors, .bin or single .gguf file).\n")
                text.append("The weights engine reads real tensors, so the files must be on this machine: ")
                text.append("put them beside config.json, or open another folder / .gguf file (ctrl+o).", style="dim")
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
            text.append(
                "Press r to analyse again." if self.summary is not None else "Press r to analyse (statistics + SVD spectra, one row per tensor).",
                style="dim",
            )
        status.update(text)

    # --- running ------------------------------------------------------------------------
    def action_run(self) -> None:
        from lmscope.tui import loader

        model = self.lm.main_model
        if self.running or model is None:
            return
        if not loader.local_weight_files(model):
            if model.report.source.kind in HUB_KINDS:
                self.notify(f"no local weights: lmscope weights {model.model_id} --download", severity="warning")
            else:
                self.notify(f"no weights files to analyse for {model.model_id}", severity="warning")
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
        self._auto_select = True
        self._clear_results()
        self.query_one(ProgressBar).update(total=100, progress=0)
        self.query_one("#weights-progress-text", Static).update(" starting…")
        self._update_status()
        self.query_one(DataTable).focus()
        self._weights_worker(self._run_id, model, self._cancel)

    def action_cancel(self) -> None:
        if self.running and self._cancel is not None:
            self._cancel.set()  # the worker returns within a poll; the engine stops at its next chunk

    @work(thread=True, group="weights", exit_on_error=False)
    def _weights_worker(self, run_id: int, model: Any, cancel: threading.Event) -> None:
        """Forward the engine's events; return within a poll (50 ms) of Esc, ctrl+q or the app closing.

        The engine itself runs in a daemon thread (:class:`BackgroundEvents`): a LAPACK
        call in progress cannot be interrupted, and Textual's exit waits for this worker's
        executor thread, so this thread only polls and never computes.
        """
        from textual.worker import get_current_worker

        from lmscope.core.weights.background import BackgroundEvents
        from lmscope.tui import loader

        worker = get_current_worker()
        try:
            background = BackgroundEvents(lambda: loader.weights_events(model, cancel), cancel)
            for event in background.events(stop=lambda: worker.cancelled_event.is_set() or cancel.is_set()):
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
        if event.index >= event.total:
            eta = f", {event.elapsed_seconds:,.1f} s"
        else:
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
        index = len(self.results) - 1
        spectrum = t.spectra[0] if t.spectra else None
        if spectrum is not None and self.device is None:
            self.device = spectrum.device
            self._update_status()
        table = self.query_one(DataTable)
        cells = (
            short_name(t.name),
            f"{spectrum.stable_rank:.1f}" if spectrum else "",
            f"{spectrum.rank_90}/{spectrum.design_rank}" if spectrum else "",
            f"{spectrum.alpha:.2f}" if spectrum and spectrum.alpha is not None else "",
            f"{t.std:.3g}",
            "×".join(str(d) for d in t.shape),
            f"{t.mean:.3g}",
            f"{100 * t.zero_fraction:.2f}",
            t.kind,
            t.dtype,
        )
        self._cells.append(cells)
        self._widths = [max(w, len(c)) for w, c in zip(self._widths, cells)]
        # A wider cell that pushes a column out rebuilds the table with this row already in it; the
        # selection below must still run, or the first matrix is skipped when it is the widening row.
        if not self._fit_columns():
            table.add_row(*cells[: self._shown], key=f"{index + 1}:{t.name}")
        if self._auto_select and spectrum is not None:
            # The first matrix: put the cursor on it (its highlight event draws it too).
            self._auto_select = False
            if table.cursor_row != index:
                table.move_cursor(row=index, animate=False)
            self._select(index)
        elif self.selected is None:
            self._select(min(max(table.cursor_row, 0), index))

    def on_weights_finished(self, message: WeightsFinished) -> None:
        if message.run_id != self._run_id:
            return
        self.running = False
        if message.status == "failed":
            self.notify(message.error or "failed", title="Weights analysis failed", severity="error", timeout=8)
        elif message.status == "cancelled":
            self.notify(f"cancelled after {len(self.results)} tensors")
        else:
            self.notify(f"analysed {len(self.results)} tensors of {self._model_id}")
        if self.summary is not None:
            for note in self.summary.notes:
                if "fallback" in note.lower() or "out of memory" in note.lower():
                    self.notify(note, title="device", severity="warning")
        model = self.lm.main_model
        if model is not None and model.model_id != self._model_id:
            # another model was opened during the run: show that one, never label these results with its name
            self.refresh_view()
            return
        self._update_status()

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.data_table.id == "weights-table":
            if self.selected is not None and event.cursor_row != self.selected:
                self._auto_select = False  # the user moved the cursor: leave it where they put it
            self._select(event.cursor_row)

    def _select(self, index: int) -> None:
        """Show tensor ``index``: its spectrum on the plot and its facts on the detail line."""
        from lmscope.tui.widgets.spectrum import SpectrumPanel

        if not 0 <= index < len(self.results):
            return
        t = self.results[index]
        self.selected = index
        spectrum = t.spectra[0] if t.spectra else None
        self.query_one(SpectrumPanel).show(short_name(t.name), spectrum, reason=None if spectrum else no_spectrum_reason(t))
        self.query_one("#weights-detail", Static).update(detail_text(t))

    def export_text(self, fmt: str) -> str:
        from lmscope.core.errors import UsageError
        from lmscope.tui.exporting import weights_text

        if not self.results:
            raise UsageError("no weights results yet: press r to analyse first")
        return weights_text(self._model_id or "", self.results, self.summary, fmt)

    FOLDER_PICTURES = "spectra, α, stable rank, clusters"

    def export_folder(self, path: str) -> Any:
        from lmscope.core.errors import UsageError
        from lmscope.tui.exporting import weights_folder

        if not self.results:
            raise UsageError("no weights results yet: press r to analyse first")
        return weights_folder(list(self.results), self.summary, path, tokenizer_json=self._tokenizer_json())

    def _tokenizer_json(self) -> Any:
        """tokenizer.json beside the analysed model's config or weights, when there is one."""
        from lmscope.core.vocab import find_tokenizer_json

        model = self.lm.main_model
        location = getattr(getattr(model, "report", None), "source", None)
        where = getattr(location, "location", None)
        return find_tokenizer_json(where) if where else None


COLUMNS = ("tensor", "stable rank", "rank90", "α", "std", "shape", "mean", "zero %", "kind", "dtype")
NAME_WIDTH = 24
_PREFIXES = ("model.language_model.", "language_model.model.", "model.", "transformer.", "gpt_neox.", "backbone.")
_LAYER = re.compile(r"^(?:layers|layer|h|blocks|block)\.(\d+)$")
# Display abbreviations of common module names (the detail line keeps the real name).
_ABBREV = {
    "self_attn": "attn", "attention": "attn", "self_attention": "attn", "embeddings": "emb",
    "word_embeddings": "word_emb", "position_embeddings": "pos_emb", "token_type_embeddings": "type_emb",
    "embed_tokens": "embed", "LayerNorm": "LN", "layernorm": "ln", "input_layernorm": "in_ln",
    "post_attention_layernorm": "post_ln", "intermediate": "inter", "output": "out",
    "block_sparse_moe": "moe", "encoder": "enc", "decoder": "dec",
}


def short_name(name: str, width: int = NAME_WIDTH) -> str:
    """A tensor name for a narrow column (display only; the detail line shows the full name).

    Drops a ubiquitous prefix (``model.``, ``transformer.``…) and the ``.weight``
    suffix, writes ``layers.N.`` / ``layer.N.`` / ``h.N.`` as ``LN.``, abbreviates
    common module names (``self_attn`` → ``attn``, ``LayerNorm`` → ``LN``…) and
    cuts what is still longer than ``width`` in the middle (``…``).
    """
    for prefix in _PREFIXES:
        if name.startswith(prefix) and len(name) > len(prefix):
            name = name[len(prefix) :]
            break
    if name.endswith(".weight"):
        name = name[: -len(".weight")]
    parts = name.split(".")
    out: list[str] = []
    i = 0
    while i < len(parts):
        part = parts[i]
        if i + 1 < len(parts) and _LAYER.match(f"{part}.{parts[i + 1]}"):
            out.append(f"L{parts[i + 1]}")
            i += 2
            continue
        if part == "self" and out and out[-1] == "attn":  # BERT's attention.self.query
            i += 1
            continue
        out.append(_ABBREV.get(part, part))
        i += 1
    return middle_ellipsis(".".join(out), width)


def middle_ellipsis(text: str, width: int) -> str:
    """``text`` cut to ``width`` characters with "…" in the middle (more of the end kept)."""
    if len(text) <= width:
        return text
    if width <= 1:
        return text[:width]
    head = (width - 1) // 2
    tail = width - 1 - head
    return text[:head] + "…" + text[len(text) - tail :]


def no_spectrum_reason(t: Any) -> str:
    """Why tensor ``t`` has no spectrum, in words (shown instead of the plot)."""
    shape = "×".join(str(d) for d in t.shape) or "scalar"
    if len(t.shape) < 2:
        return f"not a matrix ({len(t.shape)}-D, shape {shape}): no singular values to plot"
    for note in t.notes:
        if "spectrum" in note or "spectra" in note:
            return f"shape {shape}: {note}"
    return f"shape {shape}: no spectrum was computed for this tensor"


def detail_text(t: Any) -> Text:
    """The detail lines for the selected tensor: full name, kind, dtype, size, spectral facts, notes."""
    text = Text()
    text.append(t.name, style="bold")
    shape = "×".join(str(d) for d in t.shape) or "scalar"
    text.append(f"\n{t.kind} · {t.dtype} · {shape} · {t.numel:,} params · {human_bytes(t.nbytes)}", style="dim")
    spectrum = t.spectra[0] if t.spectra else None
    text.append("\n")
    if spectrum is not None:
        cond = "∞" if spectrum.condition_number == float("inf") else f"{spectrum.condition_number:.3g}"
        expert = f"expert {spectrum.expert} of {len(t.spectra)} · " if spectrum.expert is not None else ""
        text.append(
            f"{expert}numerical rank {spectrum.numerical_rank}/{spectrum.design_rank} · "
            f"‖W‖₂ {spectrum.spectral_norm:.4g} · cond {cond} · {spectrum.device} ({spectrum.method})"
        )
    else:
        text.append(no_spectrum_reason(t), style="italic")
    notes = [n for n in t.notes if not (spectrum is None and ("spectrum" in n or "spectra" in n))]
    if notes:
        text.append("\n" + "; ".join(notes), style="yellow")
    return text


def _size(path: str) -> int:
    import os

    try:
        return os.path.getsize(path)
    except OSError:
        return 0
