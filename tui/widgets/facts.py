"""Two-column "name  value" tables: how the Summary screen shows facts.

The core hands us dataclasses and dicts (tokenizer facts, capabilities, Hub
metadata); :func:`rows_of` turns any of them into display rows without
knowing their fields, so new core fields appear without a UI change.
"""

from __future__ import annotations

from dataclasses import fields, is_dataclass
from enum import Enum
from typing import TypeAlias

from rich import box
from rich.table import Table
from rich.text import Text

# One table row: a name and a value of any kind — :func:`show` formats whatever the core hands over
# (numbers, enums, dataclasses, dicts, a rich Text shown as is), hence ``object``, not a narrower type.
Fact: TypeAlias = tuple[str, object]


def show(value: object) -> str:
    """A short display form of one value."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, (list, tuple)) and value and all(isinstance(v, tuple) and len(v) == 2 and isinstance(v[0], str) for v in value):
        value = dict(value)  # (key, value) pairs, e.g. quantization details: "fmt = e4m3", not "fmt, e4m3"
    if isinstance(value, (list, tuple, set, frozenset)):
        items = [show(v) for v in value]
        text = ", ".join(items[:12])
        return text + (f", … ({len(items)} in all)" if len(items) > 12 else "")
    if isinstance(value, dict):
        return ", ".join(f"{k} = {show(v)}" for k, v in list(value.items())[:12])
    if is_dataclass(value):
        return ", ".join(f"{name}={show(v)}" for name, v in rows_of(value))
    text = " ".join(str(value).split())
    return text if len(text) <= 200 else text[:199] + "…"


def rows_of(obj: object, skip: tuple[str, ...] = ()) -> list[Fact]:
    """(name, value) pairs of a dataclass or dict, leaving out empty values and ``skip``."""
    if obj is None:
        return []
    if is_dataclass(obj):
        pairs = [(f.name, getattr(obj, f.name)) for f in fields(obj)]
    elif isinstance(obj, dict):
        pairs = list(obj.items())
    else:
        return [("value", obj)]
    return [(str(k).replace("_", " "), v) for k, v in pairs if k not in skip and v not in (None, (), [], {}, "")]


def facts_table(title: str, rows: list[Fact], *, empty: str = "—") -> Table:
    """A borderless two-column table with a title."""
    table = Table(title=title, title_justify="left", title_style="bold", box=box.SIMPLE_HEAD, show_header=False, expand=True, padding=(0, 1))
    table.add_column("name", style="dim", no_wrap=True, max_width=24)
    table.add_column("value", ratio=1)
    if not rows:  # in the wrapping column: the narrow name column cut "none (offline, catalog …"
        table.add_row("", Text(empty, style="dim"))
    for name, value in rows:
        table.add_row(name, value if isinstance(value, Text) else show(value))
    return table
