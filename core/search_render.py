"""Search answers as text (a table), JSON or Markdown: what ``lmscope search`` prints and the app exports.

Why in core: the CLI and the app's Export dialog render the same
:class:`~lmscope.core.hub.search.SearchAnswer` through these functions (via
``core.formats``), so both write the same bytes with the same keys. Every
output goes through :func:`~lmscope.core.redact.redact`.
"""

from __future__ import annotations

import io
import json
from typing import TYPE_CHECKING

from lmscope.core.redact import redact, shown
from lmscope.core.units import human_count

if TYPE_CHECKING:
    from lmscope.core.hub.search import SearchAnswer, SearchResult


def _gated(value: object) -> str:
    if value in (None, False, "false", "False"):
        return ""
    return "gated" if value is True else f"gated ({value})"


def search_title(answer: SearchAnswer) -> str:
    """One line naming how many results came from where for which query."""
    n = len(answer.results)
    if answer.source == "hub":
        return f"{n} model(s) on the Hub for '{shown(answer.query, 80)}'"
    return f"offline: {n} match(es) for '{shown(answer.query, 80)}'"


def render_table(results: list[SearchResult] | tuple[SearchResult, ...], *, title: str) -> str:
    """The results as a rich table, rendered to text."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title, title_justify="left", expand=False)
    if all(r.source != "hub" for r in results):  # offline: only ids and where they were found
        table.add_column("model", overflow="fold")
        table.add_column("found in")
        for r in results:
            table.add_row(r.model_id, "built-in catalog" if r.source == "catalog" else "local HF cache")
    else:
        for name, justify in (("model", "left"), ("params", "right"), ("downloads", "right"), ("likes", "right")):
            table.add_column(name, justify=justify, overflow="fold")  # type: ignore[arg-type]
        for name in ("license", "gated", "modified"):
            table.add_column(name)
        for r in results:
            table.add_row(
                r.model_id,
                human_count(r.parameters),
                human_count(r.downloads),
                human_count(r.likes),
                r.license or "",
                _gated(r.gated),
                (r.last_modified or "")[:10],
            )
    buffer = io.StringIO()
    Console(file=buffer, width=120, no_color=True, highlight=False).print(table)
    return buffer.getvalue()


def search_to_text(answer: SearchAnswer) -> str:
    """The table under its title (the title alone when nothing matched)."""
    title = search_title(answer)
    return redact(render_table(answer.results, title=title) if answer.results else title + "\n")


def search_to_json(answer: SearchAnswer) -> str:
    """``{"schema_version", "query", "source", "results": [...]}``, indented, newline-terminated."""
    return redact(json.dumps(answer.to_dict(), indent=2) + "\n")


_WHERE = {"hub": "Hugging Face Hub", "offline": "built-in catalog and the local Hugging Face cache (offline)"}


def search_to_markdown(answer: SearchAnswer) -> str:
    """A heading, where it searched, and one table row per result with the JSON's numbers."""
    lines = [f"# lmscope search: {answer.query or '(all)'}", "", f"Searched the {_WHERE.get(answer.source, answer.source)}.", ""]
    lines.append("| model | parameters | downloads | likes | license | gated | source |")
    lines.append("|---|---:|---:|---:|---|---|---|")
    for r in answer.results:
        cells = [r.model_id, r.parameters, r.downloads, r.likes, r.license, r.gated, r.source]
        lines.append("| " + " | ".join("" if c is None else str(c) for c in cells) + " |")
    return redact("\n".join(lines)) + "\n"
