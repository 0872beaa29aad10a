"""The one-line bar at the top of every screen: tabs, the model, its engine marker.

The tab labels carry their function keys so the user learns them by looking;
the right side says which model is open and whether its numbers are
"analytic" or confirmed by the exact engine ("exact ✓").
"""

from __future__ import annotations

from rich.text import Text
from textual.widget import Widget

from lmscope.tui.bindings import SCREENS
from lmscope.tui.host import ModelHost


class NavBar(Widget):
    """Tabs + model identity. Reads the app's state on every refresh (no state of its own)."""

    DEFAULT_CSS = """
    NavBar { height: 1; dock: top; background: $panel; }
    """

    def __init__(self, mode: str) -> None:
        super().__init__()
        self.mode = mode

    def render(self) -> Text:
        width = self.size.width
        host = self.app if isinstance(self.app, ModelHost) else None
        model = host.main_model if host is not None else None
        text = self._tabs(width, compact=False)
        if model is not None and width < 100:
            # narrow: glue each F-key to its title (the key dimmed) when the model's name would not fit otherwise
            room = width - text.cell_len - 1
            needed = len(model.model_id.rsplit("/", 1)[-1]) + 2 + len(model.marker) + 2
            if room < needed:
                text = self._tabs(width, compact=True)
        if model is not None:
            room = width - text.cell_len - 1
            right = model_label(model.model_id, model.marker, room)
            if right is not None:
                text.append(" " * max(1, room - right.cell_len))
                text.append_text(right)
        else:
            loading = host.loading_spec if host is not None else None
            if loading:
                text.append(f"  opening {loading}…", style="italic")
        return text

    def _tabs(self, width: int, *, compact: bool) -> Text:
        """The tabs: " F2 Search " (wide), "F2 Search " (narrow), "F2Search " with a dim key (compact)."""
        wide = width >= 110
        text = Text(" lmscope ", style="bold reverse") if width >= 100 else Text()
        for row in SCREENS:
            label = row.title if wide or row.short is None else row.short
            fkey = row.fkey
            active = "bold reverse blue" if row.mode == self.mode else ""
            if compact:
                text.append(fkey.upper(), style=active or "dim")
                text.append(label, style=active)
            else:
                # narrow: one space between tabs (the reversed active tab still stands out)
                text.append(f" {fkey.upper()} {label} " if width >= 100 else f"{fkey.upper()} {label}", style=active)
            if width < 100:
                text.append(" ")
        return text


def model_label(model_id: str, marker: str, room: int) -> Text | None:
    """The model and its engine marker in ``room`` cells: the whole id, else its name after the "/",
    else that name shortened with "…"; the marker ("[exact ✓]") is always kept. None when nothing fits."""
    marker_text = Text(f"[{marker}]", style="green" if marker.startswith("exact") else "yellow")
    name = model_id.rsplit("/", 1)[-1]
    for candidate in (model_id, name):
        if len(candidate) + 2 + marker_text.cell_len <= room:
            return Text(f" {candidate} ", style="bold") + marker_text
    space = room - 2 - marker_text.cell_len
    if space >= 6:
        return Text(f" {name[: space - 1]}… ", style="bold") + marker_text
    if room >= 8:  # a long transient marker ("analytic · exact…"): the name alone
        return Text(" " + (name if len(name) + 1 <= room else name[: room - 2] + "…"), style="bold")
    return None
