"""Keep Hugging Face tokens out of everything lmscope prints or writes.

Any text that may reach a user, a log, an export or a screenshot goes through
:func:`redact`. It removes every token registered with :func:`register_secret`
(the one from ``--token``, ``HF_TOKEN`` or the stored login) and anything that
looks like a Hub token (``hf_`` followed by 20+ letters/digits), wherever it
appears (URLs, headers, exception text).
"""

from __future__ import annotations

import re

_TOKEN_PATTERN = re.compile(r"hf_[A-Za-z0-9]{20,}")
_BEARER_PATTERN = re.compile(r"(?i)(authorization['\"]?\s*[:=]\s*['\"]?bearer\s+)[^\s'\",}]+")
_secrets: set[str] = set()
MASK = "hf_***"


def register_secret(secret: str | None) -> None:
    """Remember a secret so that :func:`redact` removes it from any text."""
    if secret and len(secret) >= 4:
        _secrets.add(secret)


def redact(text: str) -> str:
    """``text`` with every known or token-shaped secret replaced by ``hf_***``."""
    for secret in sorted(_secrets, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, MASK)
    text = _BEARER_PATTERN.sub(lambda m: m.group(1) + MASK, text)
    return _TOKEN_PATTERN.sub(MASK, text)
