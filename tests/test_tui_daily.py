"""Pilot tests of the app as a daily driver (issue 16): scrolling, typed lengths, keys, Compare editing.

Same set-up as ``test_tui.py`` (offline catalog, exact engine off); numbers
on screen are checked against the core called independently.
"""

from __future__ import annotations

import pytest
from conftest import make_app, wait_for

from lmscope.core.results import Settings
from tests.test_tui import default_model_id, oracle_estimate

pytestmark = pytest.mark.usefixtures("offline_env")

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
        assert any("not a count" in str(n.message) for n in app._notifications)
        await pilot.press("escape")
        assert app.screen.focused.id == "seq_len"
        assert not app.screen.query_one("#seq_len_input").has_class("-typing")


from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@given(st.text(alphabet="abcXYZ019-_./", min_size=1, max_size=60), st.integers(min_value=1, max_value=30))
def test_wrapped_names_keep_every_character_within_the_width(model_id, width):
    from lmscope.tui.screens.compare import wrap_name

    lines = wrap_name(model_id, width)
    assert "".join(lines) == model_id
    assert all(1 <= len(line) <= width for line in lines)


THREE = ("meta-llama/Llama-3.1-8B", "Qwen/Qwen3-8B", "google/gemma-3-4b-it")


@pytest.mark.parametrize("size", SIZES)
async def test_compare_is_editable_and_ratios_follow(size):
    """Remove any model, make any the baseline, reorder: columns, main model and ratios follow (core oracle)."""
    app = make_app(*THREE)
    async with app.run_test(size=size) as pilot:
        await wait_for(pilot, lambda: len(app.compare_models) == 3 and not app.pending)
        screen = app.screen
        ids = lambda: [m.model_id for m in app.compare_models]  # noqa: E731
        assert ids() == list(THREE)
        await pilot.press("right")  # highlight the second model (Qwen)
        await pilot.press("b")
        await wait_for(pilot, lambda: ids()[0] == THREE[1])
        assert ids() == [THREE[1], THREE[0], THREE[2]] and app.main_model.model_id == THREE[1]
        totals = [e.memory.inference_total_bytes for e in screen.current_estimates]
        assert totals == [oracle_estimate(m, app.settings).memory.inference_total_bytes for m in ids()]
        table = screen.query_one("#compare-table")
        first_ratio_cell = str(table.get_row_at(0)[2])  # parameters row, second model
        base, other = (oracle_estimate(m, app.settings).parameters.total for m in ids()[:2])
        assert f"×{other / base:.2f}" in first_ratio_cell
        await pilot.press("right", "shift+right")  # the second column moves to the third place
        await wait_for(pilot, lambda: ids()[2] == THREE[0])
        assert ids() == [THREE[1], THREE[2], THREE[0]]
        await pilot.press("x")  # removes the highlighted (now third) model, not merely the last added
        await wait_for(pilot, lambda: len(ids()) == 2)
        assert ids() == [THREE[1], THREE[2]]
        await pilot.press("left", "x")  # the baseline itself can go: the next one becomes main
        await wait_for(pilot, lambda: len(ids()) == 1)
        assert app.main_model.model_id == THREE[2]


async def test_ctrl_c_quits_without_a_prompt():
    app = make_app()
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await wait_for(pilot, lambda: app.main_model is not None)
        await pilot.press("ctrl+c")
        await pilot.pause(0.1)
        assert not app.is_running or app._exit_renderables is not None or app.return_code is not None
        assert not any("to quit" in str(n.message) for n in app._notifications)


async def test_export_dialog_picks_the_format_with_arrows_and_names_the_full_path(tmp_path):
    import json
    import os

    app = make_app()
    async with app.run_test(size=(80, 24), notifications=True) as pilot:
        await wait_for(pilot, lambda: app.main_model is not None)
        await pilot.press("f4", "ctrl+s")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "ExportScreen")
        dialog = app.screen
        await pilot.press("down")  # from the path box: the next format
        assert dialog.fmt == "markdown" and dialog.query_one("#export-path").value.endswith(".md")
        await pilot.press("up")
        assert dialog.fmt == "json"
        dialog.query_one("#export-format").focus()
        await pilot.press("right")  # on the radio buttons: the arrow alone selects
        assert dialog.fmt == "markdown"
        await pilot.press("left", "ctrl+s")
        await pilot.pause(0.1)
        written = dialog.written
        assert written and os.path.isabs(written) and json.loads(open(written).read())["model_id"]
        assert any(written in str(n.message) for n in app._notifications)


async def test_help_lists_only_keys_that_work_here():
    app = make_app(*THREE[:2])
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: len(app.compare_models) == 2)
        await pilot.press("f1")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "HelpScreen")
        described = {desc for _keys, desc, _where in app.screen.rows}
        assert {"Remove", "Baseline", "Move left", "Add model", "Quit", "Export"} <= described
        assert not {"Cursor up", "Cursor down", "Page up", "Copy selected text", "Scroll down"} & described
        await pilot.press("escape", "f3", "f1")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "HelpScreen")
        described = {desc for _keys, desc, _where in app.screen.rows}
        assert "Focus Next" not in described  # one control on the Summary: tab does nothing there
        assert "Reload" in described
