"""The TUI against the loopback mock Hub (``tests/mockhub.py``): search, open, failures, tokens.

No real network: ``mock_hub`` points ``HF_ENDPOINT`` at a local server,
``hub_env`` at a closed port (the "Hub unreachable" case).
"""

from __future__ import annotations

import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))
from conftest import make_app, wait_for  # noqa: E402
from mockhub import PRIVATE, TINY_LLAMA, VALID_TOKEN  # noqa: E402

sys.path.pop(0)


@pytest.fixture(autouse=True)
def no_exact(monkeypatch, tmp_path):
    monkeypatch.setenv("LMSCOPE_NO_EXACT", "1")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)


async def test_search_queries_the_hub(mock_hub):
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.main_model is not None)
        await pilot.press("f2")
        screen = app.screen
        await pilot.press(*"qwen")
        await wait_for(pilot, lambda: screen.shown_query == "qwen")
        assert screen.where == "Hugging Face Hub"
        assert [r.model_id for r in screen.results] == ["Qwen/Qwen3-0.6B", "Qwen/Qwen3-8B"]
        top = screen.results[0]
        repo = mock_hub.repos[top.model_id]
        assert (top.downloads, top.likes, top.parameters) == (repo.downloads, repo.likes, repo.safetensors["total"])
        assert top.license == "apache-2.0"
        row = screen.query_one("#search-table").get_row_at(0)
        assert f"{repo.downloads:,}" in [str(c) for c in row]


async def test_hub_unreachable_falls_back_to_catalog(hub_env):
    app = make_app()
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        await wait_for(pilot, lambda: app.main_model is not None)  # the default model is in the catalog
        await pilot.press("f2")
        screen = app.screen
        await pilot.press(*"gemma")
        await wait_for(pilot, lambda: screen.shown_query == "gemma", timeout=40)
        assert "Hub unreachable" in screen.where
        assert screen.results and all(r.source in ("catalog", "cache") for r in screen.results)
        # notify() posts a message: the notification lands a moment after the results (racy under load)
        await wait_for(pilot, lambda: any(n.severity == "warning" for n in app._notifications))


async def test_open_a_hub_model(mock_hub):
    app = make_app(TINY_LLAMA)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.main_model is not None or app.failures)
        assert not app.failures, app.failures
        model = app.main_model
        assert model.model_id == TINY_LLAMA
        assert model.report.source.kind in ("hub", "cache")
        meta = model.report.source.metadata
        assert meta is not None and meta.downloads == mock_hub.repos[TINY_LLAMA].downloads


async def test_private_repo_error_is_one_line_and_never_shows_the_token(mock_hub):
    bad_token = "hf_" + "Z" * 34
    app = make_app(PRIVATE, token=bad_token)
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        await wait_for(pilot, lambda: bool(app.failures))
        messages = [n.title + " " + n.message for n in app._notifications]
        assert messages
        for text in messages:
            assert bad_token not in text and VALID_TOKEN not in text
            assert "\n" not in text
        assert app.is_running
