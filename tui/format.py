"""Human-readable units for the views (presentation only, no estimation).

Bytes use binary units (GiB = 2^30) as everywhere in lmscope's text views,
FLOPs decimal ones (TFLOP = 10^12). Parameters are shown with B/M/K suffixes.
Keeping every unit conversion here means the screens never divide anything.
"""

from __future__ import annotations

_BINARY = ((1 << 50, "PiB"), (1 << 40, "TiB"), (1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB"))
_DECIMAL = ((10**18, "E"), (10**15, "P"), (10**12, "T"), (10**9, "G"), (10**6, "M"), (10**3, "K"))


def human_bytes(n: int | float | None) -> str:
    """``n`` bytes as ``"1.23 GiB"`` (``"—"`` for None)."""
    if n is None:
        return "—"
    for size, unit in _BINARY:
        if abs(n) >= size:
            return f"{n / size:,.2f} {unit}"
    return f"{int(n):,} B"


def gib(n: int | float) -> float:
    """``n`` bytes in GiB, for charts."""
    return n / (1 << 30)


def gb(n: int | float) -> float:
    """``n`` bytes in decimal GB (10^9), the unit GPU makers print on the box."""
    return n / 1e9


def human_flops(n: int | float | None) -> str:
    """``n`` FLOPs as ``"12.3 TFLOP"``."""
    if n is None:
        return "—"
    for size, unit in _DECIMAL:
        if abs(n) >= size:
            return f"{n / size:,.2f} {unit}FLOP"
    return f"{int(n):,} FLOP"


def human_count(n: int | None) -> str:
    """A parameter count as ``"7.62 B"`` / ``"494 M"``."""
    if n is None:
        return "—"
    for size, unit in ((10**12, "T"), (10**9, "B"), (10**6, "M"), (10**3, "K")):
        if abs(n) >= size:
            value = n / size
            return f"{value:,.2f} {unit}" if value < 100 else f"{value:,.1f} {unit}"
    return f"{n:,}"


def exact_count(n: int | None) -> str:
    """A count with thousands separators, for the cases where every digit matters."""
    return "—" if n is None else f"{n:,}"


def ratio(value: int | float | None, base: int | float | None) -> str:
    """``value / base`` as ``"×1.50"`` (``""`` when it cannot be formed)."""
    if value is None or base in (None, 0):
        return ""
    return f"×{value / base:.2f}"


def tokens(n: int) -> str:
    """A token count as ``"4k"``, ``"128k"``, ``"1M"`` (powers of two read as k = 1024)."""
    if n >= 1 << 20 and n % (1 << 20) == 0:
        return f"{n >> 20}M"
    if n >= 1 << 10 and n % (1 << 10) == 0:
        return f"{n >> 10}k"
    return f"{n:,}"
