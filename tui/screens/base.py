"""What every main screen shares: the nav bar, the footer, and "redraw from app state".

Screens hold no model state of their own: the app owns the opened models and
the settings and bumps ``state_version`` when they change. A screen redraws
in :meth:`refresh_view` and, when it comes back to the front, only if the
version moved while it was hidden — switching tabs costs nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Footer

from lmscope.tui.widgets.navbar import NavBar

if TYPE_CHECKING:  # pragma: no cover
    from lmscope.core.report_folder import Folder
    from lmscope.tui.app import LmscopeApp


class LmscopeScreen(Screen[None]):
    """Base of the five main screens. Subclasses implement ``compose_body`` and ``refresh_view``."""

    MODE = ""
    VIEW_NAME = ""  # what Export calls this view
    HELP = ""  # one line the help dialog (F1) shows above the keys: what this screen is for

    def __init__(self) -> None:
        super().__init__(id=f"screen-{self.MODE}")
        self._seen_version = -1

    @property
    def lm(self) -> LmscopeApp:
        return self.app  # type: ignore[return-value]

    def compose(self) -> ComposeResult:
        yield NavBar(self.MODE)
        yield from self.compose_body()
        yield Footer()

    def compose_body(self) -> ComposeResult:  # pragma: no cover - overridden
        yield from ()

    def on_mount(self) -> None:
        self.sync()

    def on_screen_resume(self) -> None:
        self.sync()

    def sync(self, force: bool = False) -> None:
        """Redraw if the app's state changed since the last draw."""
        version = self.lm.state_version
        if force or version != self._seen_version:
            self._seen_version = version
            self.refresh_view()
        self.query_one(NavBar).refresh()

    def refresh_view(self) -> None:
        """Redraw everything from the app's state."""

    # The core.formats view this screen exports ("report", "compare", "search", "weights"; None: nothing).
    EXPORT_VIEW: str | None = None
    # What "Report folder" in the export dialog writes for this view (None: the view has no pictures).
    FOLDER_PICTURES: str | None = None

    def export_subject(self) -> tuple[object, ...]:
        """The subject core.formats renders for this view (the same objects the CLI renders).

        A subclass narrows the tuple to its core types (``tuple[Report]``, ``tuple[Plan]``…).

        Raises LmscopeError when there is nothing to export. May run in the export
        dialog's worker thread: read state, do not touch widgets.
        """
        from lmscope.core.errors import UsageError

        raise UsageError(f"nothing to export on the {self.VIEW_NAME or self.MODE} view")

    def export_folder_options(self) -> dict[str, object]:
        """Keyword options of this view's report folder (which pictures)."""
        return {}

    def export_text(self, fmt: str) -> str:
        """This view's data as ``fmt`` through core.formats: byte for byte the CLI's output of the same view."""
        from lmscope.core import formats
        from lmscope.core.errors import UsageError

        if self.EXPORT_VIEW is None:
            raise UsageError(f"nothing to export on the {self.VIEW_NAME or self.MODE} view")
        return formats.render(self.EXPORT_VIEW, fmt, *self.export_subject())

    def export_folder(self, path: str) -> Folder:
        """Write this view's report folder (report.md + pictures) at ``path``; returns the core ``Folder``.

        Called from the export dialog's worker thread: read state, do not touch widgets.
        """
        from lmscope.core import formats
        from lmscope.core.errors import UsageError

        if self.EXPORT_VIEW is None or self.FOLDER_PICTURES is None:
            raise UsageError(f"no pictures on the {self.VIEW_NAME or self.MODE} view")
        return formats.write_folder(self.EXPORT_VIEW, path, *self.export_subject(), **self.export_folder_options())

    def export_default_name(self) -> str:
        return f"lmscope-{self.MODE}"
