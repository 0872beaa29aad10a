"""Help (F1 or ?): every key that works right now, with what it does.

Built from the live bindings of the screen underneath (app-wide keys, the
screen's own, and the focused widget's), so it can never disagree with the
footer. Only lmscope's own keys are listed (bindings with an id) and only
those enabled right now: a widget's generic keys (a table's cursor keys,
Textual's copy) are not help for this screen. Escape, F1 or ? closes it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich import box
from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Label, Static

from lmscope.tui.bindings import SCREENS

if TYPE_CHECKING:  # pragma: no cover
    from textual.binding import ActiveBinding
    from textual.dom import DOMNode


class HelpScreen(ModalScreen[None]):
    """A table of keys; ``active_bindings`` is ``App.active_bindings`` taken before opening."""

    BINDINGS = [
        Binding("escape,q", "close", "Close", id="help.close"),
        Binding("question_mark", "close", "Close", show=False, id="help.close.question"),
    ]

    def __init__(self, active_bindings: dict[str, ActiveBinding], view_name: str = "", *, many_controls: bool = True,
                 about: str = "") -> None:
        super().__init__(id="help")
        self.rows = help_rows(active_bindings, many_controls=many_controls)
        self.view_name = view_name
        self.about = about  # the screen's HELP line

    def compose(self) -> ComposeResult:
        with Vertical(id="help-box", classes="dialog"):
            yield Label(f"Keys{' — ' + self.view_name if self.view_name else ''}", classes="dialog-title")
            if self.about:
                yield Static(self.about, id="help-about")
            with VerticalScroll(id="help-scroll"):
                yield Static(self._table(), id="help-table")
            yield Label("Esc close · ctrl+p command palette (every action by name)", classes="dialog-help")

    def _table(self) -> Table:
        table = Table(box=box.SIMPLE_HEAD, expand=True, padding=(0, 1))
        table.add_column("key", style="bold", no_wrap=True)
        table.add_column("does")
        table.add_column("where", style="dim")
        for keys, description, where in self.rows:
            table.add_row(keys, description, where)
        screens = "  ".join(f"{row.fkey.upper()}/{row.digit} {row.title}" for row in SCREENS)
        table.caption = f"Screens: {screens} (digits when no text box has focus)"
        return table

    def on_mount(self) -> None:
        self.query_one("#help-scroll").focus()  # arrows and PgUp/PgDn scroll a long list

    def action_close(self) -> None:
        self.dismiss(None)


FOCUS_ACTIONS = ("focus_next", "focus_previous", "app.focus_next", "app.focus_previous")


def help_rows(active_bindings: dict[str, ActiveBinding], *, many_controls: bool = True) -> list[tuple[str, str, str]]:
    """(keys, description, where) per action, keys of the same action joined, app keys last.

    Kept: our own bindings (they carry an id) that are enabled now, and
    tab / shift+tab where the screen has more than one control to move between.
    """
    grouped: dict[tuple[str, str], list[str]] = {}
    where_of: dict[tuple[str, str], str] = {}
    for key, active in active_bindings.items():
        binding = active.binding
        if not binding.description or binding.system or not active.enabled:
            continue
        if binding.id is None and not (many_controls and binding.action in FOCUS_ACTIONS):
            continue
        node = active.node
        where = _where(node)
        ident = (binding.action, binding.description)
        display = binding.key_display or key
        display = {"question_mark": "?", "pageup": "PgUp", "pagedown": "PgDn"}.get(display, display)
        grouped.setdefault(ident, [])
        if display not in grouped[ident]:
            grouped[ident].append(display)
        where_of.setdefault(ident, where)
    rows = [(" / ".join(keys), desc, where_of[(action, desc)]) for (action, desc), keys in grouped.items()]
    order = {"this screen": 0, "slider": 1, "everywhere": 2}
    rows.sort(key=lambda r: order.get(r[2], 3))  # stable: binding order within a group
    return rows


def _where(node: DOMNode) -> str:
    """Where a binding comes from: the app (everywhere), this screen, or a widget kind."""
    from textual.app import App
    from textual.screen import Screen

    if isinstance(node, App):
        return "everywhere"
    if isinstance(node, Screen):
        return "this screen"
    from lmscope.tui.widgets.settings_bar import SettingsBar

    if isinstance(node, SettingsBar):
        return "slider"
    return type(node).__name__.lower()
