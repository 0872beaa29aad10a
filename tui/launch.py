"""``run_tui(args)``: what ``lmscope [MODEL …]`` runs (the CLI router calls it).

Only textual and the app module are imported here; the engine's heavy parts
load later, in workers.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from lmscope.tui.app import LmscopeApp


def build_app(args: argparse.Namespace) -> LmscopeApp:
    """The app for parsed CLI arguments (``models``, ``offline``, ``token``)."""
    from lmscope.core.redact import register_secret
    from lmscope.tui.app import LmscopeApp

    token = getattr(args, "token", None)
    register_secret(token)
    from lmscope.core.hub.token import check_token

    check_token(token, "--token")  # before the app starts: the refusal is one line on stderr
    return LmscopeApp(list(getattr(args, "models", []) or []), offline=bool(getattr(args, "offline", False)), token=token)


def run_tui(args: argparse.Namespace) -> int:
    """Run the TUI until the user quits; returns the exit code."""
    app = build_app(args)
    result = app.run()
    return int(result or 0) if app.return_code is None else int(app.return_code)
