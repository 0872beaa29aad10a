"""Which Hugging Face token lmscope uses, and keeping it secret.

Order: ``--token`` > ``HF_TOKEN`` (or the older ``HUGGING_FACE_HUB_TOKEN``) >
the login ``huggingface_hub`` stored (``hf auth login``). Whatever is found is
registered with :func:`lmscope.core.redact.register_secret` before anything
else happens, so it is masked in every message, log line and export even if a
library echoes it back.

A token holding a control character, a space or a non-ASCII character (a
pasted line break, a stray quote from a shell) is refused before it is sent:
HTTP libraries reject such a header with an error that quotes the value in an
escaped form. The refusal names where the token came from, never the token.
"""

from __future__ import annotations

import os

from lmscope.core.errors import HubError
from lmscope.core.redact import register_secret


class TokenError(HubError):
    """The token cannot be sent as an HTTP header (control characters, spaces, non-ASCII)."""


def _clean(value: str | None) -> str | None:
    value = (value or "").strip()
    return value or None


def token_source(explicit: str | None = None) -> str:
    """Where the token would come from: "--token", "HF_TOKEN", "stored login" or "none" (for --verbose)."""
    if _clean(explicit):
        return "--token"
    if _clean(os.environ.get("HF_TOKEN")) or _clean(os.environ.get("HUGGING_FACE_HUB_TOKEN")):
        return "HF_TOKEN"
    return "stored login" if _stored_token() else "none"


def _stored_token() -> str | None:
    try:
        from huggingface_hub import get_token
    except ImportError:  # pragma: no cover - huggingface_hub is a dependency
        return None
    try:
        return _clean(get_token())
    except Exception:  # noqa: BLE001 - an unreadable token file means "no stored login"
        return None


def resolve_token(explicit: str | None = None) -> str | None:
    """The token to send: ``explicit`` > ``HF_TOKEN`` > the stored login; None when there is none.

    The token is registered with ``redact`` so it never appears in output.
    """
    token = (
        _clean(explicit)
        or _clean(os.environ.get("HF_TOKEN"))
        or _clean(os.environ.get("HUGGING_FACE_HUB_TOKEN"))
        or _stored_token()
    )
    register_secret(token)
    check_token(token, token_source(explicit))
    return token


def check_token(token: str | None, source: str = "the token") -> None:
    """Refuse a token that is not printable ASCII without spaces (one line that never shows it).

    Call after :func:`register_secret`, so even a library that saw it could not print it.
    """
    if token is None:
        return
    if any(not (0x21 <= ord(ch) <= 0x7E) for ch in token):
        raise TokenError(
            f"the Hugging Face token from {source} contains a line break, control character, space or non-ASCII "
            "character (a bad paste?); it was not sent — set it again"
        )
