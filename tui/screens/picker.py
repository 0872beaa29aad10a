"""A small modal to pick a model: type to filter the built-in catalog, or type any specifier.

Used by "Compare with…" (add a column) and "Open model…". Enter on a
highlighted entry picks it; Enter with nothing highlighted picks the typed
text as-is (a Hub id, a local folder, a .gguf/.onnx path). Escape cancels.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, OptionList
from textual.widgets.option_list import Option


class ModelPicker(ModalScreen[str | None]):
    """Dismisses with the chosen specifier, or None."""

    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="picker.cancel"),
        Binding("down", "cursor_down", "Next", show=False, id="picker.down"),
        Binding("up", "cursor_up", "Previous", show=False, id="picker.up"),
    ]

    def __init__(self, title: str, exclude: tuple[str, ...] = ()) -> None:
        super().__init__(id="picker")
        self.title_text = title
        self.exclude = {e.lower() for e in exclude}
        self._entries: list[tuple[str, str]] = []

    def compose(self) -> ComposeResult:
        with Vertical(id="picker-box", classes="dialog"):
            yield Label(self.title_text, classes="dialog-title")
            yield Input(placeholder="type to filter the catalog, or a Hub id / local path", id="picker-input")
            yield OptionList(id="picker-list")
            yield Label("↑↓ choose · Enter open · Esc cancel", classes="dialog-help")

    def on_mount(self) -> None:
        from lmscope.tui.loader import catalog_entries

        for entry in catalog_entries():
            if entry.model_id.lower() not in self.exclude:
                kinds = f" [{', '.join(entry.kinds)}]" if entry.kinds else ""
                self._entries.append((entry.model_id, f"{entry.model_id}  ({entry.family}){kinds}"))
        self._fill("")
        self.query_one(Input).focus()

    def _fill(self, query: str) -> None:
        options = self.query_one(OptionList)
        options.clear_options()
        q = query.strip().lower()
        words = q.split()
        matches = [(mid, label) for mid, label in self._entries if all(w in label.lower() for w in words)]
        matches.sort(key=lambda m: _rank(m[0], q))  # stable: catalog order within a rank
        options.add_options([Option(label, id=mid) for mid, label in matches])
        if matches and q:
            options.highlighted = 0

    def on_input_changed(self, event: Input.Changed) -> None:
        self._fill(event.value)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        options = self.query_one(OptionList)
        if options.highlighted is not None and options.option_count:
            self.dismiss(options.get_option_at_index(options.highlighted).id)
        elif event.value.strip():
            self.dismiss(event.value.strip())

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_cursor_down(self) -> None:
        self.query_one(OptionList).action_cursor_down()

    def action_cursor_up(self) -> None:
        self.query_one(OptionList).action_cursor_up()

    def action_cancel(self) -> None:
        self.dismiss(None)


def _rank(model_id: str, query: str) -> int:
    """0 for an exact id/name match, 1 for a name starting with the query, 2 otherwise."""
    mid = model_id.lower()
    name = mid.split("/", 1)[-1]
    if query and (mid == query or name == query):
        return 0
    if query and (name.startswith(query) or mid.startswith(query)):
        return 1
    return 2
