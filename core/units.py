"""Numbers as people read and type them, in one place: formatting and parsing.

Formatting — every text view (the app's tables and chart, the CLI's text and
Markdown, the search table, the weights report) goes through :func:`human`,
so a number reads the same wherever it appears ("494.03 M" in the app is
"494.03 M" in an export). JSON never goes through here: it keeps integers.

* ``bytes``: binary units, GiB = 2^30 (what ``nvidia-smi`` and the
  allocators count, and what HBM capacities really are); ``bytes-decimal``
  gives GB = 10^9. One convention holds for every view of a run:
  :func:`set_byte_units` (the ``--units`` option, ``LMSCOPE_UNITS``, the
  app's ``u`` key) switches ``bytes`` — and every fixed byte unit — to
  decimal, so a table and a chart never disagree.
* ``flops``: decimal, TFLOP = 10^12 (2 per multiply-add).
* ``count``: decimal K/M/B/T (parameters, downloads).
* Two decimals above the base unit, thousands separators, "—" for unknown.

Token lengths read in powers of two: :func:`tokens` writes ``4k`` for 4,096
and ``1M`` for 2^20, as context lengths are quoted.

Parsing — one parser per kind of quantity, shared by every command and the
app, so ``--seq-len 128k`` and a ``128k`` typed on the Memory screen mean the
same thing:

* Counts (sequence lengths, batch sizes): ``k`` = 1024 and ``M`` = 1024² —
  context lengths are powers of two in practice (a "128k" model holds
  131,072 tokens), so ``128k`` is 131,072 and ``1M`` is 1,048,576. A plain
  number is taken as it is (``100000``, ``131,072``); :func:`parse_count`
  reads back whatever :func:`tokens` writes.
* Memory sizes: binary units (``24GB`` = ``24GiB`` = 24·2³⁰ bytes) because GPU
  memory is sold in binary units whatever the label says; a bare number is GiB.
* Bandwidths (``--gpu-bandwidth``): decimal, as vendors print them
  (``3.35TB/s`` = 3.35·10¹² B/s); a bare number is GB/s.
* FLOP/s (``--gpu-flops``): decimal; a bare number is TFLOP/s.
"""

from __future__ import annotations

import math
import re
from typing import Literal

from lmscope.core.errors import UsageError

# --------------------------------------------------------------------------- formatting

Style = Literal["bytes", "bytes-decimal", "flops", "count"]
STYLES: tuple[str, ...] = ("bytes", "bytes-decimal", "flops", "count")
MISSING = "—"

# style -> (base, unit of the plain number, larger units in order)
_SCALES: dict[str, tuple[int, str, tuple[str, ...]]] = {
    "bytes": (1024, "B", ("KiB", "MiB", "GiB", "TiB", "PiB", "EiB")),
    "bytes-decimal": (1000, "B", ("kB", "MB", "GB", "TB", "PB", "EB")),
    "flops": (1000, "FLOP", ("KFLOP", "MFLOP", "GFLOP", "TFLOP", "PFLOP", "EFLOP")),
    "count": (1000, "", ("K", "M", "B", "T")),
}


BYTE_UNITS: tuple[str, ...] = ("binary", "decimal")
# the run's byte convention: one process shows one convention (set once by the
# CLI router or the app, read by every formatter below)
_byte_units = "binary"
_TO_DECIMAL = {"KiB": "kB", "MiB": "MB", "GiB": "GB", "TiB": "TB", "PiB": "PB", "EiB": "EB"}


def set_byte_units(units: str) -> str:
    """Make ``bytes`` mean binary (GiB, the default) or decimal (GB) units; returns the previous setting.

    Why process-wide: a number's unit must not depend on which view printed
    it, and every view formats through this module.
    """
    global _byte_units
    if units not in BYTE_UNITS:
        raise UsageError(f"units: {str(units)[:40]!r} is not one of {', '.join(BYTE_UNITS)}")
    previous, _byte_units = _byte_units, units
    return previous


def byte_units() -> str:
    """The run's byte convention: ``"binary"`` (GiB) or ``"decimal"`` (GB)."""
    return _byte_units


def byte_units_from_env(default: str = "binary") -> str:
    """``LMSCOPE_UNITS`` when it names a convention, else ``default`` (an unknown value is ignored)."""
    import os

    value = os.environ.get("LMSCOPE_UNITS", "").strip().lower()
    return value if value in BYTE_UNITS else default


def _is_number(n: object) -> bool:
    return isinstance(n, (int, float)) and not isinstance(n, bool) and math.isfinite(n)


def _scale_of(style: str) -> tuple[int, str, tuple[str, ...]]:
    if style == "bytes" and _byte_units == "decimal":
        style = "bytes-decimal"
    if style not in _SCALES:
        raise ValueError(f"unknown unit style {style!r} (one of {', '.join(STYLES)})")
    return _SCALES[style]


def unit_for(n: float, style: str = "count") -> tuple[int, str]:
    """(divisor, unit name) :func:`human` writes ``n`` in: ``unit_for(3 << 30, "bytes")`` → ``(2**30, "GiB")``.

    Why public: a chart scales a whole axis by its largest value and must pick
    the unit the text views would pick for it; below the first step it is
    ``(1, base unit)``.
    """
    base, plain, units = _scale_of(style)
    value = abs(float(n))
    if value < base:
        return 1, plain
    divisor, unit = 1, units[0]
    for unit in units:  # noqa: B007 - the unit the loop stops at is the answer
        value /= base
        divisor *= base
        if value < base:
            break
    return divisor, unit


def human(n: object, style: str = "count") -> str:
    """``n`` in the largest unit of ``style`` it reaches: ``human(1536, "bytes")`` → ``"1.50 KiB"``.

    Below the first step the number is a whole one with its base unit
    (``"512 B"``, ``"999"``); above the last unit the last one grows
    (``"1,234.00 T"``). None, NaN, booleans and non-numbers read ``"—"``.
    """
    base, plain, units = _scale_of(style)
    if not _is_number(n):
        return MISSING
    value = float(n)  # type: ignore[arg-type]
    if abs(value) < base:
        whole = f"{int(n):,}" if isinstance(n, int) else f"{value:,.0f}"  # type: ignore[call-overload]
        return f"{whole} {plain}".rstrip()
    unit = units[0]
    for unit in units:  # noqa: B007 - the unit the loop stops at is the answer
        value /= base
        if abs(value) < base:
            break
    # rounding may reach the next unit (1023.999 KiB prints "1,024.00 KiB"): the
    # value is still right, and the next unit would need a second rounding.
    return f"{value:,.2f} {unit}"


# one fixed unit by name: a column or a sentence that keeps its unit whatever the size
_FIXED: dict[str, float] = {
    "KiB": 2**10, "MiB": 2**20, "GiB": 2**30, "TiB": 2**40,
    "kB": 1e3, "MB": 1e6, "GB": 1e9, "TB": 1e12,
    "K": 1e3, "M": 1e6, "B": 1e9, "T": 1e12,
    "GFLOP": 1e9, "TFLOP": 1e12, "PFLOP": 1e15,
}


def fixed(n: object, unit: str, decimals: int = 2, *, divisor: float | None = None) -> str:
    """``n`` in one named unit: ``fixed(3 << 29, "GiB")`` → ``"1.50 GiB"``, ``fixed(989e12, "T", 0)`` → ``"989 T"``.

    Why beside :func:`human`: a table column (GPU list) or an assumption
    sentence ("overhead 0.50 GiB") keeps one unit whatever the size, where
    :func:`human` would change unit. ``divisor`` scales by a unit chosen
    elsewhere (a chart title in its axis' unit). ``"—"`` when unknown.
    """
    if not _is_number(n):
        return MISSING
    if divisor is None and _byte_units == "decimal":
        unit = _TO_DECIMAL.get(unit, unit)
    scale = divisor if divisor is not None else _FIXED[unit]
    return f"{float(n) / scale:,.{decimals}f} {unit}".rstrip()  # type: ignore[arg-type]


# unit names of report rows (COMPARE_METRICS, *_human keys) -> formatter style
_UNIT_STYLE = {"bytes": "bytes", "flops": "flops", "params": "count"}


def display(value: object, unit: str = "") -> str:
    """A report value for its unit name: params/bytes/flops read as :func:`human`; other numbers in full.

    ``display(494_032_768, "params")`` → ``"494.03 M"``; ``display(131072, "tokens")`` →
    ``"131,072"``; ``display(True)`` → ``"yes"``; None → ``"—"``; text as it is.
    """
    style = _UNIT_STYLE.get(unit)
    if style is not None:
        return human(value, style)
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    return MISSING if value is None else str(value)


def human_bytes(n: object, *, decimal: bool = False) -> str:
    """Bytes in the run's convention (GiB/MiB… by default); ``decimal`` forces GB/MB…, 10^9."""
    return human(n, "bytes-decimal" if decimal else "bytes")


def human_flops(n: object) -> str:
    """FLOPs in decimal units: ``"70.27 TFLOP"``."""
    return human(n, "flops")


def human_count(n: object) -> str:
    """A count (parameters, downloads): ``"8.03 B"``, ``"494.03 M"``, ``"512"``."""
    return human(n, "count")


def exact_count(n: object) -> str:
    """Every digit, with thousands separators (``"8,030,261,248"``); ``"—"`` when unknown."""
    if isinstance(n, bool) or not isinstance(n, int):
        return MISSING
    return f"{n:,}"


def byte_unit(decimal: bool | None = None) -> tuple[int, str]:
    """(bytes per unit, name) of the chart axis: (2^30, "GiB"), or (10^9, "GB") with ``decimal``.

    ``None`` follows the run's convention (:func:`set_byte_units`).
    """
    if decimal is None:
        decimal = _byte_units == "decimal"
    return (10**9, "GB") if decimal else (1 << 30, "GiB")


def ratio(value: object, base: object) -> str:
    """``value / base`` as ``"×1.50"`` (``"×914,999"`` when large; ``""`` when it cannot be formed)."""
    if not _is_number(value) or not _is_number(base) or base == 0:
        return ""
    r = float(value) / float(base)  # type: ignore[arg-type]
    return f"×{r:,.0f}" if abs(r) >= 100 else f"×{r:.2f}"


def human_seconds(t: object) -> str:
    """A duration: ``"1.25 s"`` from one second up, else ``"12.3 ms"``; ``"—"`` when unknown."""
    if not _is_number(t):
        return MISSING
    value = float(t)  # type: ignore[arg-type]
    return f"{value:,.2f} s" if value >= 1 else f"{value * 1000:,.1f} ms"


def tokens(n: int) -> str:
    """A token count as ``"4k"``, ``"128k"``, ``"1M"`` (k = 1024); other counts in full (``"100,000"``)."""
    if n >= 1 << 20 and n % (1 << 20) == 0:
        return f"{n >> 20}M"
    if n >= 1 << 10 and n % (1 << 10) == 0:
        return f"{n >> 10}k"
    return f"{n:,}"


# --------------------------------------------------------------------------- parsing

MAX_COUNT = 1 << 40

_COUNT = re.compile(r"^\s*(\d[\d,_]*(?:\.\d+)?)\s*([kKmMgG]?)\s*$")
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
        scaled = float(number.replace(",", "").replace("_", "")) * _COUNT_UNITS[unit.lower()]
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


_BINARY: dict[str, float] = {"b": 1, "k": 2**10, "kb": 2**10, "kib": 2**10, "m": 2**20, "mb": 2**20, "mib": 2**20,
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


def parse_token_count(text: str | int, *, name: str = "sequence length") -> int:
    """A token count as typed (``"100k"``, ``"131072"``, ``"1M"``): :func:`parse_count` under the
    name the app's typed sequence length and the docs use."""
    return parse_count(text, name=name)
