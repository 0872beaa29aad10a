"""Snapshot tests of every screen (pytest-textual-snapshot), one per feature.

Deterministic by construction: offline, an empty HF cache, the exact engine
off, truecolor output, no cursor blink, a fixed 120×40 terminal. The SVGs
live in ``tests/snapshots/test_tui_snapshots/``; regenerate with ``pytest tests/test_tui_snapshots.py
--snapshot-update`` and look at them before committing.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import make_app, wait_workers

SIZE = (120, 40)
SNAPSHOT_DIR = Path(__file__).parent / "snapshots"


@pytest.fixture(autouse=True)
def deterministic_env(offline_env, monkeypatch):
    import pytest_textual_snapshot
    import textual.constants

    monkeypatch.setattr(textual.constants, "COLOR_SYSTEM", "truecolor")
    # the Plan screen detects local GPUs: none here, whatever the machine has
    monkeypatch.setattr("lmscope.core.hardware.detect_local", lambda timeout=3.0: [])
    # keep our SVGs in tests/snapshots/ (the plugin's default is __snapshots__/<module>/)
    monkeypatch.setattr(
        pytest_textual_snapshot.SVGImageExtension,
        "dirname",
        classmethod(lambda cls, *, test_location: str(SNAPSHOT_DIR / test_location.basename)),
    )


def prepare(*keys: str, models: int = 1):
    """A run_before that waits for the models, types ``keys`` and settles (no blinking cursors)."""

    async def run_before(pilot) -> None:
        from textual.widgets import Input

        from lmscope.tui.screens.base import LmscopeScreen

        app = pilot.app
        for _ in range(1600):
            if len(app.slots) >= models and not app.pending:
                break
            await pilot.pause(0.025)
        for key in keys:
            await pilot.press(key)
            if key.startswith("f") or key == "enter":
                await pilot.pause(0.1)
                await wait_workers(pilot)  # a screen that works in a worker (Plan) answers before the next key
        base = next(s for s in reversed(app.screen_stack) if isinstance(s, LmscopeScreen))
        settled = getattr(base, "settled", None)  # timers a worker wait cannot see: search debounce, deferred chart
        for _ in range(1600):
            if settled is None or settled():
                break
            await pilot.pause(0.025)
        await wait_workers(pilot)
        await pilot.pause(0.1)
        for screen in app.screen_stack:
            for inp in screen.query(Input):
                inp.cursor_blink = False
        await pilot.pause()

    return run_before


def test_summary_screen(snap_compare):
    assert snap_compare(make_app(), terminal_size=SIZE, run_before=prepare())


def test_summary_hybrid_layer_map(snap_compare):
    assert snap_compare(make_app("Qwen/Qwen3-Next-80B-A3B-Thinking"), terminal_size=SIZE, run_before=prepare())


def test_memory_sliders_seq_len_16k(snap_compare):
    assert snap_compare(make_app(), terminal_size=SIZE, run_before=prepare("f4", "right", "right"))


def test_memory_training_mode_80x24(snap_compare):
    assert snap_compare(make_app(), terminal_size=(80, 24), run_before=prepare("f4", "t"))


def test_compare_two_models(snap_compare):
    assert snap_compare(make_app("meta-llama/Llama-3.1-8B", "Qwen/Qwen3-8B"), terminal_size=SIZE, run_before=prepare(models=2))


def test_search_offline_catalog(snap_compare):
    assert snap_compare(make_app(), terminal_size=SIZE, run_before=prepare("f2", *"llama"))


def test_weights_no_local_files(snap_compare):
    assert snap_compare(make_app(), terminal_size=SIZE, run_before=prepare("f6"))


def test_export_dialog(snap_compare):
    assert snap_compare(make_app(), terminal_size=SIZE, run_before=prepare("f4", "ctrl+s"))


def test_help_screen(snap_compare):
    assert snap_compare(make_app(), terminal_size=SIZE, run_before=prepare("f4", "f1"))


def test_compare_80x24(snap_compare):
    assert snap_compare(make_app("meta-llama/Llama-3.1-8B", "google/gemma-3-4b-it"), terminal_size=(80, 24), run_before=prepare(models=2))


def test_plan_screen(snap_compare):
    assert snap_compare(make_app(), terminal_size=SIZE, run_before=prepare("f7"))


def test_plan_does_not_fit_split(snap_compare):
    """DeepSeek-V3 on one 24 GB card (issue 13: ~600 GiB, not the 22 GB a peer printed): the split first."""
    keys = ("f7", *["right"] * 10)  # the GPU picker: h100 ... rtx3090
    assert snap_compare(make_app("deepseek-ai/DeepSeek-V3"), terminal_size=SIZE, run_before=prepare(*keys))
