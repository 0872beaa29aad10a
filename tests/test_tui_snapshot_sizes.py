"""Every screen at 80×24 and 120×40, as snapshots (issue 16: nothing cut off at either size).

``test_tui_snapshots.py`` holds the 120×40 views of most screens (and its
fixtures, reused here); this module adds the sizes and states it lacks: each
screen at 80×24, and four compared models at both sizes. Regenerate with
``--snapshot-update`` and look at the SVGs before committing.
"""

from __future__ import annotations

import pytest

from tests.test_tui_snapshots import deterministic_env, make_app, prepare  # noqa: F401

SMALL = (80, 24)
LARGE = (120, 40)
FOUR = ("meta-llama/Llama-3.1-8B", "Qwen/Qwen3-8B", "google/gemma-3-4b-it", "Qwen/Qwen3-Next-80B-A3B-Thinking")


@pytest.mark.parametrize(
    "keys",
    [(), ("f2", *"llama"), ("f4",), ("f4", "pagedown"), ("f6",), ("f4", "f1"), ("f4", "ctrl+s"), ("f7",), ("f7", "pagedown", "pagedown")],
    ids=["summary", "search", "memory", "memory-scrolled", "weights", "help", "export", "plan", "plan-scrolled"],
)
def test_every_screen_at_80x24(snap_compare, keys):
    assert snap_compare(make_app(), terminal_size=SMALL, run_before=prepare(*keys))


def test_summary_hybrid_at_80x24(snap_compare):
    assert snap_compare(make_app("Qwen/Qwen3-Next-80B-A3B-Thinking"), terminal_size=SMALL, run_before=prepare())


@pytest.mark.parametrize("size", [SMALL, LARGE], ids=["80x24", "120x40"])
def test_four_compared_models(snap_compare, size):
    assert snap_compare(make_app(*FOUR), terminal_size=size, run_before=prepare(models=4))


def test_memory_typed_length_and_scrolled_at_120x40(snap_compare):
    assert snap_compare(make_app(), terminal_size=LARGE, run_before=prepare("f4", "enter", *"100k", "enter", "right", "right"))
