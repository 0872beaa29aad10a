"""Compare: two to four models side by side under the same settings.

Same sliders as Memory & FLOPs (the settings are the app's, shared). One row
per quantity, one column per model; every column after the first shows its
ratio to the first and is coloured where it differs (larger in yellow,
smaller in green). ``a`` adds a model (a picker over the catalog, or any
specifier), ``x`` removes the highlighted one.
"""

from __future__ import annotations

from typing import Any, Callable

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Static

from lmscope.core.units import exact_count, human_bytes, human_count, human_flops, ratio, tokens
from lmscope.tui.messages import SettingsChanged
from lmscope.tui.screens.base import LmscopeScreen
from lmscope.tui.widgets.settings_bar import SettingsBar

# (row label, how to get the number from (model, estimate), how to show it). Numbers are None when unknown.
Row = tuple[str, Callable[[Any, Any], Any], Callable[[Any], str]]
ROWS: tuple[Row, ...] = (
    ("parameters", lambda m, e: e.parameters.total, human_count),
    ("active / token", lambda m, e: e.parameters.active_per_token, human_count),
    ("context", lambda m, e: m.context_length, lambda v: tokens(v) if v else "—"),
    ("layers", lambda m, e: m.architecture.num_layers, exact_count),
    ("KV heads × dim", lambda m, e: None, str),
    ("weights", lambda m, e: e.memory.weights_bytes_selected, human_bytes),
    ("KV / token", lambda m, e: e.memory.kv_cache_bytes_per_token, human_bytes),
    ("KV cache", lambda m, e: e.memory.kv_cache_bytes, human_bytes),
    ("state", lambda m, e: e.memory.state_bytes, human_bytes),
    ("activations", lambda m, e: e.memory.activation_bytes, human_bytes),
    ("inference total", lambda m, e: e.memory.inference_total_bytes, human_bytes),
    ("training total", lambda m, e: e.memory.training_total_bytes, human_bytes),
    ("prefill FLOPs", lambda m, e: e.flops.prefill_total, human_flops),
    ("decode FLOPs / token", lambda m, e: e.flops.decode_per_token, human_flops),
    ("training step FLOPs", lambda m, e: e.flops.training_step, human_flops),
)


class CompareScreen(LmscopeScreen):
    """The app's models (main first) as columns."""

    MODE = "compare"
    VIEW_NAME = "comparison"
    BINDINGS = [
        Binding("a,plus", "add", "Add model", id="compare.add"),
        Binding("x,delete,minus", "remove", "Remove model", id="compare.remove"),
        Binding("s", "type_seq_len", "Type seq len", show=False, id="compare.type_seq_len"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.current_estimates: list[Any] = []

    def compose_body(self) -> ComposeResult:
        yield SettingsBar(self.lm.settings, id="compare-settings")
        yield Static(id="compare-status")
        table: DataTable = DataTable(id="compare-table", cursor_type="column", zebra_stripes=True, header_height=2)
        yield table

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one(DataTable).focus()

    def on_settings_changed(self, event: SettingsChanged) -> None:
        event.stop()
        self.lm.set_settings(event.settings)

    def action_type_seq_len(self) -> None:
        self.query_one(SettingsBar).action_type_seq_len()

    def action_add(self) -> None:
        self.lm.action_compare_with()

    def action_remove(self) -> None:
        table = self.query_one(DataTable)
        column = table.cursor_column - 1  # column 0 holds the row names
        models = self.lm.compare_models
        if column < 0 or column >= len(models):
            column = len(models) - 1
        if len(models) <= 1:
            self.notify("nothing to remove: add a model with a", severity="warning")
            return
        self.lm.remove_model(column)

    def refresh_view(self) -> None:
        models = self.lm.compare_models
        settings = self.lm.settings
        status = self.query_one("#compare-status", Static)
        table = self.query_one(DataTable)
        main = self.lm.main_model
        bar = self.query_one(SettingsBar)
        if main is not None and (bar.settings != settings or getattr(self, "_bar_model", None) != main.model_id):
            bar.show(settings, main.context_length, main.checkpoint_dtype)
            self._bar_model = main.model_id
        cursor = table.cursor_column
        table.clear(columns=True)
        estimates = [self.lm.estimate(m, settings) for m in models]
        models = [m for m, e in zip(models, estimates) if e is not None]
        self.current_estimates = [e for e in estimates if e is not None]
        pending = self.lm.pending_compare
        if len(models) < 2:
            hint = "Press a to add a model to compare with" + (f" (opening {', '.join(pending)}…)" if pending else "") + "."
            status.update(Text(hint, style="italic"))
        else:
            status.update(
                Text(f"{len(models)} models at {tokens(settings.seq_len)} tokens × batch {settings.batch}, {settings.dtype} weights, {settings.mode}; ratios vs the first", style="dim")
            )
        if not models:
            return
        table.add_column("", key="name", width=max(len(label) for label, _get, _show in ROWS))
        for i, m in enumerate(models):
            table.add_column(Text(f"{m.model_id}\n[{m.marker}]"), key=f"m{i}")
        for label, get, show in ROWS:
            if label == "KV heads × dim":
                shapes = [f"{m.architecture.num_kv_heads} × {m.architecture.head_dim}" for m in models]
                cells = [Text(v, style="yellow" if i and v != shapes[0] else "") for i, v in enumerate(shapes)]
                table.add_row(Text(label, style="bold"), *cells)
                continue
            values = [get(m, e) for m, e in zip(models, self.current_estimates)]
            cells = [compare_cell(v, values[0], show, first=(i == 0)) for i, v in enumerate(values)]
            table.add_row(Text(label, style="bold"), *cells)
        if cursor:
            table.move_cursor(column=min(cursor, len(models)))

    def export_text(self, fmt: str) -> str:
        return self.lm.export_compare(fmt)

    FOLDER_PICTURES = "memory, parameters charts; diagrams"

    def export_folder(self, path: str) -> Any:
        return self.lm.export_compare_folder(path)


def compare_cell(value: Any, base: Any, show: Callable[[Any], str], *, first: bool) -> Text:
    """One cell: the value, and for later columns its ratio to the first, coloured when different."""
    if value is None:
        return Text("—", style="dim")
    text = Text(show(value))
    if first or not isinstance(value, (int, float)) or not isinstance(base, (int, float)):
        return text
    if value == base:
        text.append("  =", style="dim")
        return text
    text.stylize("yellow" if value > base else "green")
    r = ratio(value, base)
    if r:
        text.append(f"  {r}", style="bold yellow" if value > base else "bold green")
    return text
