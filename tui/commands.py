"""Command palette (ctrl+p): every action by name, plus "Open model…" and "Compare with…".

Static commands (screens, export, help, add/remove) are listed when the
palette opens; typing also offers the catalog's models for "Open" and
"Compare with", and the typed text itself as a specifier (a Hub id or a path),
so any model is two keystrokes and a name away.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Callable

from textual.command import DiscoveryHit, Hit, Hits, Provider

from lmscope.tui.bindings import SCREENS

if TYPE_CHECKING:  # pragma: no cover
    from lmscope.tui.app import LmscopeApp


def static_commands(app: LmscopeApp) -> list[tuple[str, Callable[[], object], str]]:
    """(name, callback, help) for every action the app has."""
    commands: list[tuple[str, Callable[[], object], str]] = []
    for mode, title, fkey, digit in SCREENS:
        commands.append((f"Go to {title}", partial(app.action_show, mode), f"{fkey.upper()} or {digit}"))
    commands += [
        ("Open model…", app.action_open_model, "pick from the catalog or type a Hub id / path (ctrl+o)"),
        ("Compare with…", app.action_compare_with, "add a model to the comparison"),
        ("Export view as JSON", partial(app.action_export, "json"), "write this view's data (ctrl+s)"),
        ("Export view as Markdown", partial(app.action_export, "markdown"), "write this view's data (ctrl+s)"),
        ("Help: keys", app.action_help, "every key that works here (F1 or ?)"),
        ("Toggle units GiB / GB", app.action_toggle_units, "sizes in 2^30 or 10^9 bytes, everywhere (u)"),
        ("Toggle inference / training", partial(_toggle_mode, app), "the mode slider of Memory & Compare"),
        ("Remove last compared model", partial(_remove_last, app), "the rightmost column of Compare"),
        ("Reload model", partial(_reload, app), "open the main model again"),
    ]
    return commands


def _toggle_mode(app: LmscopeApp) -> None:
    from dataclasses import replace

    app.set_settings(replace(app.settings, mode="training" if app.settings.mode == "inference" else "inference"))


def _remove_last(app: LmscopeApp) -> None:
    models = app.compare_models
    if len(models) > 1:
        app.remove_model(len(models) - 1)


def _reload(app: LmscopeApp) -> None:
    if app.main_model is not None:
        app.open_model(app.main_model.spec, slot=0)


class LmscopeCommands(Provider):
    """All lmscope actions, and models to open or compare."""

    @property
    def lm(self) -> LmscopeApp:
        return self.app  # type: ignore[return-value]

    async def discover(self) -> Hits:
        for name, callback, help_text in static_commands(self.lm):
            yield DiscoveryHit(name, callback, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for name, callback, help_text in static_commands(self.lm):
            score = matcher.match(name)
            if score > 0:
                yield Hit(score, matcher.highlight(name), callback, help=help_text)
        from lmscope.tui.loader import catalog_ids

        words = query.lower().split()
        if not words:
            return
        for model_id in catalog_ids():
            if all(w in model_id.lower() for w in words[-1:]) or matcher.match(model_id) > 0.5:
                open_name = f"Open {model_id}"
                yield Hit(matcher.match(open_name) * 0.9 or 0.3, matcher.highlight(open_name), partial(self.lm.open_model, model_id, 0, "summary"), help="built-in catalog")
                compare_name = f"Compare with {model_id}"
                yield Hit(matcher.match(compare_name) * 0.9 or 0.3, matcher.highlight(compare_name), partial(self.lm.add_compare, model_id), help="built-in catalog")
        spec = query.strip()
        if "/" in spec and " " not in spec:
            yield Hit(0.2, f"Open model: {spec}", partial(self.lm.open_model, spec, 0, "summary"), help="Hub id or local path")
            yield Hit(0.2, f"Compare with: {spec}", partial(self.lm.add_compare, spec), help="Hub id or local path")
