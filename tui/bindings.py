"""Every screen, app-wide key and palette command, as data.

The mode factory, the nav bar, the footer, the help screen (F1 / ?) and the
command palette all read these tables, so a screen, a key or a command is
written once. Adding a screen is one :class:`ScreenRow` here and one module
under ``screens/``. Function keys and ctrl combinations work while a text
input has focus (an Input swallows letters and digits); the digit shortcuts
are conveniences for when none has. Every binding has an id, so a user
keymap (``keymap.py``) can move any key.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from textual.binding import Binding


class ScreenRow(NamedTuple):
    """One main screen: its mode name, ``"module:Class"`` under ``lmscope.tui.screens``, tab title, keys.

    ``short`` is the tab title where the nav bar is narrow (None: the title).
    """

    mode: str
    target: str
    title: str
    fkey: str
    digit: str
    short: str | None = None


# The order of the tabs in the nav bar.
SCREENS: tuple[ScreenRow, ...] = (
    ScreenRow("search", "search:SearchScreen", "Search", "f2", "1"),
    ScreenRow("summary", "summary:SummaryScreen", "Summary", "f3", "2"),
    ScreenRow("memory", "memory:MemoryScreen", "Memory & FLOPs", "f4", "3", short="Memory"),
    ScreenRow("compare", "compare:CompareScreen", "Compare", "f5", "4"),
    ScreenRow("weights", "weights:WeightsScreen", "Weights", "f6", "5"),
    ScreenRow("plan", "plan:PlanScreen", "Plan", "f7", "6"),
)

GLOBAL_BINDINGS: list[Binding] = [
    *(
        Binding(row.fkey, f"show('{row.mode}')", row.title, priority=True, show=False, key_display=row.fkey.upper(),
                id=f"screen.{row.mode}")
        for row in SCREENS
    ),
    *(Binding(row.digit, f"show('{row.mode}')", row.title, show=False, id=f"screen.{row.mode}.digit") for row in SCREENS),
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


@dataclass(frozen=True)
class PaletteCommand:
    """One command palette entry: it runs ``action`` (an app action string, the same one a key runs).

    ``binding`` names the binding whose key the entry shows as its hint (after any user keymap);
    ``when`` names an app predicate (a method returning bool) that says whether the command
    applies now (None: always).
    """

    title: str
    help: str
    action: str
    binding: str | None = None
    when: str | None = None


PALETTE: tuple[PaletteCommand, ...] = (
    *(PaletteCommand(f"Go to {row.title}", f"the {row.title} screen", f"show('{row.mode}')", f"screen.{row.mode}")
      for row in SCREENS),
    PaletteCommand("Open model…", "pick from the catalog or type a Hub id / path", "open_model", "app.open"),
    PaletteCommand("Compare with…", "add a model to the comparison", "compare_with", "compare.add"),
    PaletteCommand("Export view as JSON", "write this view's data", "export('json')", "app.export"),
    PaletteCommand("Export view as Markdown", "write this view's data", "export('markdown')", "app.export"),
    PaletteCommand("Help: keys", "every key that works here", "help", "app.help"),
    PaletteCommand("Toggle units GiB / GB", "sizes in 2^30 or 10^9 bytes, everywhere", "toggle_units", "app.units"),
    PaletteCommand("Toggle inference / training", "the mode slider of Memory & Compare", "toggle_mode"),
    PaletteCommand("Remove last compared model", "the rightmost column of Compare", "remove_last", when="can_remove_last"),
    PaletteCommand("Reload model", "open the main model again", "reload", when="has_main_model"),
)


def describe(binding: Binding) -> tuple[str, str]:
    """(keys as shown, description) for the help screen."""
    keys = binding.key_display or binding.key
    return keys, binding.description
