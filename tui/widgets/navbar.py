"""The one-line bar at the top of every screen: tabs, the model, its engine marker.

The tab labels carry their function keys so the user learns them by looking;
the right side says which model is open and whether its numbers are
"analytic" or confirmed by the exact engine ("exact ✓").
"""

from __future__ import annotations

from rich.text import Text
from textual.widget import Widget

from lmscope.tui.bindings import SCREENS


class NavBar(Widget):
    """Tabs + model identity. Reads the app's state on every refresh (no state of its own)."""

    DEFAULT_CSS = """
    NavBar { height: 1; dock: top; background: $panel; }
    """

    def __init__(self, mode: str) -> None:
        super().__init__()
        self.mode = mode

    def render(self) -> Text:
        wide = self.size.width >= 110
        text = Text(" lmscope ", style="bold reverse") if self.size.width >= 100 else Text()
        for mode, title, fkey, _digit in SCREENS:
            label = title if wide or mode != "memory" else "Memory"
            chunk = f" {fkey.upper()} {label} "
            if mode == self.mode:
                text.append(chunk, style="bold reverse blue")
            else:
                text.append(chunk)
        model = getattr(self.app, "main_model", None)
        if model is not None:
            right = Text()
            right.append(f" {model.model_id} ", style="bold")
            marker = model.marker
            right.append(f"[{marker}]", style="green" if marker.startswith("exact") else "yellow")
            room = self.size.width - text.cell_len - 1
            if room > 8:
                if right.cell_len > room:
                    # no room for the marker: the whole id if it fits, else its start and an ellipsis
                    name = model.model_id
                    right = Text(" " + (name if len(name) + 1 <= room else name[: max(4, room - 2)] + "…"), style="bold")
                text.append(" " * max(1, room - right.cell_len))
                text.append_text(right)
        else:
            loading = getattr(self.app, "loading_spec", None)
            if loading:
                text.append(f"  opening {loading}…", style="italic")
        return text
