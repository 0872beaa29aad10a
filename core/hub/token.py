"""Which Hugging Face token lmscope uses, and keeping it secret.

Order: ``--token`` > ``HF_TOKEN`` (or the older ``HUGGING_FACE_HUB_TOKEN``) >
the login ``huggingface_hub`` stored (``hf auth login``). Whatever is found is
registered with :func:`lmscope.core.redact.register_secret` before anything
else happens, so it is masked in every message, log line and export even if a
library echoes it back.
"""

from __future__ import annotations

import os

from lmscope.core.redact import register_secret


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
    return token
