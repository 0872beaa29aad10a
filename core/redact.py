"""Keep Hugging Face tokens out of everything lmscope prints or writes, and keep echoed input short.

Any text that may reach a user, a log, an export or a screenshot goes through
:func:`redact`. It removes every token registered with :func:`register_secret`
(the one from ``--token``, ``HF_TOKEN`` or the stored login) and anything that
looks like a Hub token (``hf_`` followed by 20+ letters/digits), wherever it
appears (URLs, headers, exception text).

A library that fails on a token rarely quotes it verbatim: an HTTP client
percent-encodes it in a URL, ``repr``-escapes it in an "illegal header value"
message, or base64-encodes ``user:token`` for basic auth. So a registered
secret is masked in each of those forms too (for base64, the part of the
encoding that depends on the token alone, at each of the three alignments a
prefix can give it), and ``Authorization: Bearer``/``Basic`` values are masked
whatever they hold.

:func:`shown` is the one way an error message quotes something the user typed
or a file holds (a revision, a path, a tensor name): one line, control
characters escaped, at most ``limit`` characters, token-free.
"""

from __future__ import annotations

import base64
import json
import re
from urllib.parse import quote, quote_plus

_TOKEN_PATTERN = re.compile(r"hf_[A-Za-z0-9]{20,}")
_AUTH_PATTERN = re.compile(r"(?i)((?:authorization|proxy-authorization)['\"]?\s*[:=]\s*['\"]?(?:bearer|basic|token)\s+)[^\s'\",}]+")
# "Bearer <x>"/"Basic <x>" as HTTP spells them, where <x> looks like a credential (long, letters and digits)
_SCHEME_PATTERN = re.compile(r"(\b(?:Bearer|Basic)\s+)(?=[A-Za-z._~+/=-]*[0-9])(?=[0-9._~+/=-]*[A-Za-z])[A-Za-z0-9._~+/=-]{16,}")
_secrets: set[str] = set()
MASK = "hf_***"
# base64 fragments shorter than this are too likely to occur by chance to be masked
_MIN_B64_FRAGMENT = 12
ECHO_LIMIT = 120


def _base64_fragments(secret: str) -> set[str]:
    """Substrings every base64 encoding of ``…secret…`` contains, whatever precedes or follows it.

    A prefix shifts the secret by 0, 1 or 2 bytes within base64's 3-byte
    groups; for each shift, the characters that encode only bytes of the
    secret are fixed. Drop the (up to two) characters shared with the prefix
    and the last group shared with the suffix.
    """
    raw = secret.encode("utf-8", "surrogatepass")
    out: set[str] = set()
    for shift in range(3):
        encoded = base64.b64encode(b"\0" * shift + raw).decode("ascii")
        start = 0 if shift == 0 else 4  # the first group mixes prefix and secret bytes
        usable = (shift + len(raw)) // 3 * 4  # whole groups only: the last partial one mixes with the suffix
        fragment = encoded[start:usable]
        if len(fragment) >= _MIN_B64_FRAGMENT:
            out.add(fragment)
            out.add(fragment.replace("+", "-").replace("/", "_"))  # the URL-safe alphabet
    return out


def secret_forms(secret: str) -> set[str]:
    """Every spelling of ``secret`` a library might print: verbatim, escaped, percent-encoded, base64."""
    forms = {secret, repr(secret)[1:-1], json.dumps(secret)[1:-1], secret.encode("unicode_escape").decode("ascii")}
    forms |= {quote(secret, safe=""), quote_plus(secret), quote(secret)}
    forms.add(repr(secret.encode("utf-8", "surrogatepass"))[2:-1])
    forms |= _base64_fragments(secret)
    return {f for f in forms if len(f) >= 4}


def register_secret(secret: str | None) -> None:
    """Remember a secret so that :func:`redact` removes it (in every form) from any text."""
    if secret and len(secret) >= 4:
        _secrets.update(secret_forms(secret))


def redact(text: str) -> str:
    """``text`` with every known or token-shaped secret replaced by ``hf_***``."""
    for secret in sorted(_secrets, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, MASK)
    text = _AUTH_PATTERN.sub(lambda m: m.group(1) + MASK, text)
    text = _SCHEME_PATTERN.sub(lambda m: m.group(1) + MASK, text)
    return _TOKEN_PATTERN.sub(MASK, text)


def shown(value: object, limit: int = ECHO_LIMIT) -> str:
    """``value`` as an error message may quote it: one line, escaped, at most ``limit`` characters, token-free.

    Control characters (newline, carriage return, escape sequences that could
    rewrite the terminal) are shown escaped, as ``repr`` would; a longer value
    keeps its start and end around an ellipsis, so a path still shows its file
    name.
    """
    text = str(value)
    if any(not ch.isprintable() for ch in text):
        text = repr(text)[1:-1]
    text = redact(text)
    if len(text) <= limit:
        return text
    head = max(1, (limit - 3) * 2 // 3)
    tail = max(0, limit - 3 - head)
    return text[:head] + "..." + (text[-tail:] if tail else "")
