"""Command palette (ctrl+p): every action by name, plus "Open model…" and "Compare with…".

The static commands are the data in :data:`lmscope.tui.bindings.PALETTE`: each
runs the same app action a key runs, shows that key (after the user's keymap)
as its hint, and is listed only when it applies now. Typing also offers the
catalog's models for "Open" and "Compare with", and the typed text itself as a
specifier (a Hub id or a path), so any model is two keystrokes and a name away.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import partial
from typing import TYPE_CHECKING

from textual.command import DiscoveryHit, Hit, Hits, Provider

from lmscope.tui.bindings import PALETTE, PaletteCommand

if TYPE_CHECKING:  # pragma: no cover
    from textual.binding import ActiveBinding
    from textual.screen import Screen

    from lmscope.tui.app import LmscopeApp


def key_hint(app: LmscopeApp, bindings: Mapping[str, ActiveBinding], binding_id: str | None) -> str | None:
    """The keys bound to ``binding_id`` among ``bindings``, as the footer shows them; None when no key does it here.

    ``bindings`` are a screen's active bindings — app-wide keys, the screen's own and the focused
    widget's, with the user's keymap already applied by Textual — so a hint is never typed by hand:
    it is whatever key runs that binding on the screen the palette was opened from.
    """
    if binding_id is None:
        return None
    keys: list[str] = []
    for active in bindings.values():
        binding = active.binding
        if binding.id == binding_id and active.enabled:
            display = binding.key_display or app.get_key_display(binding)
            if display not in keys:
                keys.append(display)
    return ", ".join(keys) or None


def _help(app: LmscopeApp, bindings: Mapping[str, ActiveBinding], command: PaletteCommand) -> str:
    hint = key_hint(app, bindings, command.binding)
    if command.binding and command.binding.startswith("screen."):
        digit = key_hint(app, bindings, f"{command.binding}.digit")
        hint = f"{hint} or {digit}" if hint and digit else hint
        return hint or command.help
    return f"{command.help} ({hint})" if hint else command.help


def static_commands(app: LmscopeApp, screen: Screen[object] | None = None) -> list[tuple[str, Callable[[], object], str]]:
    """(name, callback, help) for every palette command that applies now.

    ``screen``: the screen the palette was opened from (default: the app's current one), whose
    active bindings give the key hints.
    """
    bindings = (screen or app.screen).active_bindings
    commands: list[tuple[str, Callable[[], object], str]] = []
    for command in PALETTE:
        if command.when is not None and not getattr(app, command.when)():
            continue
        commands.append((command.title, partial(app.run_palette_action, command.action), _help(app, bindings, command)))
    return commands


class LmscopeCommands(Provider):
    """All lmscope actions, and models to open or compare."""

    @property
    def lm(self) -> LmscopeApp:
        return self.app  # type: ignore[return-value]

    async def discover(self) -> Hits:
        for name, callback, help_text in static_commands(self.lm, self.screen):
            yield DiscoveryHit(name, callback, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for name, callback, help_text in static_commands(self.lm, self.screen):
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
