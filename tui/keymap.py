"""User keymaps: ``keymap.toml`` in lmscope's config folder moves any key by its binding id.

Every lmscope binding carries an id (``app.export``, ``screen.search``,
``memory.seq_len``…; F1 lists the keys, ``docs/DESIGN.md`` the ids), so a
user file of ``id = "keys"`` lines is all Textual's ``App.set_keymap`` needs::

    # ~/.config/lmscope/keymap.toml (the folder platformdirs names on your system)
    [keymap]
    "app.export" = "ctrl+e"
    "screen.search" = "f2,ctrl+f"

A file that cannot be read is not fatal: the app starts with the default keys
and says in one line what was wrong.
"""

from __future__ import annotations

import os
from pathlib import Path

MAX_KEYMAP_BYTES = 64 * 1024


def keymap_path() -> Path:
    """``keymap.toml`` in the user config folder (``LMSCOPE_KEYMAP`` names another file)."""
    override = os.environ.get("LMSCOPE_KEYMAP")
    if override:
        return Path(override).expanduser()
    from platformdirs import user_config_dir

    return Path(user_config_dir("lmscope")) / "keymap.toml"


def load_keymap(path: Path | None = None) -> tuple[dict[str, str], str | None]:
    """(binding id -> keys, a one-line warning or None); an absent file is an empty keymap."""
    import tomllib

    from lmscope.core.redact import shown

    path = path or keymap_path()
    try:
        if not path.is_file():
            return {}, None
        raw = path.read_bytes()[: MAX_KEYMAP_BYTES + 1]
    except OSError as err:
        return {}, f"cannot read {path}: {err.strerror or err}"
    if len(raw) > MAX_KEYMAP_BYTES:
        return {}, f"{path}: larger than {MAX_KEYMAP_BYTES // 1024} KiB, ignored"
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as err:
        return {}, f"{path}: not valid TOML ({shown(str(err), 80)}), default keys used"
    table = data.get("keymap", data)
    if not isinstance(table, dict):
        return {}, f"{path}: [keymap] must be a table of binding id = \"keys\""
    keymap = {str(k): v.strip() for k, v in table.items() if isinstance(v, str) and v.strip()}
    bad = [k for k, v in table.items() if not (isinstance(v, str) and v.strip())]
    warning = f"{path}: {shown(bad[0], 40)} must be a string of keys, ignored" if bad else None
    return keymap, warning
