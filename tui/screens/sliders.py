"""The base of the screens under the settings sliders: Memory & FLOPs, Compare and Plan.

The sliders show the app's :class:`~lmscope.core.results.Settings`, shared by
the three screens: a move posts ``SettingsChanged``, which becomes the app's
settings here (every screen then redraws from them), and ``s`` types a
sequence length. Screens with scenario pickers (``SCENARIO``) get the
:class:`~lmscope.tui.widgets.scenario_bar.ScenarioBar` below the sliders, and
``page_bindings`` gives the ones with a scrolling body PgUp / PgDn (the
sliders keep the arrows). One copy of what the three screens did alike.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.widget import Widget

from lmscope.tui.messages import SettingsChanged
from lmscope.tui.screens.base import LmscopeScreen
from lmscope.tui.widgets.scenario_bar import ScenarioBar
from lmscope.tui.widgets.settings_bar import SettingsBar

SCROLL = Binding.Group("Scroll")


def page_bindings(mode: str) -> list[Binding]:
    """PgUp / PgDn for a screen whose body scrolls (``scroll_target`` says which part)."""
    return [
        Binding("pageup", "scroll_page(-1)", "Scroll up", key_display="PgUp", group=SCROLL, id=f"{mode}.page_up"),
        Binding("pagedown", "scroll_page(1)", "Scroll down", key_display="PgDn", group=SCROLL, id=f"{mode}.page_down"),
    ]


class SlidersScreen(LmscopeScreen):
    """A screen under the settings sliders (and, with ``SCENARIO``, the scenario pickers)."""

    SCENARIO = False  # the scenario pickers (ScenarioBar) below the sliders
    FIRST_FOCUS = "#seq_len"  # the control the cursor starts on (a CSS selector)

    def compose_bars(self) -> ComposeResult:
        """The sliders (``<mode>-settings``) and, with ``SCENARIO``, the pickers (``<mode>-scenario``)."""
        yield SettingsBar(self.lm.settings, id=f"{self.MODE}-settings")
        if self.SCENARIO:
            yield ScenarioBar(self.MODE, id=f"{self.MODE}-scenario")

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one(self.FIRST_FOCUS).focus()

    def on_settings_changed(self, event: SettingsChanged) -> None:
        event.stop()
        self.lm.set_settings(event.settings)

    def action_type_seq_len(self) -> None:
        self.query_one(SettingsBar).action_type_seq_len()

    def scroll_target(self) -> Widget:
        """What PgUp / PgDn page (screens with ``page_bindings`` say)."""
        return self

    def action_scroll_page(self, direction: int) -> None:
        target = self.scroll_target()
        if direction > 0:
            target.scroll_page_down()
        else:
            target.scroll_page_up()
