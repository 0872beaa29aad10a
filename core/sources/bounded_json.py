"""Parse JSON side files with memory bounded by their structure, not only their size.

A byte cap is not a memory cap: ``[{},{},...]`` costs ~24 bytes of Python
objects per byte of JSON, so a 100 MB tokenizer.json (or safetensors header)
within every size limit used to peak at 2.5 GB inside ``json.loads``. Before
parsing, :func:`json_cost` measures what the parse would build, in time linear
in the size and without building it:

- *values*: every ``,``, ``[`` and ``{`` outside strings (strings are cut out
  with one regular expression first) — each becomes one Python object or slot;
- *text*: the decoded ``str`` — 1, 2 or 4 bytes per character, depending on
  the widest character the file holds (one emoji makes the whole text 4 bytes
  a character), and as much again for the string objects parsed from it;
- *depth*: the deepest nesting of ``[``/``{``, so a file nested 100,000 deep is
  refused with a message instead of a ``RecursionError`` somewhere later.

:func:`load_bounded` refuses a file whose estimated peak is over
:data:`MAX_JSON_MEMORY` (or nested deeper than :data:`MAX_DEPTH`) with one
line naming the file, and otherwise parses it. Genuine side files are far
below these bounds: a 33 MB BPE tokenizer.json with emoji (Gemma 3's) estimates
~430 MB. The estimate is conservative: measured with ``tracemalloc`` on eleven
shapes (empty lists and dicts, one-key dicts, floats, big ints, distinct keys,
short strings, emoji strings, tokenizer-like files), the real parse peak was
between 45 % and 100 % of it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass

from lmscope.core.errors import ConfigError, LmscopeError

MIB = 1024 * 1024
MAX_JSON_MEMORY = 768 * MIB  # estimated peak of parsing one file; with the interpreter, under 1 GB
MAX_INDEX_MEMORY = 256 * MIB  # a weights index: a million entries (DeepSeek-V3 has 92,000) estimate ~230 MB
MAX_DEPTH = 64  # real configs nest 4-6 deep; tokenizer.json about 6
BYTES_PER_VALUE = 96  # a one-key dict is 184 bytes for two counted values ("{" and ","); an empty one 64 + 8
BYTES_PER_STRING = 56  # a str object's header (49 bytes) beyond its characters, rounded up
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')
_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")


@dataclass(frozen=True)
class JsonCost:
    """What parsing a JSON document would build: see the module docstring."""

    size: int
    values: int
    strings: int
    depth: int
    char_width: int

    @property
    def estimate(self) -> int:
        """Estimated peak bytes of ``json.loads``: raw bytes, decoded text, string objects, containers."""
        text = self.size * self.char_width
        return self.size + 2 * text + self.values * BYTES_PER_VALUE + self.strings * BYTES_PER_STRING


_SMALL = 1 << 20  # below this, plain Python is fast enough and numpy is not imported


def _char_width(raw: bytes) -> int:
    """Bytes per character of ``raw`` decoded to a Python str, from its largest byte alone.

    A lead byte of 0xF0+ starts a character beyond U+FFFF (4 bytes each in a
    str); 0xC4..0xEF one beyond U+00FF (2 bytes); continuation bytes are at
    most 0xBF and 0xC2/0xC3 lead only Latin-1 characters (1 byte).
    """
    if not raw:
        return 1
    if len(raw) < _SMALL:
        top = max(raw)
    else:
        import numpy as np

        top = int(np.frombuffer(raw, dtype=np.uint8).max())
    return 4 if top >= 0xF0 else 2 if top >= 0xC4 else 1


def _depth(brackets: bytes, stop_at: int) -> int:
    """Deepest nesting of a string of ``[]{}`` (at most ``stop_at + 1`` is reported: enough to refuse).

    Each round deletes the innermost empty pairs, so the rounds needed to
    empty a well-formed string are its depth; files of many flat containers
    (the usual bombs) vanish in a round or two. What survives ``stop_at``
    rounds is deeper (or unbalanced, which the parser then reports).
    """
    for depth in range(stop_at + 1):
        if not brackets:
            return depth
        shorter = brackets.replace(b"[]", b"").replace(b"{}", b"")
        if len(shorter) == len(brackets):  # unbalanced or mismatched: leave it to the parser
            return depth
        brackets = shorter
    return stop_at + 1 if brackets else stop_at


def _structure_small(raw: bytes, max_depth: int) -> tuple[int, int]:
    """(values, depth) of a small document: strings cut out with one regular expression."""
    structure = _STRING.sub(b"", raw)
    containers = structure.count(b"[") + structure.count(b"{")
    values = structure.count(b",") + containers + 1
    depth = containers if containers <= max_depth else _depth(structure.translate(None, _BRACKETS), max_depth)
    return values, depth


def _structure_large(raw: bytes, max_depth: int) -> tuple[int, int]:
    """(values, depth) of a large document, in fixed-size numpy chunks (no per-string Python objects).

    Escapes are removed first (a backslash occurs only inside strings and
    always pairs with the next byte), after which every quote toggles between
    inside and outside a string: a running parity marks what is structure.
    ``re.sub`` would build one bytes object per gap between strings — for an
    index of 2.4 million entries, more memory than the parse it guards.
    """
    import numpy as np

    if b"\\" in raw:
        raw = raw.replace(b"\\\\", b"").replace(b'\\"', b"")
    arr = np.frombuffer(raw, dtype=np.uint8)
    values = 1
    parity = 0
    brackets: list[bytes] = []
    chunk = 1 << 22
    for start in range(0, len(arr), chunk):
        part = arr[start : start + chunk]
        inside = (np.cumsum(part == ord('"'), dtype=np.int32) + parity) & 1
        parity = int(inside[-1])
        outside = inside == 0
        values += int(np.count_nonzero(outside & ((part == ord(",")) | (part == ord("[")) | (part == ord("{")))))
        is_bracket = (part == ord("[")) | (part == ord("]")) | (part == ord("{")) | (part == ord("}"))
        brackets.append(part[outside & is_bracket].tobytes())
    joined = b"".join(brackets)
    del brackets
    containers = joined.count(b"[") + joined.count(b"{")
    depth = containers if containers <= max_depth else _depth(joined, max_depth)
    return values, depth


def json_cost(raw: bytes, *, max_depth: int = MAX_DEPTH) -> JsonCost:
    """Measure ``raw`` (JSON bytes) without parsing it: values, nesting depth and character width."""
    values, depth = (_structure_small if len(raw) < _SMALL else _structure_large)(raw, max_depth)
    strings = raw.count(b'"') // 2  # escaped quotes only over-count
    return JsonCost(size=len(raw), values=values, strings=strings, depth=depth, char_width=_char_width(raw))


def load_bounded(
    raw: bytes,
    *,
    name: str,
    error: type[LmscopeError] = ConfigError,
    budget: int = MAX_JSON_MEMORY,
    max_depth: int = MAX_DEPTH,
    parse_constant: Callable[[str], object] | None = None,
) -> object:
    """``json.loads(raw)`` when its structure fits the memory ``budget`` and ``max_depth``; else one-line ``error``.

    ``name`` names the file in messages. Malformed JSON, a byte-order mark,
    non-UTF-8 text and too-deep nesting all raise ``error`` too.
    """
    cost = json_cost(raw, max_depth=max_depth)
    if cost.depth > max_depth:
        raise error(f"{name} is nested more than {max_depth} levels deep; not a file lmscope reads")
    if cost.estimate > budget:
        raise error(
            f"{name} holds {cost.values:,} JSON values in {cost.size:,} bytes (about {cost.estimate // MIB:,} MB "
            f"once parsed, more than the {budget // MIB:,} MB lmscope allows for one file); refusing it"
        )
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise error(f"{name} is not UTF-8 text") from None
    try:
        return json.loads(text, parse_constant=parse_constant) if parse_constant else json.loads(text)
    except RecursionError:
        raise error(f"{name} is nested too deeply") from None
    except ValueError as err:  # JSONDecodeError, and parse_constant's refusal
        first = str(err).splitlines()[0] if str(err) else "invalid JSON"
        raise error(f"{name} is not valid JSON: {first[:160]}") from None
