"""tui/session.py without Pilot: slots, loads with request ids, failures, settings, compare columns.

The oracle is the rule each test states (a slot takes only the answer to its
latest request; ratios follow the order the user chose); models are real
catalog models opened through the app's own loader, offline.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from lmscope.core.results import Settings
from lmscope.tui.session import MAX_MODELS, Session


@pytest.fixture(scope="module")
def models():
    """Three catalog models, opened offline without the exact engine (real LoadedModels)."""
    import os

    from lmscope.core.sources.catalog import list_catalog
    from lmscope.tui import loader

    old = os.environ.get("HF_HUB_OFFLINE")
    os.environ["HF_HUB_OFFLINE"] = "1"
    try:
        ids = [e.model_id for e in list_catalog()][:3]
        return [replace(loader.open_model(i, Settings(), offline=True), exact_state="off") for i in ids]
    finally:
        if old is None:
            os.environ.pop("HF_HUB_OFFLINE", None)
        else:
            os.environ["HF_HUB_OFFLINE"] = old


def test_a_stale_slow_load_cannot_take_the_main_slot(models):
    slow, quick = models[0], models[1]
    session = Session(Settings())
    first = session.begin_load(0, "org/slow-hub-model")
    second = session.begin_load(0, quick.model_id)  # opened while the first is still loading
    assert first != second and session.loading_spec == quick.model_id
    assert session.finish_load(0, second, quick).status == "added"
    # the slow one finishes last: dropped, the main slot keeps the model opened last
    assert session.finish_load(0, first, slow).status == "stale"
    assert session.main_model is quick and not session.pending


def test_stale_answer_before_the_new_one_is_dropped_too(models):
    session = Session(Settings())
    first = session.begin_load(0, "a")
    second = session.begin_load(0, "b")
    assert session.finish_load(0, first, models[0]).status == "stale"
    assert session.main_model is None and session.loading_spec == "b"
    assert session.finish_load(0, second, models[1]).status == "added" and session.main_model is models[1]


def test_a_stale_failure_is_not_remembered(models):
    session = Session(Settings())
    first = session.begin_load(0, "bad/model")
    second = session.begin_load(0, models[0].model_id)
    assert not session.fail_load(0, first, "bad/model", "not found")
    assert not session.failures and session.loading_spec == models[0].model_id
    session.finish_load(0, second, models[0])
    other = session.begin_load(0, "bad/model")
    assert session.fail_load(0, other, "bad/model", "not found")
    assert session.failures == {"bad/model": "not found"} and session.main_model is models[0]


def test_main_model_gets_its_default_length_until_one_is_chosen(models):
    from lmscope.core.report import default_seq_len

    session = Session(Settings(seq_len=1234))
    session.finish_load(0, session.begin_load(0, "m"), models[0])
    assert session.settings.seq_len == default_seq_len(models[0].architecture)
    assert session.set_settings(replace(session.settings, seq_len=2048)) and session.seq_len_chosen
    assert not session.set_settings(session.settings)  # unchanged: no redraw
    session.finish_load(0, session.begin_load(0, "n"), models[1])
    assert session.settings.seq_len == 2048


def test_state_version_moves_on_every_change(models):
    session = Session(Settings())
    v0 = session.state_version
    rid = session.begin_load(0, "m")
    v1 = session.state_version
    session.finish_load(0, rid, models[0])
    assert v0 < v1 < session.state_version


def test_compare_add_remove_move_and_renumber(models):
    a, b, c = models
    session = Session(Settings())
    session.finish_load(0, session.begin_load(0, a.model_id), a)
    for m in (b, c):
        assert session.refuse_compare(m.model_id) is None
        slot = session.next_slot()
        session.finish_load(slot, session.begin_load(slot, m.model_id), m)
    assert [m.model_id for m in session.compare_models] == [a.model_id, b.model_id, c.model_id]
    assert "already" in session.refuse_compare(b.model_id.upper())
    # a duplicate load into a new column is refused when it lands
    slot = session.next_slot()
    assert session.finish_load(slot, session.begin_load(slot, "x"), b).status == "duplicate"
    # move the last to the baseline: it becomes the main model, ratios follow
    assert session.move(2, 0) is c and session.main_model is c
    assert [m.model_id for m in session.compare_models] == [c.model_id, a.model_id, b.model_id]
    assert session.move(1, 2) is None  # baseline unchanged
    # remove the baseline: the next becomes main, slots renumbered 0..n-1
    assert session.remove(0) is c
    assert sorted(session.slots) == [0, 1] and session.main_model is b
    assert session.remove(0) is None or len(session.compare_models) >= 1
    assert session.remove(5) is None


def test_at_most_four_models(models):
    session = Session(Settings())
    session.finish_load(0, session.begin_load(0, "m"), models[0])
    for i in range(MAX_MODELS - 1):
        session.begin_load(session.next_slot(), f"pending/{i}")
    assert "at most" in session.refuse_compare("one/more")
