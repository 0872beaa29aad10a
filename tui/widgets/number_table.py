"""A "what · value · exact integer" table whose caption wraps between whole values.

The Memory & FLOPs screen shows each number twice: human-readable
(``386.65 TFLOP``) and exact (``386,650,135,855,104``). Numbers never wrap
or get cut: only a label may fold onto a second line (and the screen widens
its tables column to the natural width, ``MemoryScreen.fit_tables``). The
caption (the weights per dtype) wraps between whole items
("bf16 148.41 GiB"), never inside one — Rich's own caption broke
"148.41 / GiB". Rendering happens in ``__rich_console__``, where Rich tells
us the width, so a resize re-lays it out with no code in the screen.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rich import box
from rich.console import Console, ConsoleOptions, RenderResult
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

PADDING = 1  # each side of each column


@dataclass
class NumberTable:
    """Rows of (what, value, exact); ``caption_items`` are shown below, wrapped between items."""

    title: str
    exact_header: str = ""
    rows: list[tuple[str | Text, str | Text, str]] = field(default_factory=list)
    caption_items: list[str] = field(default_factory=list)

    def add_row(self, what: str | Text, value: str | Text, exact: str = "") -> None:
        self.rows.append((what, value, exact))

    def table(self) -> Table:
        table = Table(title=self.title, title_justify="left", title_style="bold", box=box.SIMPLE_HEAD, expand=True, padding=(0, PADDING), show_header=False)
        table.add_column("what", overflow="fold")
        table.add_column("value", justify="right", no_wrap=True)
        table.add_column(self.exact_header, justify="right", style="dim", no_wrap=True)
        for what, value, exact_text in self.rows:
            table.add_row(what, value, exact_text)
        return table

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        """The table's measure (the caption wraps to any width)."""
        return Measurement.get(console, options, self.table())

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        width = options.max_width
        yield self.table()
        if self.caption_items:
            yield wrap_items(self.caption_items, width, style="dim")


def wrap_items(items: list[str], width: int, *, style: str = "", sep: str = "  ") -> Text:
    """``items`` joined by ``sep``, broken into lines only between items."""
    lines: list[str] = []
    line = ""
    for item in items:
        candidate = f"{line}{sep}{item}" if line else item
        if line and len(candidate) > width:
            lines.append(line)
            line = item
        else:
            line = candidate
    if line:
        lines.append(line)
    return Text("\n".join(lines), style=style)
