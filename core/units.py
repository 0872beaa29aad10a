"""Parsing the numbers people type: ``32k`` tokens, ``24GB`` of memory, ``3.35TB/s``.

One parser per kind of quantity, shared by every command and the app, so
``--seq-len 128k`` means the same thing everywhere.

* Counts (sequence lengths, batch sizes): ``k`` = 1024 and ``M`` = 1024² —
  context lengths are powers of two in practice (a "128k" model holds
  131,072 tokens), so ``128k`` is 131,072 and ``1M`` is 1,048,576. A plain
  number is taken as it is (``100000``).
* Memory sizes: binary units (``24GB`` = ``24GiB`` = 24·2³⁰ bytes) because GPU
  memory is sold in binary units whatever the label says; a bare number is GiB.
* Bandwidths (``--gpu-bandwidth``): decimal, as vendors print them
  (``3.35TB/s`` = 3.35·10¹² B/s); a bare number is GB/s.
* FLOP/s (``--gpu-flops``): decimal; a bare number is TFLOP/s.
"""

from __future__ import annotations

import math
import re

from lmscope.core.errors import UsageError

MAX_COUNT = 1 << 40

_COUNT = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kKmMgG]?)\s*$")
_COUNT_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30}


def parse_count(text: str | int, *, name: str = "value") -> int:
    """``"32k"`` → 32768, ``"1M"`` → 1048576, ``"100000"`` → 100000 (k/M/G binary; see module doc).

    Raises :class:`UsageError` (one line) for anything else, for a fraction
    that does not land on a whole number, and outside 1 … 2⁴⁰.
    """
    if isinstance(text, int) and not isinstance(text, bool):
        value = text
    else:
        m = _COUNT.match(str(text))
        if not m:
            raise UsageError(f"{name}: not a count: {str(text)[:40]!r} (try 4096, 32k, 128k or 1M)")
        number, unit = m.groups()
        scaled = float(number) * _COUNT_UNITS[unit.lower()]
        if not math.isfinite(scaled) or scaled != int(scaled):
            raise UsageError(f"{name}: {text!r} is not a whole number of tokens")
        value = int(scaled)
    if not 1 <= value <= MAX_COUNT:
        raise UsageError(f"{name}: must be between 1 and 2^40, not {value}")
    return value


_QUANTITY = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z/]*)\s*$")


def _quantity(text: str, name: str, units: dict[str, float], default: float, example: str) -> float:
    m = _QUANTITY.match(str(text))
    if not m:
        raise UsageError(f"{name}: cannot read {str(text)[:40]!r} (e.g. {example})")
    number, unit = m.groups()
    key = unit.lower().replace("/s", "").replace("ps", "")
    if key and key not in units:
        raise UsageError(f"{name}: unknown unit {unit!r} (e.g. {example})")
    value = float(number) * (units[key] if key else default)
    if not math.isfinite(value) or value <= 0:
        raise UsageError(f"{name}: must be positive, not {text!r}")
    return value


_BINARY = {"b": 1, "k": 2**10, "kb": 2**10, "kib": 2**10, "m": 2**20, "mb": 2**20, "mib": 2**20,
           "g": 2**30, "gb": 2**30, "gib": 2**30, "t": 2**40, "tb": 2**40, "tib": 2**40}
_DECIMAL_BYTES = {"b": 1, "k": 1e3, "kb": 1e3, "m": 1e6, "mb": 1e6, "g": 1e9, "gb": 1e9, "t": 1e12, "tb": 1e12}
_FLOPS = {"g": 1e9, "gflop": 1e9, "gflops": 1e9, "t": 1e12, "tflop": 1e12, "tflops": 1e12,
          "p": 1e15, "pflop": 1e15, "pflops": 1e15}


def parse_size(text: str) -> int:
    """Memory size in bytes: ``"24GB"``, ``"24GiB"``, ``"512M"``, ``"1.5T"``, ``"80"`` (GiB); binary units."""
    value = _quantity(text, "memory size", _BINARY, 2**30, "24GB or 80")
    if value > 2**50:
        raise UsageError(f"memory size: implausibly large: {text!r}")
    return int(value)


def parse_bandwidth(text: str) -> float:
    """Bandwidth in bytes/s: ``"3.35TB/s"``, ``"900GB/s"``, ``"936"`` (GB/s); decimal units."""
    return _quantity(text, "bandwidth", _DECIMAL_BYTES, 1e9, "3.35TB/s or 936")


def parse_flops(text: str) -> float:
    """Peak FLOP/s: ``"989T"``, ``"1.9P"``, ``"165"`` (TFLOP/s); decimal units."""
    return _quantity(text.replace("FLOP/s", "flops").replace("flop/s", "flops"), "FLOP/s", _FLOPS, 1e12, "989T or 165")
