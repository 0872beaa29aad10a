"""Every app-wide key, as data.

The footer, the help screen (F1 / ?) and the command palette all read these
lists, so a key and its description are written once. Function keys and ctrl
combinations work while a text input has focus (an Input swallows letters
and digits); the digit shortcuts are conveniences for when none has.
"""

from __future__ import annotations

from textual.binding import Binding

# (mode name, title, function key, digit) — the order of the tabs in the nav bar.
SCREENS: tuple[tuple[str, str, str, str], ...] = (
    ("search", "Search", "f2", "1"),
    ("summary", "Summary", "f3", "2"),
    ("memory", "Memory & FLOPs", "f4", "3"),
    ("compare", "Compare", "f5", "4"),
    ("weights", "Weights", "f6", "5"),
    ("plan", "Plan", "f7", "6"),
)

GLOBAL_BINDINGS: list[Binding] = [
    *(
        Binding(fkey, f"show('{mode}')", title, priority=True, show=False, key_display=fkey.upper(), id=f"screen.{mode}")
        for mode, title, fkey, _digit in SCREENS
    ),
    *(
        Binding(digit, f"show('{mode}')", title, show=False, id=f"screen.{mode}.digit")
        for mode, title, _fkey, digit in SCREENS
    ),
    Binding("f1", "help", "Help", priority=True, key_display="F1", id="app.help"),
    Binding("question_mark", "help", "Help", show=False, key_display="?", id="app.help.question"),
    Binding("ctrl+s", "export", "Export", priority=True, key_display="^s", id="app.export"),
    Binding("ctrl+o", "open_model", "Open model", priority=True, key_display="^o", show=False, id="app.open"),
    Binding("ctrl+q", "quit", "Quit", priority=True, show=False, key_display="^q", id="app.quit"),
    # ctrl+c quits as in any terminal program, or copies when text is selected (not Textual's "press ^q" prompt)
    Binding("ctrl+c", "copy_or_quit", "Copy selection, else quit", priority=True, show=False, key_display="^c", id="app.copy_or_quit"),
    Binding("u", "toggle_units", "Units GiB/GB", show=False, id="app.units"),
    Binding("q", "quit", "Quit", show=False, id="app.quit.q"),
]


def describe(binding: Binding) -> tuple[str, str]:
    """(keys as shown, description) for the help screen."""
    keys = binding.key_display or binding.key
    return keys, binding.description
