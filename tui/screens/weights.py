"""Weights: statistics and SVD spectra of a model's real weights, streaming in.

The weights engine runs in a thread worker and yields one event per tensor;
the worker forwards each as a message, so the progress bar (tensor i/N,
bytes, ETA) and the per-tensor table fill in while the analysis runs, and the
spectrum of the highlighted tensor is drawn beside it. Escape (or c) sets the
worker's own cancel (Textual's ``Worker.cancelled_event``, a ``threading.Event``, is
the engine's cancel flag too); the engine stops between tensors. The device (CUDA or CPU, and
any fallback after running out of GPU memory) is shown as reported by the
engine. With no local weights the screen says so and how to get them.

When a run starts the table takes focus; the cursor goes to the first matrix
as soon as one arrives and its spectrum is drawn, and moving the cursor
redraws it. Names in the table are shortened (``model.``/``.weight`` dropped,
``layers.N.`` → ``LN.``, common modules abbreviated, middle ellipsis) and the spectral columns come first,
so stable rank / rank90 / α / std fit at 100 columns; the full name and the
rest of the selected tensor's facts are on the detail line under the table.

The rows can be sorted by any metric (``s`` cycles the sort key, ``S`` reverses
it), filtered by kind (``k`` cycles the kinds present) or by an expression
(``/``: ``kind:mlp layer:2-5 alpha>4 q_proj``), and ``t`` swaps the table for
the per-kind summary the CLI prints (Enter on a kind filters the tensors by
it). Which rows to show and in what order is decided by
:mod:`lmscope.core.weights.table`; the screen only draws them.

After a cancel, ``r`` resumes: the tensors already done are kept and only the
others are analysed (``ctrl+r`` starts again from scratch). When ``ray`` is
importable, ``e`` switches the executor between this process and Ray (a local
cluster, or the one ``RAY_ADDRESS`` names); otherwise the screen says how to
get the extra.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, Input, ProgressBar, Static

from lmscope.core.units import human_bytes
from lmscope.tui.messages import WeightsFinished, WeightsProgress
from lmscope.tui.screens.base import LmscopeScreen

if TYPE_CHECKING:  # pragma: no cover
    from pathlib import Path

    from textual.worker import Worker

    from lmscope.core.weights.records import EmbeddingClusters, Resume, TensorStats, WeightsEvent, WeightsSummary
    from lmscope.core.weights.table import Filter
    from lmscope.tui.state import LoadedModel

# sources named by a Hub id, whose weights `lmscope weights ID --download` can fetch
HUB_KINDS = ("hub", "cache", "catalog")


class WeightsScreen(LmscopeScreen):
    """Run / cancel the weights engine on the main model's local files."""

    MODE = "weights"
    VIEW_NAME = "weights"
    HELP = "Per-tensor statistics and spectra of local weights, streamed with progress; r runs, Esc cancels."
    BINDINGS = [
        Binding("r", "run", "Analyse / resume", id="weights.run"),
        Binding("ctrl+r", "restart", "Analyse again from scratch", show=False, id="weights.restart"),
        Binding("escape,c", "cancel", "Cancel", id="weights.cancel"),
        Binding("s", "sort", "Sort by the next column", show=False, id="weights.sort"),
        Binding("S", "reverse", "Reverse the sort", show=False, key_display="S", id="weights.reverse"),
        Binding("k", "kind", "Filter by the next kind", show=False, id="weights.kind"),
        Binding("slash", "filter", "Filter: kind:mlp layer:2-5 alpha>4 name", show=False, key_display="/", id="weights.filter"),
        Binding("t", "by_kind", "Tensors / summary by kind", show=False, id="weights.by_kind"),
        Binding("e", "executor", "Executor: this process / Ray", show=False, id="weights.executor"),
    ]
    REBUILD_SECONDS = 0.25  # a sorted table is redrawn at most this often while rows stream in

    def __init__(self) -> None:
        super().__init__()
        self.results: list[TensorStats] = []
        self.summary: WeightsSummary | None = None
        self.running = False
        self.device: str | None = None
        # the run's thread worker: cancelling it (Esc, or Textual when the screen unmounts) sets its
        # ``cancelled_event``, which is also the engine's cancel flag — the one source of truth
        self._worker: Worker[None] | None = None
        self._run_id = 0
        self._model_id: str | None = None
        self._auto_select = False  # move the cursor to the first matrix that arrives
        self._cells: list[tuple[str, ...]] = []  # display cells per result, all COLUMNS
        self._widths = [len(label) for label in COLUMNS]  # widest cell per column so far
        self._shown = len(COLUMNS)  # leading columns that fit the table's width
        self.selected: int | None = None  # index into results of the tensor on the detail line / plot
        self.clusters: list[EmbeddingClusters] = []  # embedding clusters received with their tensors (kept for a resume)
        self.sort = "arrival"  # a key of core.weights.table.SORTS
        self.descending = False
        self.kind: str | None = None  # the kind filter ``k`` cycles through
        self.filter_text = ""  # the ``/`` expression
        self.view: list[int] = []  # indices into results, one per table row, in row order
        self.by_kind = False  # the table shows the per-kind summary instead of the tensors
        self.executor: str | None = None  # None: this process; "" : Ray (RAY_ADDRESS or a local cluster)
        self.interrupted = False  # the last run was cancelled: r resumes it
        self._last_event: WeightsEvent | None = None
        self._rebuild_due = False

    def compose_body(self) -> ComposeResult:
        yield Static(id="weights-status")
        with Horizontal(id="weights-progress-row"):
            yield ProgressBar(total=100, show_eta=False, id="weights-progress")
            yield Static(id="weights-progress-text")
        yield Static(id="weights-view")
        yield FilterInput(placeholder="kind:mlp layer:2-5 alpha>4 q_proj   (Enter applies, Esc closes)", id="weights-filter")
        with Horizontal(id="weights-main"):
            with Vertical(id="weights-left"):
                table: DataTable[str] = DataTable(id="weights-table", cursor_type="row", zebra_stripes=True)
                for label in COLUMNS:
                    table.add_column(label, key=label)
                yield table
                yield Static(id="weights-detail")
            with Vertical(id="weights-side"):
                from lmscope.tui.widgets.spectrum import SpectrumPanel

                yield SpectrumPanel(id="weights-spectrum")

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#weights-filter").display = False
        self.query_one(DataTable).focus()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Cancel exists only while a run is going; the Ray switch only when ray is importable."""
        if action == "cancel":
            return self.running
        if action == "executor":
            from lmscope.core.weights.distributed import ray_available

            return ray_available()
        return True

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
        if self.by_kind or self._metric_column() is not None:
            self._rebuild()  # these layouts measure their own columns
            return True
        shown = columns_that_fit(self._widths, room, padding=table.cell_padding)
        if shown == self._shown:
            return False
        self._shown = shown
        self._rebuild()
        return True

    def _metric_column(self) -> str | None:
        """The sorted metric's key when the table sorts by one (its column then comes second)."""
        from lmscope.core.weights import table as rules

        return self.sort if self.sort in rules.METRIC_BY_KEY else None

    def _rebuild(self) -> None:
        """Redraw the table from ``results`` with the current sort, filter and view (cursor kept on its tensor)."""
        from lmscope.core.weights import table as rules
        from lmscope.tui.widgets.fit import columns_that_fit

        self._rebuild_due = False
        table = self.query_one("#weights-table", DataTable)
        keep = self.selected
        table.clear(columns=True)
        if self.by_kind:
            self._fill_kinds(table)
            self._update_view_line()
            return
        try:
            where = self._filter()
        except Exception:  # noqa: BLE001 - a bad expression was refused when typed; show everything
            where = None
        self.view = rules.view(self.results, self.sort, self.descending, where)
        labels, rows = list(COLUMNS), [self._cells[i] for i in self.view]
        metric = self._metric_column()
        if metric is not None:
            # the sorted metric right after the name, so the order is visible at any width
            label = METRIC_COLUMN.get(metric)
            if label in COLUMNS:
                c = COLUMNS.index(label)
                labels = [labels[0], labels[c], *labels[1:c], *labels[c + 1 :]]
                rows = [(r[0], r[c], *r[1:c], *r[c + 1 :]) for r in rows]
            else:
                labels = [labels[0], rules.METRIC_BY_KEY[metric].label, *labels[1:]]
                rows = [(r[0], rules.metric_cell(self.results[i], metric), *r[1:]) for i, r in zip(self.view, rows)]
            widths = [max([len(h)] + [len(r[c]) for r in rows]) for c, h in enumerate(labels)]
            room = table.size.width - 2
            shown = columns_that_fit(widths, room, padding=table.cell_padding) if room > 2 else len(labels)
        else:
            shown = self._shown
        for label in labels[:shown]:
            table.add_column(label, key=label)
        for i, row in zip(self.view, rows):
            table.add_row(*row[:shown], key=f"{i + 1}:{self.results[i].name}")
        if self.view:
            at = self.view.index(keep) if keep in self.view else 0
            table.move_cursor(row=at, animate=False)
            self._select(self.view[at])
        else:
            self._select(None)
        self._update_view_line()

    def _filter(self) -> Filter | None:
        """The effective filter: the ``/`` expression, its kinds replaced by ``k``'s kind when one is chosen."""
        import dataclasses

        from lmscope.core.weights import table as rules

        parsed = rules.parse_filter(self.filter_text)
        if self.kind is not None:
            parsed = dataclasses.replace(parsed, kinds=(self.kind,))
        return None if parsed.empty else parsed

    def _fill_kinds(self, table: DataTable[str]) -> None:
        """The per-kind summary (the CLI's "by module kind" table) of the tensors done so far."""
        from lmscope.core.weights import summarize_by_kind
        from lmscope.core.weights.report import KIND_HEADERS, kind_rows, ordered
        from lmscope.tui.widgets.fit import columns_that_fit

        kinds = self.summary.by_kind if (self.summary is not None and not self.interrupted) else summarize_by_kind(ordered(self.results))
        # the spectral means first (what the summary is for), sizes after: the CLI's columns, reordered
        order = [KIND_HEADERS.index(h) for h in KIND_COLUMNS]
        headers = [KIND_HEADERS[c] for c in order]
        rows = [[r[c] for c in order] for r in kind_rows(kinds)]
        widths = [max([len(h)] + [len(r[c]) for r in rows]) for c, h in enumerate(headers)]
        room = table.size.width - 2
        shown = columns_that_fit(widths, room, padding=table.cell_padding) if room > 2 else len(headers)
        for label in headers[:shown]:
            table.add_column(label, key=f"kind:{label}")
        for row in rows:
            table.add_row(*row[:shown], key=f"kind:{row[0]}")
        self.view = []

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

        self._cells = []
        self.clusters = []
        self.view = []
        self.interrupted = False
        self._widths = [len(label) for label in COLUMNS]
        self.selected = None
        self._rebuild()
        self.query_one("#weights-detail", Static).update("")
        self.query_one(SpectrumPanel).show(None, None)

    def _update_view_line(self) -> None:
        """One line saying which rows are shown and how (and where the run goes: this process or Ray)."""
        from lmscope.core.weights import table as rules
        from lmscope.core.weights.distributed import ray_available

        text = Text()
        if self.by_kind:
            text.append("summary by module kind", style="bold")
            text.append(" · Enter filters the tensors by the kind · t back to tensors", style="dim")
        else:
            text.append(f"{len(self.view)}/{len(self.results)} rows", style="bold")
            arrow = " ↓" if self.descending else ""
            text.append(f" · sort {rules.SORT_LABELS.get(self.sort, self.sort)}{arrow}")
            where = " ".join(filter(None, [f"kind:{self.kind}" if self.kind else "", self.filter_text]))
            if where:
                text.append(f" · filter {where}")
        if ray_available():
            text.append(" · on Ray" if self.executor is not None else " · this process", style="dim")
        else:
            text.append(" · Ray: pip install 'lmscope[ray]'", style="dim")
        self.query_one("#weights-view", Static).update(text)

    def _update_status(self) -> None:
        from lmscope.tui import loader

        status = self.query_one("#weights-status", Static)
        model = self.lm.main_model
        if model is None:
            status.update(self.lm.status_text())
            self.query_one("#weights-main").display = False
            self.query_one("#weights-progress-row").display = False
            self.query_one("#weights-view").display = False
            return
        files = loader.local_weight_files(model)
        show_run = bool(files) or self.running or bool(self.results)
        self.query_one("#weights-main").display = show_run
        self.query_one("#weights-progress-row").display = show_run
        self.query_one("#weights-view").display = show_run
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
            if self.interrupted:
                last = self._last_event
                total = f"/{last.total}" if last is not None else ""
                text.append(f"Cancelled after {len(self.results)}{total} tensors. ")
                text.append(f"r resumes (the {len(self.results)} done are kept), ctrl+r starts again.", style="dim")
            elif self.summary is not None:
                text.append(f"Done: {self.summary.tensors_done}/{self.summary.tensors_total} tensors in {self.summary.seconds:.1f} s on {self.summary.device}. ")
                text.append("Press r to analyse again.", style="dim")
            else:
                text.append("Press r to analyse (statistics + SVD spectra, one row per tensor).", style="dim")
        status.update(text)

    # --- running ------------------------------------------------------------------------
    def action_run(self) -> None:
        """Analyse the main model's weights; after a cancel, resume (keep what is done)."""
        self._start(resume=self.interrupted and bool(self.results))

    def action_restart(self) -> None:
        """Analyse from scratch, even after a cancel."""
        self._start(resume=False)

    def _start(self, resume: bool) -> None:
        from lmscope.core.weights.records import Resume
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
        earlier = None
        if resume and model.model_id == self._model_id:
            seconds = self._last_event.elapsed_seconds if self._last_event is not None else 0.0
            earlier = Resume(tuple(self.results), tuple(self.clusters), seconds)
        self._run_id += 1
        self.summary = None
        self.device = None
        self.running = True
        self._model_id = model.model_id
        if earlier is None:
            self.results = []
            self._auto_select = True
            self._clear_results()
            self.query_one(ProgressBar).update(total=100, progress=0)
            self.query_one("#weights-progress-text", Static).update("starting…")
        else:
            self.interrupted = False
            self.query_one("#weights-progress-text", Static).update(f"resuming after {len(self.results)} tensors…")
        self._update_status()
        self.refresh_bindings()
        self.query_one(DataTable).focus()
        self._worker = self._weights_worker(self._run_id, model, self.executor, earlier)

    def action_cancel(self) -> None:
        """Cancel the run's worker: the worker returns within a poll; the engine stops at its next chunk.

        Quitting needs nothing here: Textual cancels a screen's workers when it unmounts, which sets
        the same event, so the engine is told to stop as the app closes and nothing waits for it.
        """
        if self.running and self._worker is not None:
            self._worker.cancel()

    @work(thread=True, group="weights", exit_on_error=False)
    def _weights_worker(self, run_id: int, model: LoadedModel, ray: str | None = None,
                        resume: Resume | None = None) -> None:
        """Forward the engine's events; return within a poll (50 ms) of Esc, ctrl+q or the app closing.

        The engine's cancel flag is this worker's ``cancelled_event`` (a ``threading.Event``): whoever
        cancels the worker stops the engine. The engine itself runs in a daemon thread
        (:class:`BackgroundEvents`): a LAPACK call in progress cannot be interrupted, and Textual's
        exit waits for this worker's executor thread, so this thread only polls and never computes.
        """
        from textual.worker import get_current_worker

        from lmscope.core.weights.background import BackgroundEvents
        from lmscope.tui import loader

        worker = get_current_worker()
        cancel = worker.cancelled_event
        try:
            background = BackgroundEvents(lambda: loader.weights_events(model, cancel, ray=ray, resume=resume), cancel)
            for event in background.events(stop=cancel.is_set):
                self.post_message(WeightsProgress(run_id, event))
        except Exception as err:  # noqa: BLE001 - shown, never a crash
            self.post_message(WeightsFinished(run_id, "failed", loader.error_line(err)))
            return
        self.post_message(WeightsFinished(run_id, "cancelled" if worker.is_cancelled else "done"))

    def on_weights_progress(self, message: WeightsProgress) -> None:
        if message.run_id != self._run_id:
            return
        event = message.event
        self._last_event = event
        bar = self.query_one(ProgressBar)
        bar.update(total=max(1, event.total), progress=event.index)
        self.query_one("#weights-progress-text", Static).update(progress_text(event))
        if event.result is not None:
            self.clusters.extend(event.clusters)
            self._add_row(event.result)
        if event.summary is not None:
            self.summary = event.summary
            self.device = event.summary.device
            if self.by_kind:
                self._rebuild()

    def _add_row(self, t: TensorStats) -> None:
        from lmscope.core.weights import table as rules

        self.results.append(t)
        index = len(self.results) - 1
        spectrum = t.spectra[0] if t.spectra else None
        if spectrum is not None and self.device is None:
            self.device = spectrum.device
            self._update_status()
        table = self.query_one("#weights-table", DataTable)
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
        if self.by_kind or self.sort != "arrival" or self.descending or self._rebuild_due:
            self._schedule_rebuild()  # the new row's place depends on the others: redraw (throttled)
        elif self._fit_columns():
            pass
        else:
            try:
                where = self._filter()
            except Exception:  # noqa: BLE001 - refused when typed
                where = None
            if where is None or rules.matches(t, where):
                self.view.append(index)
                table.add_row(*cells[: self._shown], key=f"{index + 1}:{t.name}")
            self._update_view_line()
        if index not in self.view:
            return
        row = self.view.index(index)
        if self._auto_select and spectrum is not None:
            # The first matrix: put the cursor on it (its highlight event draws it too).
            self._auto_select = False
            if table.cursor_row != row:
                table.move_cursor(row=row, animate=False)
            self._select(index)
        elif self.selected is None:
            self._select(self.view[min(max(table.cursor_row, 0), len(self.view) - 1)])

    def _schedule_rebuild(self) -> None:
        if not self._rebuild_due:
            self._rebuild_due = True
            self.set_timer(self.REBUILD_SECONDS, self._rebuild)

    def on_weights_finished(self, message: WeightsFinished) -> None:
        if message.run_id != self._run_id:
            return
        self.running = False
        self.interrupted = message.status == "cancelled"
        self.refresh_bindings()
        if message.status == "failed":
            self.notify(message.error or "failed", title="Weights analysis failed", severity="error", timeout=8)
        elif message.status == "cancelled":
            self.notify(f"cancelled after {len(self.results)} tensors: r resumes")
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
        if self._rebuild_due or self.by_kind:
            self._rebuild()
        self._update_status()

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        """The highlighted tensor is the selected one (a move by the user ends the auto-selection).

        A highlight whose row is no longer the cursor's is stale (rows stream in faster than the
        table's messages reach the screen, and a rebuild moves the cursor) and is ignored: it would
        select a row the cursor has left, and the next rebuild would put the cursor back on it.
        """
        if event.cursor_row != event.data_table.cursor_row:
            return
        if event.data_table.id == "weights-table" and not self.by_kind and 0 <= event.cursor_row < len(self.view):
            index = self.view[event.cursor_row]
            if self.selected is not None and index != self.selected:
                self._auto_select = False  # the user moved the cursor: leave it where they put it
            self._select(index)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        """Enter on a kind of the summary: show that kind's tensors."""
        if event.data_table.id == "weights-table" and self.by_kind:
            key = str(event.row_key.value or "")
            if key.startswith("kind:"):
                self.kind = key[len("kind:"):]
                self.by_kind = False
                self._rebuild()

    def _select(self, index: int | None) -> None:
        """Show tensor ``index``: its spectrum on the plot and its facts on the detail line."""
        from lmscope.tui.widgets.spectrum import SpectrumPanel

        if index is None:
            self.selected = None
            self.query_one("#weights-detail", Static).update("")
            self.query_one(SpectrumPanel).show(None, None)
            return
        if not 0 <= index < len(self.results):
            return
        t = self.results[index]
        self.selected = index
        spectrum = t.spectra[0] if t.spectra else None
        self.query_one(SpectrumPanel).show(short_name(t.name), spectrum, reason=None if spectrum else no_spectrum_reason(t))
        self.query_one("#weights-detail", Static).update(detail_text(t))

    # --- sort, filter, summary, executor ---------------------------------------------------
    def action_sort(self) -> None:
        from lmscope.core.weights import table as rules

        self.sort = rules.next_sort(self.sort)
        # metrics read best largest first; names, kinds and layers in their natural order
        self.descending = self.sort in {m.key for m in rules.METRICS}
        self.by_kind = False
        self._rebuild()

    def action_reverse(self) -> None:
        self.descending = not self.descending
        self._rebuild()

    def action_kind(self) -> None:
        from lmscope.core.weights import table as rules

        self.kind = rules.next_kind(self.kind, self.results)
        self.by_kind = False
        self._rebuild()

    def action_filter(self) -> None:
        box = self.query_one("#weights-filter", Input)
        box.value = self.filter_text
        box.display = True
        box.focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        from lmscope.core.errors import LmscopeError
        from lmscope.core.weights import table as rules

        if event.input.id != "weights-filter":
            return
        try:
            rules.parse_filter(event.value)
        except LmscopeError as err:
            self.notify(str(err), title="filter", severity="warning")
            return
        self.filter_text = event.value.strip()
        self.kind = None  # the expression says which kinds it wants
        self._close_filter()
        self.by_kind = False
        self._rebuild()

    def _close_filter(self) -> None:
        box = self.query_one("#weights-filter", Input)
        box.display = False
        self.query_one("#weights-table", DataTable).focus()

    def action_by_kind(self) -> None:
        self.by_kind = not self.by_kind
        self._rebuild()

    def action_executor(self) -> None:
        from lmscope.core.weights.distributed import resolve_address

        self.executor = None if self.executor is not None else ""
        if self.executor is not None:
            self.notify(f"the next run goes to Ray at {resolve_address(self.executor)!r} (one task per shard); e switches back",
                        title="executor")
        self._update_view_line()

    EXPORT_VIEW = "weights"
    FOLDER_PICTURES = "spectra, α, stable rank, clusters, the selected spectrum"

    def export_subject(self) -> tuple[list[TensorStats], WeightsSummary | None]:
        from lmscope.core.errors import UsageError

        if not self.results:
            raise UsageError("no weights results yet: press r to analyse first")
        return (list(self.results), self.summary)

    def export_folder_options(self) -> dict[str, object]:
        selected = self.results[self.selected] if self.selected is not None and self.selected < len(self.results) else None
        return {"tokenizer_json": self._tokenizer_json(), "selected": selected}

    def _tokenizer_json(self) -> Path | None:
        """tokenizer.json beside the analysed model's config or weights, when there is one."""
        from lmscope.core.vocab import find_tokenizer_json

        model = self.lm.main_model
        where = model.report.source.location if model is not None else None
        return find_tokenizer_json(where) if where else None


class FilterInput(Input):
    """The ``/`` filter box: Esc closes it (instead of reaching the screen's Cancel)."""

    BINDINGS = [Binding("escape", "close", "Close the filter", id="weights.filter.close")]

    def action_close(self) -> None:
        screen = self.screen
        if isinstance(screen, WeightsScreen):
            screen._close_filter()


def progress_text(event: WeightsEvent) -> str:
    """The progress line beside the bar: tensors, bytes, ETA — short enough to fit 80 columns whole."""
    done, total = human_bytes(event.bytes_done), human_bytes(event.bytes_total)
    # "54.50 MiB / 86.65 MiB" → "54.50/86.65 MiB" when both have the same unit
    if done.rsplit(" ", 1)[-1] == total.rsplit(" ", 1)[-1]:
        done = done.rsplit(" ", 1)[0]
    size = f"{done}/{total}"
    if event.index >= event.total:
        tail = f" · {event.elapsed_seconds:,.1f}\u00a0s"
    else:  # no-break spaces: a wrapped line never separates a number from its unit
        tail = f" · ETA\u00a0{event.eta_seconds:,.0f}\u00a0s" if event.eta_seconds is not None else ""
    return f"{event.index}/{event.total} tensors · {size}{tail}"


COLUMNS = ("tensor", "stable rank", "rank90", "α", "std", "shape", "mean", "zero %", "kind", "dtype")
# the table column that shows a sort metric (core.weights.table.METRICS keys); others get a column of their own
METRIC_COLUMN = {"stable_rank": "stable rank", "rank_90": "rank90", "alpha": "α", "std": "std", "mean": "mean",
                 "zero_fraction": "zero %"}
KIND_COLUMNS = ("kind", "tensors", "mean α", "stable rank", "rank90 ratio", "rank ratio", "matrices", "params", "size",
                "mean|w|", "std")
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


def no_spectrum_reason(t: TensorStats) -> str:
    """Why tensor ``t`` has no spectrum, in words (shown instead of the plot)."""
    shape = "×".join(str(d) for d in t.shape) or "scalar"
    if len(t.shape) < 2:
        return f"not a matrix ({len(t.shape)}-D, shape {shape}): no singular values to plot"
    for note in t.notes:
        if "spectrum" in note or "spectra" in note:
            return f"shape {shape}: {note}"
    return f"shape {shape}: no spectrum was computed for this tensor"


def detail_text(t: TensorStats) -> Text:
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
