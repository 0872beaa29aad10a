"""Compare: two to four models side by side under the same settings.

Same sliders as Memory & FLOPs (the settings are the app's, shared). One row
per quantity, one column per model; every column after the first shows its
ratio to the first and is coloured where it differs (larger in yellow,
smaller in green). ``a`` adds a model (a picker over the catalog, or any
specifier); on the highlighted model (←/→), ``x`` removes it, ``b`` makes it
the baseline (first column, and the main model of the other screens), and
shift+←/→ move it; the ratios follow the new first column.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Static

from lmscope.core.units import exact_count, human_bytes, human_count, human_flops, ratio, tokens
from lmscope.tui.messages import PlansReady
from lmscope.tui.screens.sliders import SlidersScreen
from lmscope.tui.widgets.settings_bar import SettingsBar

if TYPE_CHECKING:  # pragma: no cover
    from lmscope.core.hardware import Accelerator, LocalGPU
    from lmscope.core.report import CompareReport
    from lmscope.core.report.schema import JSONObject
    from lmscope.core.results import Estimate, Settings
    from lmscope.tui.state import Deployment, LoadedModel

    # what the column plans answer for: the models (id, count marker), settings, hardware, detected GPUs
    PlansKey = tuple[tuple[tuple[str, str], ...], Settings, Deployment, tuple[LocalGPU, ...] | None]

Number = int | float  # a row's quantity (counts and bytes are ints; a speed is a float)
# (row label, short label for narrow terminals, how to get the number from (model, estimate), how to show it).
# Numbers are None when unknown.
Row = tuple[str, str, Callable[["LoadedModel", "Estimate"], Number | None], Callable[[Number], str]]
ROWS: tuple[Row, ...] = (
    ("parameters", "params", lambda m, e: e.parameters.total, human_count),
    ("active / token", "active/tok", lambda m, e: e.parameters.active_per_token, human_count),
    ("context", "context", lambda m, e: m.context_length, lambda v: tokens(int(v)) if v else "—"),
    ("layers", "layers", lambda m, e: m.architecture.num_layers if m.architecture is not None else None, exact_count),
    ("KV heads × dim", "KV heads×dim", lambda m, e: None, str),
    ("weights", "weights", lambda m, e: e.memory.weights_bytes_selected, human_bytes),
    ("KV / token", "KV/tok", lambda m, e: e.memory.kv_cache_bytes_per_token, human_bytes),
    ("KV cache", "KV cache", lambda m, e: e.memory.kv_cache_bytes, human_bytes),
    ("state", "state", lambda m, e: e.memory.state_bytes, human_bytes),
    ("activations", "activations", lambda m, e: e.memory.activation_bytes, human_bytes),
    ("inference total", "infer total", lambda m, e: e.memory.inference_total_bytes, human_bytes),
    ("training total", "train total", lambda m, e: e.memory.training_total_bytes, human_bytes),
    ("prefill FLOPs", "prefill", lambda m, e: e.flops.prefill_total, human_flops),
    ("decode FLOPs / token", "decode/tok", lambda m, e: e.flops.decode_per_token, human_flops),
    ("training step FLOPs", "train step", lambda m, e: e.flops.training_step, human_flops),
    # on the app's hardware (F7 Plan's GPU, count, parallelism): core.plan, filled in by a worker
    ("fits on the GPUs", "fits on GPUs", lambda m, e: None, str),
    ("decode tokens/s", "decode tok/s", lambda m, e: None, lambda v: f"{v:,.1f}"),
)
PLAN_ROWS = {"fits on the GPUs": "fits", "decode tokens/s": "decode_tokens_per_s"}
CELL_PADDING = 1  # DataTable's default, each side
MIN_NAME_WIDTH = 10


def wrap_name(model_id: str, width: int) -> list[str]:
    """``model_id`` in lines of at most ``width`` cells: the organisation on a line of its own
    when the id does not fit, then the name broken after "-", "_" or "." (mid-word only if one piece is too long)."""
    if len(model_id) <= width:
        return [model_id]
    if "/" in model_id:
        org, name = model_id.split("/", 1)
        return _wrap_pieces(org + "/", width) + _wrap_pieces(name, width)
    return _wrap_pieces(model_id, width)


def _wrap_pieces(text: str, width: int) -> list[str]:
    import re

    pieces = re.findall(r"[^/\-_.]+[/\-_.]?|[/\-_.]", text)
    lines: list[str] = []
    line = ""
    for piece in pieces:
        if line and len(line) + len(piece) > width:
            lines.append(line)
            line = ""
        while len(piece) > width:  # one piece longer than the column: hard break
            lines.append(piece[:width])
            piece = piece[width:]
        line += piece
    if line:
        lines.append(line)
    return lines


def layout_for(width: int, cells: list[list[tuple[str, str]]]) -> tuple[bool, bool]:
    """(short labels?, value and ratio on two lines?) for ``width`` cells, the widest layout that fits.

    ``cells[row][model]`` = (value text, ratio text). Wide first: full labels and
    one-line cells; then short labels; then each value above its ratio, which
    halves the columns (four models fit in 80 columns).
    """
    n = len(cells[0]) if cells else 0
    for short, two_lines in ((False, False), (True, False), (True, True)):
        label_w = max(len(row[1] if short else row[0]) for row in ROWS)
        need = label_w + 2 * CELL_PADDING
        for i in range(n):
            col = [max(len(v), len(r)) if two_lines else len(v) + (len(r) + 2 if r else 0) for v, r in (row[i] for row in cells)]
            need += max(max(col), MIN_NAME_WIDTH) + 2 * CELL_PADDING
        if need <= width:
            return short, two_lines
    return True, True


class CompareScreen(SlidersScreen):
    """The app's models (main first) as columns."""

    MODE = "compare"
    VIEW_NAME = "comparison"
    HELP = "Two to four models under the same sliders; ratios against the first column, differences coloured."
    BINDINGS = [
        Binding("a,plus", "add", "Add model", id="compare.add"),
        Binding("x,delete,minus", "remove", "Remove", id="compare.remove"),
        Binding("b", "baseline", "Baseline", id="compare.baseline"),
        Binding("shift+left,less_than_sign", "move(-1)", "Move left", key_display="shift+←", show=False, id="compare.move_left"),
        Binding("shift+right,greater_than_sign", "move(1)", "Move right", key_display="shift+→", show=False, id="compare.move_right"),
        Binding("s", "type_seq_len", "Type seq len", show=False, id="compare.type_seq_len"),
    ]

    FIRST_FOCUS = "#compare-table"

    def __init__(self) -> None:
        super().__init__()
        self.current_estimates: list[Estimate] = []
        self.table_layout = (False, False)  # (short labels, value above ratio) of the last layout (tests read it)
        self._laid_out_for: int | None = None  # the table width the last layout was made for
        self._plans_key: PlansKey | None = None  # the request the column plans answer
        self._plans: dict[str, JSONObject] = {}  # model id -> core.plan.plan_summary (or {"error": …}) for _plans_key

    def compose_body(self) -> ComposeResult:
        yield from self.compose_bars()
        yield Static(id="compare-status")
        table: DataTable[Text] = DataTable(id="compare-table", cursor_type="column", zebra_stripes=True, header_height=2)
        yield table

    def action_add(self) -> None:
        self.lm.action_compare_with()

    def highlighted(self) -> int:
        """Index of the highlighted model (the cursor's column; the names column counts as the first model)."""
        column = self.query_one(DataTable).cursor_column - 1  # column 0 holds the row names
        return max(0, min(column, len(self.lm.compare_models) - 1))

    def action_remove(self) -> None:
        models = self.lm.compare_models
        if len(models) <= 1:
            self.notify("nothing to remove: add a model with a", severity="warning")
            return
        self.lm.remove_model(self.highlighted())

    def action_baseline(self) -> None:
        index = self.highlighted()
        if index:
            self.lm.move_model(index, 0)
            self.query_one(DataTable).move_cursor(column=1)

    def action_move(self, step: int) -> None:
        index = self.highlighted()
        to = index + step
        if 0 <= to < len(self.lm.compare_models):
            self.lm.move_model(index, to)
            self.query_one(DataTable).move_cursor(column=to + 1)

    def table_room(self) -> int:
        """Cells the table can use (before the first layout the table has no size yet: the screen's, or the app's)."""
        width = self.query_one(DataTable).size.width or self.size.width or self.app.size.width
        return width - 2  # the vertical scrollbar

    def on_resize(self) -> None:
        if self._laid_out_for != self.table_room():
            self.sync(force=True)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Remove, baseline and move need two models (help and footer leave them out otherwise)."""
        if action in ("remove", "baseline", "move"):
            return len(self.lm.compare_models) > 1
        return True

    def refresh_view(self) -> None:
        models = self.lm.compare_models
        settings = self.lm.settings
        status = self.query_one("#compare-status", Static)
        table = self.query_one(DataTable)
        main = self.lm.main_model
        bar = self.query_one(SettingsBar)
        if main is not None:
            bar.follow(settings, main)
        cursor = table.cursor_column
        table.clear(columns=True)
        self.refresh_bindings()  # remove/baseline/move need two models
        estimates = [self.lm.estimate(m, settings) for m in models]
        models = [m for m, e in zip(models, estimates) if e is not None]
        self.current_estimates = [e for e in estimates if e is not None]
        pending = self.lm.pending_compare
        if len(models) < 2:
            hint = "Press a to add a model to compare with" + (f" (opening {', '.join(pending)}…)" if pending else "") + "."
            status.update(Text(hint, style="italic"))
        else:
            gpu = f"; GPU rows: {settings.num_gpus} × {self.lm.deployment.gpu} (F7 Plan changes it)" if self.lm.deployment.gpu else ""
            status.update(
                Text(f"{len(models)} models at {tokens(settings.seq_len)} tokens × batch {settings.batch}, {settings.dtype} weights, {settings.mode}; ratios vs the first{gpu}", style="dim")
            )
        if not models:
            return
        plans = self._plans_for(models, settings)
        grid = [compare_row(label, get, show, models, self.current_estimates, plans) for label, _short, get, show in ROWS]
        room = self.table_room()
        short, two_lines = layout_for(room, [[(v.plain, r.plain) for v, r in row] for row in grid])
        self.table_layout = (short, two_lines)  # tests read it
        self._laid_out_for = room
        label_w = max(len(row[1] if short else row[0]) for row in ROWS)
        table.add_column("", key="name", width=label_w)
        widths = []
        for i in range(len(models)):
            col = [max(len(v), len(r)) if two_lines else len(v) + (len(r) + 2 if r else 0) for v, r in ((row[i][0].plain, row[i][1].plain) for row in grid)]
            widths.append(max(max(col), MIN_NAME_WIDTH))
        whole = [max(w, len(m.model_id)) for w, m in zip(widths, models)]
        if label_w + sum(w + 2 * CELL_PADDING for w in whole) + 2 * CELL_PADDING <= room:
            widths = whole  # room for every id on one line
        headers = [wrap_name(m.model_id, w) for m, w in zip(models, widths)]
        table.header_height = max(len(h) for h in headers) + 1
        for i, (m, lines, w) in enumerate(zip(models, headers, widths)):
            header = Text("\n".join(lines))
            header.append(f"\n[{m.marker}]", style="green" if m.marker.startswith("exact") else "yellow")
            table.add_column(header, key=f"m{i}", width=w)
        for (label, short_label, _get, _show), row in zip(ROWS, grid):
            out = []
            for value, r in row:
                cell = value.copy()
                if r.plain:
                    cell.append("\n" if two_lines else "  ")
                    cell.append_text(r)
                out.append(cell)
            table.add_row(Text(short_label if short else label, style="bold"), *out, height=2 if two_lines else 1)
        table.move_cursor(column=max(1, min(cursor, len(models))))  # a model, never the names column

    # --- the models planned on the app's hardware (a worker; core.plan does the sums) ----------------
    def _plans_for(self, models: list[LoadedModel], settings: Settings) -> list[JSONObject | None]:
        """The plan summaries for these models, or Nones while a worker computes them."""
        lm = self.lm
        if not lm.ensure_gpus():
            return [None] * len(models)
        key: PlansKey = (tuple((m.model_id, m.marker) for m in models), settings, lm.deployment, lm.local_gpus)
        if key != self._plans_key:
            self._plans_key = key
            self._plans = {}
            self._plan_worker(key, list(models), settings, lm.deployment, lm.local_gpus)
        return [self._plans.get(m.model_id) for m in models]

    @work(thread=True, group="compare-plans", exclusive=True, exit_on_error=False)
    def _plan_worker(self, key: PlansKey, models: list[LoadedModel], settings: Settings, deployment: Deployment,
                     local: tuple[LocalGPU, ...] | None) -> None:
        from lmscope.core.plan import plan_summary
        from lmscope.tui import loader

        out: dict[str, JSONObject] = {}
        hardware: Accelerator | None = None
        error: str | None = None
        try:
            hardware = loader.accelerator_for(deployment.gpu or "", local or ())
        except Exception as err:  # noqa: BLE001
            error = loader.error_line(err)
        for model in models:
            if hardware is None:
                out[model.model_id] = {"error": error}
                continue
            try:
                out[model.model_id] = plan_summary(loader.plan_for(model, settings, deployment, hardware))
            except Exception as err:  # noqa: BLE001 - a refused plan reads "—"
                out[model.model_id] = {"error": loader.error_line(err)}
        self.post_message(PlansReady(key, out))

    def on_plans_ready(self, message: PlansReady) -> None:
        if message.key != self._plans_key:
            return
        self._plans = message.plans
        self.sync(force=True)

    EXPORT_VIEW = "compare"
    FOLDER_PICTURES = "memory, parameters charts; diagrams"

    def export_subject(self) -> tuple[CompareReport]:
        return (self.lm.compare_report(),)


def compare_row(label: str, get: Callable[[LoadedModel, Estimate], Number | None], show: Callable[[Number], str],
                models: list[LoadedModel], estimates: list[Estimate],
                plans: list[JSONObject | None] | None = None) -> list[tuple[Text, Text]]:
    """One row's cells as (value, ratio to the first column) pairs, coloured where they differ.

    The plan rows read ``plans`` (one ``core.plan.plan_summary`` per model, None while pending).
    """
    if label in PLAN_ROWS:
        key = PLAN_ROWS[label]
        summaries = plans or [None] * len(models)
        if key == "fits":
            return [(fits_text(p), Text()) for p in summaries]
        values = [p.get(key) if p else None for p in summaries]
        cells = [compare_cell(v, values[0], show, first=(i == 0)) for i, v in enumerate(values)]
        # a speed for a model that does not fit is only "were it to fit": dimmed, no ratio
        return [(Text(cell.plain, style="dim"), Text()) if p and p.get("fits") is False else (cell, r)
                for (cell, r), p in zip(cells, summaries)]
    if label == "KV heads × dim":
        shapes = [f"{m.architecture.num_kv_heads} × {m.architecture.head_dim}" if m.architecture is not None else "—"
                  for m in models]
        return [(Text(v, style="yellow" if i and v != shapes[0] else ""), Text()) for i, v in enumerate(shapes)]
    values = [get(m, e) for m, e in zip(models, estimates)]
    return [compare_cell(v, values[0], show, first=(i == 0)) for i, v in enumerate(values)]


def compare_cell(value: Number | None, base: Number | None, show: Callable[[Number], str], *,
                 first: bool) -> tuple[Text, Text]:
    """One cell: the value, and for later columns its ratio to the first ("=" when equal), coloured when different."""
    if value is None:
        return Text("—", style="dim"), Text()
    text = Text(show(value))
    if first or not isinstance(value, (int, float)) or not isinstance(base, (int, float)):
        return text, Text()
    if value == base:
        return text, Text("=", style="dim")
    text.stylize("yellow" if value > base else "green")
    return text, Text(ratio(value, base), style="bold yellow" if value > base else "bold green")


def fits_text(summary: JSONObject | None) -> Text:
    """"fits" / "no fit" (the plan's verdict), "…" while planning, "—" when no plan could be made."""
    if summary is None:
        return Text("…", style="dim")
    if summary.get("error") or summary.get("fits") is None:
        return Text("—", style="dim")
    return Text("fits", style="bold green") if summary["fits"] else Text("no fit", style="bold red")

