"""Export: write the current view's data to JSON or Markdown, or a report folder with its pictures.

The dialog only asks "which format, where": the formats, their labels and
file suffixes come from the core registry (``core.formats``, the CLI's own
table), the view supplies the text (``export_text(fmt)``, the CLI's renderers
on the view's subject) and
``core.export.write_atomic`` writes it through a temporary file in the same
folder and a rename, so a crash never leaves half a file. "Report folder"
(views with pictures: ``FOLDER_PICTURES``) writes ``report.md`` plus the
view's pictures as PNG and SVG (``export_folder(path)``); rendering takes a
second or two, so it runs in a thread worker and the dialog stays responsive.
"""

from __future__ import annotations

import os
import re
from typing import TYPE_CHECKING

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, RadioButton, RadioSet

from lmscope.core import formats
from lmscope.tui.host import ModelHost

if TYPE_CHECKING:  # pragma: no cover
    from lmscope.core.report_folder import Folder
    from lmscope.tui.screens.base import LmscopeScreen

# The dialog's choices in order; "folder" only on views with pictures.
FORMATS = ("json", "markdown", formats.FOLDER)


class FormatChoice(RadioSet):
    """A RadioSet where the arrows choose (Textual's only move a highlight until Enter/Space)."""

    BINDINGS = [
        Binding("down,right", "choose(1)", "Next format", show=False, id="export.format.next_button"),
        Binding("up,left", "choose(-1)", "Previous format", show=False, id="export.format.previous_button"),
    ]

    def action_choose(self, step: int) -> None:
        buttons = list(self.query(RadioButton))
        if not buttons:
            return
        current = self.pressed_index if self.pressed_index >= 0 else 0
        index = (current + step) % len(buttons)
        with self.prevent(RadioButton.Changed):  # set the buttons here, say so once below
            for i, button in enumerate(buttons):
                button.value = i == index
        self._pressed_button = buttons[index]
        self._selected = index
        self.post_message(self.Changed(self, buttons[index]))


class ExportScreen(ModalScreen[str | None]):
    """Dismisses with the written path, or None when cancelled."""

    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="export.cancel"),
        Binding("ctrl+s", "write", "Write file", priority=True, key_display="^s", id="export.write"),
        Binding("ctrl+j", "format('json')", "JSON", show=False, id="export.json"),
        Binding("ctrl+k", "format('markdown')", "Markdown", show=False, id="export.markdown"),
        # Up/Down choose the format from anywhere in the dialog, the path box included
        Binding("up", "cycle_format(-1)", "Previous format", show=False, id="export.format_previous"),
        Binding("down", "cycle_format(1)", "Next format", show=False, id="export.format_next"),
    ]

    def __init__(self, view: LmscopeScreen, fmt: str | None = None) -> None:
        super().__init__(id="export")
        self.view = view
        self.fmt = fmt or "json"
        self._edited = False
        self.written: str | None = None
        self.pictures: str | None = view.FOLDER_PICTURES
        self.busy = False

    def compose(self) -> ComposeResult:
        view_name = self.view.VIEW_NAME
        with Vertical(id="export-box", classes="dialog"):
            yield Label(f"Export the {view_name} view", classes="dialog-title")
            with FormatChoice(id="export-format"):
                for name in FORMATS:
                    if name != formats.FOLDER or self.pictures:
                        yield RadioButton(self._format(name).label, value=self.fmt == name, id=f"fmt-{name}")
            if self.pictures:
                yield Label(f"Folder: report.md + {self.pictures} (PNG, SVG)", id="export-pictures", classes="dialog-help")
            yield Label("Path (relative paths are in the current folder)")
            yield Input(self._default_path(), id="export-path")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Write", variant="primary", id="export-write")
                yield Button("Cancel", id="export-cancel")
            yield Label("↑↓ format · Enter or ^s write (atomic replace) · Esc cancel", classes="dialog-help")

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    def _format(self, name: str) -> formats.Format:
        return formats.get(self.view.EXPORT_VIEW or "report", name)

    def _default_path(self) -> str:
        model = self.app.main_model if isinstance(self.app, ModelHost) else None
        name = self.view.MODE
        if model is not None:
            name += "-" + re.sub(r"[^A-Za-z0-9._-]+", "-", model.model_id)
        return f"lmscope-{name}{self._format(self.fmt).suffix}"  # relative: written in the current folder

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.value != self._default_path():
            self._edited = True

    def on_radio_set_changed(self, event: RadioSet.Changed) -> None:
        self.action_format(str(event.pressed.id).removeprefix("fmt-"))

    def action_cycle_format(self, step: int) -> None:
        self.action_format(FORMATS[(FORMATS.index(self.fmt) + step) % len(FORMATS)])

    def action_format(self, fmt: str) -> None:
        if fmt == self.fmt or fmt not in FORMATS or (fmt == formats.FOLDER and not self.pictures):
            return
        path_input = self.query_one(Input)
        old_ext, new_ext = self._format(self.fmt).suffix, self._format(fmt).suffix
        self.fmt = fmt
        self.query_one(f"#fmt-{fmt}", RadioButton).value = True
        value = path_input.value
        if old_ext and value.endswith(old_ext):
            value = value[: -len(old_ext)]
        elif not old_ext:
            value = value.rstrip("/")
        path_input.value = value + new_ext

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.action_write()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "export-write":
            self.action_write()
        else:
            self.action_cancel()

    def action_write(self) -> None:
        from lmscope.core.export import write_atomic
        from lmscope.tui.loader import error_line

        path = os.path.expanduser(self.query_one(Input).value.strip())
        if not path:
            self.notify("give a path to write to", severity="warning")
            return
        if self.fmt == formats.FOLDER:
            if not self.busy:
                self.busy = True
                self.notify(f"writing {path}/ …", title="Report folder")
                self._write_folder(path)
            return
        if os.path.isdir(path):
            path = os.path.join(path, os.path.basename(self._default_path()))
        try:
            text = self.view.export_text(self.fmt)
            write_atomic(path, text)
        except Exception as err:  # noqa: BLE001 - shown, the dialog stays open
            self.notify(error_line(err), title="Export failed", severity="error", timeout=8)
            return
        path = os.path.abspath(path)  # the notice says exactly where the file is
        self.written = path
        self.app.notify(f"wrote {path}", title=f"Exported {self.fmt}")
        self.dismiss(path)

    @work(thread=True, group="export", exit_on_error=False)
    def _write_folder(self, path: str) -> None:
        try:
            folder = self.view.export_folder(path)
        except Exception as err:  # noqa: BLE001 - shown, the dialog stays open
            self.app.call_from_thread(self._folder_failed, err)
            return
        self.app.call_from_thread(self._folder_written, path, folder)

    def _folder_failed(self, err: Exception) -> None:
        from lmscope.tui.loader import error_line

        self.busy = False
        self.notify(error_line(err), title="Export failed", severity="error", timeout=8)

    def _folder_written(self, path: str, folder: Folder) -> None:
        self.busy = False
        self.written = path
        pictures = sum(1 for name in folder.files if name.endswith((".png", ".svg")))
        for note in folder.notes:
            self.app.notify(note, title="Report folder", severity="warning", timeout=10)
        self.app.notify(f"wrote {os.path.join(path, 'report.md')} and {pictures} picture files", title="Exported report folder")
        self.dismiss(path)

    def action_cancel(self) -> None:
        self.dismiss(None)
