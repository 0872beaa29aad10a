"""Screens, palette commands and keys as data (tui/bindings.py) and user keymaps (tui/keymap.py).

Oracles: the table itself (each row's class is importable and is that mode's
screen), Textual's own key handling (a remapped key opens the dialog the
default key opened) and the keymap file written by hand in the test.
"""

from __future__ import annotations

import importlib

import pytest
from conftest import wait_for
from textual.binding import Binding

from lmscope.tui.bindings import GLOBAL_BINDINGS, PALETTE, SCREENS

pytestmark = pytest.mark.usefixtures("offline_env")


def test_every_screen_row_names_its_screen_class():
    from lmscope.tui.screens.base import LmscopeScreen

    modes = [row.mode for row in SCREENS]
    assert len(set(modes)) == len(modes) and len({row.fkey for row in SCREENS}) == len(SCREENS)
    for row in SCREENS:
        module, _, name = row.target.partition(":")
        cls = getattr(importlib.import_module(f"lmscope.tui.screens.{module}"), name)
        assert issubclass(cls, LmscopeScreen) and cls.MODE == row.mode


def test_palette_actions_exist_and_hint_bindings_exist():
    from lmscope.tui.app import LmscopeApp

    # a hint may name an app-wide binding or a screen's own (shown while that screen is active)
    ids = {b.id for b in GLOBAL_BINDINGS}
    for row in SCREENS:
        module, _, name = row.target.partition(":")
        screen = getattr(importlib.import_module(f"lmscope.tui.screens.{module}"), name)
        ids |= {b.id for b in screen.BINDINGS if isinstance(b, Binding)}
    for command in PALETTE:
        action = command.action.split("(")[0]
        assert callable(getattr(LmscopeApp, f"action_{action}", None)), command.title
        assert command.binding is None or command.binding in ids, command.title
        assert command.when is None or callable(getattr(LmscopeApp, command.when, None)), command.title


def test_keymap_file_reading(tmp_path, monkeypatch):
    from lmscope.tui.keymap import keymap_path, load_keymap

    assert keymap_path() == tmp_path / "config" / "lmscope" / "keymap.toml"  # platformdirs honours XDG
    assert load_keymap() == ({}, None)  # no file: the default keys, nothing to say
    path = tmp_path / "keys.toml"
    path.write_text('[keymap]\n"app.export" = "ctrl+e"\n"app.help" = 3\n')
    keymap, warning = load_keymap(path)
    assert keymap == {"app.export": "ctrl+e"} and "app.help" in warning
    path.write_text("[keymap\n")
    keymap, warning = load_keymap(path)
    assert keymap == {} and "not valid TOML" in warning and "\n" not in warning


def palette_hints(app) -> dict[str, str]:
    """Each palette entry's help line (with its key hint) as the palette would show it now."""
    from lmscope.tui.commands import static_commands

    return {name: help_text for name, _cb, help_text in static_commands(app)}


def write_keymap(tmp_path, text: str) -> None:
    """The user's keymap.toml where offline_env points the config folder (XDG_CONFIG_HOME)."""
    folder = tmp_path / "config" / "lmscope"
    folder.mkdir(parents=True)
    (folder / "keymap.toml").write_text(text)


async def test_user_keymap_moves_a_key_and_the_palette_hint(tmp_path):
    from lmscope.tui.app import LmscopeApp

    write_keymap(tmp_path, '[keymap]\n"app.export" = "ctrl+e"\n')
    app = LmscopeApp([])
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.main_model is not None)
        hints = palette_hints(app)
        assert "^e" in hints["Export view as JSON"] and "^s" not in hints["Export view as JSON"]
        await pilot.press("ctrl+s")  # the default key no longer exports
        await pilot.pause(0.2)
        assert type(app.screen).__name__ != "ExportScreen"
        await pilot.press("ctrl+e")
        await wait_for(pilot, lambda: type(app.screen).__name__ == "ExportScreen")


async def test_palette_hints_follow_the_screen_keys_and_the_keymap(tmp_path):
    """A palette entry whose key belongs to one screen shows it there (after the user's keymap), nowhere else."""
    from lmscope.tui.app import LmscopeApp

    write_keymap(tmp_path, '[keymap]\n"compare.add" = "n"\n')
    app = LmscopeApp([])
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.main_model is not None)
        hints = palette_hints(app)
        assert hints["Compare with…"] == "add a model to the comparison"  # Summary has no key for it
        await pilot.press("f5")
        await wait_for(pilot, lambda: app.current_mode == "compare")
        hints = palette_hints(app)
        assert hints["Compare with…"] == "add a model to the comparison (n)"
        assert hints["Go to Memory & FLOPs"] == "F4 or 3"  # app-wide keys keep their hints
        await pilot.press("n")  # the hinted key does what the entry does
        await wait_for(pilot, lambda: type(app.screen).__name__ == "ModelPicker")


async def test_palette_command_runs_the_keys_action():
    from lmscope.tui.app import LmscopeApp
    from lmscope.tui.commands import static_commands

    app = LmscopeApp([])
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.main_model is not None)
        commands = {name: cb for name, cb, _help in static_commands(app)}
        assert "Remove last compared model" not in commands  # only one model: it does not apply
        commands["Go to Memory & FLOPs"]()
        await wait_for(pilot, lambda: app.current_mode == "memory")
        mode = app.settings.mode
        commands["Toggle inference / training"]()
        await wait_for(pilot, lambda: app.settings.mode != mode)
