"""Tokens are masked in every form a library may print them in; echoed input is bounded.

The forms are produced here with the standard library's own encoders
(``urllib.parse.quote``, ``base64``, ``repr``, ``json.dumps``) — the way an HTTP
client would spell the token in a URL, a basic-auth header or an exception.
"""

from __future__ import annotations

import base64
import json
import urllib.parse

import pytest

from lmscope.core.hub.token import TokenError, check_token
from lmscope.core.redact import MASK, redact, register_secret, shown

# not token-shaped (no hf_ prefix): only registration can mask it
SECRET = "corp-Tok3n+/=:with;odd&chars" + "Z" * 12


@pytest.fixture(autouse=True)
def _registered():
    register_secret(SECRET)


def _leaks(text: str) -> bool:
    return SECRET in text or "Tok3n" in text


@pytest.mark.parametrize(
    "form",
    [
        SECRET,
        urllib.parse.quote(SECRET, safe=""),
        urllib.parse.quote_plus(SECRET),
        repr(SECRET),
        json.dumps(SECRET),
        repr(SECRET.encode()),
    ],
    ids=["verbatim", "percent", "percent-plus", "repr", "json", "bytes-repr"],
)
def test_every_spelling_is_masked(form):
    text = redact(f"Illegal header value {form} in request to https://hub/{form}?x=1")
    assert MASK in text
    assert urllib.parse.unquote(text).count("Tok3n") == 0


@pytest.mark.parametrize("prefix", ["", "u:", "user:", "a-much-longer-user-name:", "Bearer ", "x:Bearer "])
def test_base64_of_the_token_with_any_prefix_is_masked(prefix):
    encoded = base64.b64encode(f"{prefix}{SECRET}".encode()).decode()
    text = redact(f"sent Authorization {encoded} and failed")
    decoded_parts = [chunk for chunk in text.split() if len(chunk) > 8]
    for chunk in decoded_parts:  # whatever base64 survives no longer decodes to the secret
        padded = chunk + "=" * (-len(chunk) % 4)
        try:
            assert "Tok3n" not in base64.b64decode(padded, validate=False).decode("latin-1")
        except ValueError:
            pass
    assert encoded not in text


def test_authorization_headers_are_masked_whatever_they_hold():
    text = redact("headers={'authorization': 'Bearer abcdefghij1234567890', 'Proxy-Authorization': 'Basic dXNlcjpwYXNzd29yZDEy'}")
    assert "abcdefghij1234567890" not in text and "dXNlcjpwYXNzd29yZDEy" not in text


def test_ordinary_prose_is_left_alone():
    prose = "a basic multi-layer-perceptron and a Bearer of good news; layers 0-31"
    assert redact(prose) == prose


@pytest.mark.parametrize("bad", ["hf_abc\ndef", "hf_abc\rdef", "hf_abc def", "hf_abc\tdef", "hf_abc\x00", "hf_abcé", "hf_\x1b[2J"])
def test_token_with_control_or_non_ascii_characters_is_refused_without_echo(bad):
    with pytest.raises(TokenError) as info:
        check_token(bad, "HF_TOKEN")
    message = str(info.value)
    assert "HF_TOKEN" in message and "abc" not in message and "\n" not in message


def test_printable_token_is_accepted():
    check_token("hf_" + "a1" * 20, "--token")
    check_token(None)


def test_shown_is_bounded_escaped_and_token_free():
    long = "x" * 5000
    assert len(shown(long)) <= 120 and shown(long).startswith("xxx") and "..." in shown(long)
    assert shown("a\nb\x1b[2J") == "a\\nb\\x1b[2J"
    assert "Tok3n" not in shown(f"rev-{SECRET}")
    path = "/very/" + "deep/" * 100 + "model.safetensors"
    assert shown(path, 80).endswith("model.safetensors")  # the end (the file name) survives
