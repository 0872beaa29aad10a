"""What widgets and dialogs may ask of the app they run in, as a Protocol.

Why: the nav bar and the export dialog read the open model from the app, but
they are also mounted in small test apps that have no model. A runtime-checkable
Protocol says exactly what they read and keeps them from importing
``tui/app.py`` (which imports them).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from lmscope.tui.state import LoadedModel


@runtime_checkable
class ModelHost(Protocol):
    """The app's open model and the spec of the model being opened (both None when there is none)."""

    @property
    def main_model(self) -> LoadedModel | None: ...

    @property
    def loading_spec(self) -> str | None: ...
