"""Pilot tests of the app as a daily driver (issue 16): scrolling, typed lengths, keys, Compare editing.

Same set-up as ``test_tui.py`` (offline catalog, exact engine off); numbers
on screen are checked against the core called independently.
"""

from __future__ import annotations

import pytest

from lmscope.core.results import Settings
from tests.test_tui import default_model_id, make_app, oracle_estimate, offline_env, screen_text, wait_for  # noqa: F401

SIZES = [(80, 24), (120, 40)]


@pytest.mark.parametrize("size", SIZES)
async def test_page_keys_scroll_the_memory_screen_and_leave_the_slider(size):
    app = make_app()
    async with app.run_test(size=size) as pilot:
        await wait_for(pilot, lambda: app.main_model is not None)
        await pilot.press("f4")
        await wait_for(pilot, lambda: app.current_mode == "memory" and app.screen.current_estimate is not None)
        screen = app.screen
        assert screen.focused.id == "seq_len"
        scroller = screen.query_one("#memory-main" if size[0] < 110 else "#memory-tables")
        await pilot.pause(0.1)
        assert scroller.max_scroll_y > 0, "the numbers should not all fit: nothing to scroll"
        await pilot.press("pagedown")
        await pilot.pause(0.1)
        assert scroller.scroll_y > 0
        assert app.settings.seq_len == 4096  # the slider did not move
        await pilot.press("pageup")
        await pilot.pause(0.1)
        assert scroller.scroll_y == 0
        await pilot.press("right")  # arrows still step the focused slider
        assert app.settings.seq_len == 8192


@pytest.mark.parametrize(("typed", "value"), [("100k", 102400), ("131072", 131072), ("1M", 1 << 20)])
async def test_sequence_length_can_be_typed(typed, value):
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: app.main_model is not None)
        await pilot.press("f4")
        await wait_for(pilot, lambda: app.current_mode == "memory")
        await pilot.press("enter")  # on the Seq len slider: a box to type in
        await pilot.press(*typed, "enter")
        await wait_for(pilot, lambda: app.settings.seq_len == value)
        est = app.screen.current_estimate
        assert est.memory == oracle_estimate(default_model_id(), Settings(seq_len=value)).memory
        slider = app.screen.query_one("#seq_len")
        assert slider.value == value and app.screen.focused is slider
        await pilot.press("left")  # stepping goes on from the typed stop
        assert app.settings.seq_len == max(c.value for c in slider.choices if c.value < value)


async def test_a_bad_typed_length_is_refused_and_the_box_stays():
    app = make_app()
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        await wait_for(pilot, lambda: app.main_model is not None)
        await pilot.press("f4")
        await wait_for(pilot, lambda: app.current_mode == "memory")
        await pilot.press("s", *"lots", "enter")
        await pilot.pause(0.1)
        assert app.settings.seq_len == 4096
        assert any("not a token count" in str(n.message) for n in app._notifications)
        await pilot.press("escape")
        assert app.screen.focused.id == "seq_len"
        assert not app.screen.query_one("#seq_len_input").has_class("-typing")
