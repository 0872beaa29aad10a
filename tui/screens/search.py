"""Search: type-ahead search of the Hugging Face Hub, or of what is here when offline.

Typing waits ~300 ms for a pause, then searches in a thread worker; the
worker is exclusive, so a newer query replaces an older one and a slow answer
never overwrites a fresher one. Offline (``--offline``/``HF_HUB_OFFLINE``) or
when the Hub cannot be reached, it searches the built-in catalog and the
local HF cache instead and says so. Enter opens the highlighted model.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.timer import Timer
from textual.widgets import DataTable, Input, Static

from lmscope.core.units import exact_count, human_count
from lmscope.tui.abandon import Abandoned, abandonable
from lmscope.tui.messages import SearchFinished
from lmscope.tui.screens.base import LmscopeScreen

if TYPE_CHECKING:  # pragma: no cover
    from textual import events

    from lmscope.core.hub.search import SearchAnswer, SearchResult

DEBOUNCE_SECONDS = 0.3
# (key, label) of the result columns, most useful first: narrow terminals show the leading ones that fit
COLUMNS = (("model", "model"), ("params", "params"), ("where", "from"), ("downloads", "downloads"), ("likes", "likes"),
           ("license", "license"), ("gated", "gated"), ("family", "family"))


class SearchScreen(LmscopeScreen):
    """Input on top, results below."""

    MODE = "search"
    VIEW_NAME = "search results"
    HELP = "Type to search the Hub (offline: the built-in catalog and your HF cache); Enter opens the highlighted model."
    BINDINGS = [
        Binding("ctrl+f", "focus_input", "Search box", key_display="^f", id="search.focus"),
        Binding("ctrl+t", "compare_selected", "Compare with selected", key_display="^t", id="search.compare"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.results: list[SearchResult] = []  # in table order
        self.answer: SearchAnswer | None = None  # what the table shows (what Export writes)
        self.families: dict[str, str] = {}
        self.where = ""
        self._timer: Timer | None = None
        self._last_query: str | None = None
        self.shown_query: str | None = None  # the query whose results the table shows

    def compose_body(self) -> ComposeResult:
        yield Input(placeholder="search models: qwen3, llama 8b, gemma… (Enter opens)", id="search-input")
        yield Static(id="search-status")
        table: DataTable[str | Text] = DataTable(id="search-table", cursor_type="row", zebra_stripes=True)
        for key, label in COLUMNS:
            table.add_column(label, key=key)
        yield table

    def on_resize(self) -> None:
        self.call_after_refresh(self._fill_table)

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one(Input).focus()
        self.run_search("")

    def action_focus_input(self) -> None:
        self.query_one(Input).focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        if self._timer is not None:
            self._timer.stop()
        self._timer = self.set_timer(DEBOUNCE_SECONDS, lambda: self.run_search(event.value))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if self._timer is not None:
            self._timer.stop()
        table = self.query_one(DataTable)
        if self.results and self._last_query == event.value:
            self._open_row(table.cursor_row)
        elif event.value.strip():
            self.run_search(event.value)
            table.focus()

    def on_key(self, event: events.Key) -> None:
        # Down from the search box goes into the results.
        if event.key == "down" and self.focused is self.query_one(Input) and self.results:
            self.query_one(DataTable).focus()
            event.stop()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self._open_row(event.cursor_row)

    def _open_row(self, index: int) -> None:
        if 0 <= index < len(self.results):
            self.lm.open_model(self.results[index].model_id, slot=0, show="summary")

    def action_compare_selected(self) -> None:
        index = self.query_one(DataTable).cursor_row
        if 0 <= index < len(self.results):
            self.lm.add_compare(self.results[index].model_id)

    def run_search(self, query: str) -> None:
        self._last_query = query
        self.query_one("#search-status", Static).update(Text(f"searching {query!r}…" if query else "listing…", style="italic"))
        self._search_worker(query, self.lm.offline, self.lm.token)

    @work(thread=True, exclusive=True, group="search")
    def _search_worker(self, query: str, offline: bool, token: str | None) -> None:
        from lmscope.core.hub.search import SearchAnswer
        from lmscope.tui import loader

        error = None
        source = "offline"
        if loader.is_offline(offline) or not query.strip():
            rows = loader.search_offline(query)
            where = "built-in catalog and local cache" + (" (offline)" if loader.is_offline(offline) else "")
        else:
            try:
                rows = abandonable(lambda: loader.search_hub(query, token=token))
                where = "Hugging Face Hub"
                source = "hub"
            except Abandoned:
                return  # a newer query replaced this one (an exclusive worker), or the app is closing
            except Exception as err:  # noqa: BLE001 - any failure falls back to what is here
                error = loader.error_line(err)
                rows = loader.search_offline(query)
                where = "built-in catalog and local cache (Hub unreachable)"
        answer = SearchAnswer(query=query, source=source, results=tuple(rows))
        families = loader.catalog_families() if source == "offline" else {}  # the Hub's rows name no family
        self.post_message(SearchFinished(answer, where, families, error))

    def on_search_finished(self, message: SearchFinished) -> None:
        if message.query != self._last_query:
            return  # a newer query is on its way
        self.answer = message.answer
        self.results = list(message.answer.results)
        self.families = message.families
        self.shown_query = message.query
        self.where = message.where
        self._fill_table()
        status = f"{len(self.results)} result{'s' if len(self.results) != 1 else ''} from the {self.where}"
        if message.query.strip():
            status += f" for {message.query!r}"
        text = Text(status, style="dim")
        if message.error:
            text.append(f"  — {message.error}", style="yellow")
            self.notify(message.error, title="Hub search failed; searched what is here", severity="warning")
        self.query_one("#search-status", Static).update(text)

    def _fill_table(self) -> None:
        """The results, in as many leading columns as fit whole (model and params always)."""
        from lmscope.tui.widgets.fit import columns_that_fit

        table = self.query_one(DataTable)
        rows = [
            (row.model_id, human_count(row.parameters), row.source, exact_count(row.downloads), exact_count(row.likes),
             row.license or "—", _gated(row.gated), self.families.get(row.model_id, ""))
            for row in self.results
        ]
        widths = [max([len(label), *(len(r[i]) for r in rows)]) for i, (_key, label) in enumerate(COLUMNS)]
        room = (table.size.width or self.size.width) - 2  # the vertical scrollbar
        shown = columns_that_fit(widths, room, padding=table.cell_padding)
        cursor = table.cursor_row
        table.clear(columns=True)
        # Explicit widths: DataTable's own auto-width is measured lazily and was seen stale when the
        # table is refilled twice in quick succession (results, then the resize after first layout).
        for (key, label), width in zip(COLUMNS[:shown], widths):
            table.add_column(label, key=key, width=width)
        for row, cells in zip(self.results, rows):
            table.add_row(Text(cells[0], style="bold"), *cells[1:shown], key=row.model_id)
        if rows:
            table.move_cursor(row=min(cursor, len(rows) - 1), animate=False)

    def settled(self) -> bool:
        """True once the table shows the answer to what the box holds (snapshot tests and screenshots wait for it).

        This hook stays: a typed query waits on the debounce timer before any worker exists, so a wait for
        the workers right after typing cannot see it.
        """
        return self.shown_query == self.query_one(Input).value

    EXPORT_VIEW = "search"

    def export_subject(self) -> tuple[SearchAnswer]:
        from lmscope.core.hub.search import SearchAnswer

        return (self.answer if self.answer is not None else SearchAnswer(query="", source="offline", results=()),)


def _gated(value: object) -> str:
    if value in (None, False, "false", "False"):
        return "—" if value is None else "no"
    return str(value) if value is not True else "yes"
