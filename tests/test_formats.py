"""core/formats.py: one format registry for the CLI, --output-dir and the app's Export.

The oracle for "the app exports what the CLI prints" is the CLI itself: the
same view (an offline search, the default model's report) is rendered by the
command (in process, stdout captured) and exported by the app, and the two
texts must be byte-identical.
"""

from __future__ import annotations

import argparse

import pytest
from conftest import wait_for

from lmscope.core import formats


@pytest.fixture(autouse=True)
def _env(offline_env, monkeypatch):
    # one timestamp for every report built in this test (the CLI's and the app's)
    monkeypatch.setattr("lmscope.core.report.build._now", lambda: "2026-01-01T00:00:00Z")


def _parse(command: str, argv: list[str]) -> argparse.Namespace:
    import importlib

    module = importlib.import_module(f"lmscope.commands.{command}")
    parser = argparse.ArgumentParser()
    module.add_arguments(parser)
    return parser.parse_args(argv)


def _cli(command: str, argv: list[str], capsys) -> str:
    import importlib

    module = importlib.import_module(f"lmscope.commands.{command}")
    capsys.readouterr()
    assert module.run(_parse(command, argv)) == 0
    return capsys.readouterr().out


def test_every_view_has_its_formats_with_suffixes():
    assert formats.names("report") == ("text", "json", "markdown", "yaml")
    assert formats.names("compare") == ("text", "json", "markdown", "yaml")
    assert formats.names("plan") == ("text", "json", "markdown", "yaml")
    assert formats.names("weights") == ("text", "csv", "json", "markdown")
    assert formats.names("search") == ("text", "json", "markdown")
    assert formats.get("report", "markdown").suffix == ".md" and formats.get("weights", "csv").suffix == ".csv"
    assert formats.get("report", formats.FOLDER).is_folder and formats.get("weights", formats.FOLDER).is_folder
    from lmscope.core.errors import UsageError

    with pytest.raises(UsageError):
        formats.get("search", "yaml")


def test_cli_format_choices_are_the_registry():
    for command, view in (("report", "report"), ("compare", "compare"), ("plan", "plan"), ("weights", "weights"),
                          ("search", "search")):
        import importlib

        parser = argparse.ArgumentParser()
        importlib.import_module(f"lmscope.commands.{command}").add_arguments(parser)
        action = next(a for a in parser._actions if a.dest == "format")
        assert tuple(action.choices) == formats.names(view), command


@pytest.mark.parametrize("fmt", ["json", "markdown", "text"])
async def test_app_search_export_is_the_cli_output(fmt, capsys):
    from lmscope.tui.app import LmscopeApp

    app = LmscopeApp([])
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("f2")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "SearchScreen")
        screen = app.screen
        screen.run_search("qwen")
        await wait_for(pilot, lambda: screen.shown_query == "qwen")
        exported = screen.export_text(fmt)
    printed = _cli("search", ["qwen", "--offline", "--limit", "50", "--format", fmt], capsys)
    assert exported == printed
    assert "qwen" in printed.lower()


@pytest.mark.parametrize("fmt", ["json", "markdown"])
async def test_app_report_export_is_the_cli_output(fmt, capsys):
    from lmscope.core.sources.catalog import DEFAULT_MODEL
    from lmscope.tui.app import LmscopeApp

    app = LmscopeApp([])
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.main_model is not None)
        exported = app.screen.export_text(fmt)
        seq_len = app.settings.seq_len
    printed = _cli("report", [DEFAULT_MODEL, "--format", fmt, "--seq-len", str(seq_len), "--no-exact"], capsys)
    assert exported == printed
