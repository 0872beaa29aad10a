"""core/units.py: the one formatter every text view uses, and the token-count parser.

Oracles are the definitions themselves (GiB = 2^30, TFLOP = 10^12, k = 1024
for token lengths) written out by hand, and a round trip through
:func:`tokens` for the parser.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lmscope.core.errors import UsageError
from lmscope.core.units import (
    display,
    exact_count,
    fixed,
    human,
    human_bytes,
    human_count,
    human_flops,
    parse_token_count,
    ratio,
    tokens,
    unit_for,
)


@pytest.mark.parametrize(
    ("n", "style", "text"),
    [
        (0, "bytes", "0 B"),
        (1023, "bytes", "1,023 B"),
        (1536, "bytes", "1.50 KiB"),
        (16 * 2**30, "bytes", "16.00 GiB"),
        (148.41 * 2**30, "bytes", "148.41 GiB"),
        (16 * 2**30, "bytes-decimal", "17.18 GB"),
        (80 * 10**9, "bytes-decimal", "80.00 GB"),
        (999, "flops", "999 FLOP"),
        (2.5e12, "flops", "2.50 TFLOP"),
        (70_274_254_897_152, "flops", "70.27 TFLOP"),
        (8_030_261_248, "count", "8.03 B"),
        (494_032_768, "count", "494.03 M"),
        (512, "count", "512"),
        (None, "bytes", "—"),
        (float("nan"), "flops", "—"),
        (True, "count", "—"),
    ],
)
def test_human_by_style(n, style, text):
    assert human(n, style) == text


def test_named_helpers_are_the_styles():
    assert human_bytes(3 << 30) == human(3 << 30, "bytes") == "3.00 GiB"
    assert human_bytes(3 * 10**9, decimal=True) == "3.00 GB"
    assert human_flops(10**15) == "1.00 PFLOP"
    assert human_count(1_234_567) == "1.23 M"
    assert exact_count(8_030_261_248) == "8,030,261,248" and exact_count(None) == "—"
    assert ratio(3, 2) == "×1.50" and ratio(1, 0) == "" and ratio(915_000, 1) == "×915,000"
    with pytest.raises(ValueError):
        human(1, "furlongs")


@pytest.mark.parametrize(
    ("text", "value"),
    [("32k", 32768), ("32K", 32768), ("100k", 102400), ("131072", 131072), ("131,072", 131072), ("1M", 1 << 20),
     ("1.5k", 1536), (" 4096 ", 4096), ("2g", 1 << 31), (4096, 4096)],
)
def test_parse_token_count(text, value):
    assert parse_token_count(text) == value


@pytest.mark.parametrize("text", ["", "zero", "0", "-1", "1.3k", "32kb", "4096 tokens", "2^40", "1e3", "99999999999999", True])
def test_parse_token_count_refuses_with_one_line(text):
    with pytest.raises(UsageError) as err:
        parse_token_count(text)
    assert "\n" not in str(err.value)


@given(st.integers(min_value=1, max_value=1 << 40))
def test_tokens_reads_back(n):
    """Whatever a screen labels a length, the parser reads as that same length."""
    assert parse_token_count(tokens(n)) == n


def test_unit_for_is_the_unit_human_writes():
    # oracle: the definitions (KiB = 2^10, GiB = 2^30, M = 10^6, TFLOP = 10^12)
    assert unit_for(1023, "bytes") == (1, "B")
    assert unit_for(3 << 30, "bytes") == (2**30, "GiB")
    assert unit_for(494_032_768, "count") == (10**6, "M")
    assert unit_for(2.5e12, "flops") == (10**12, "TFLOP")
    assert unit_for(999, "flops") == (1, "FLOP")


def test_fixed_keeps_one_unit():
    assert fixed(3 << 29, "GiB") == "1.50 GiB"
    assert fixed(2**29, "GiB") == "0.50 GiB"  # human() would say 512.00 MiB
    assert fixed(989 * 10**12, "T", 0) == "989 T"
    assert fixed(3_350 * 10**9, "GB", 0) == "3,350 GB"
    assert fixed(1_500_000, "M", divisor=10**6) == "1.50 M"
    assert fixed(None, "GiB") == "—"


def test_display_by_report_unit():
    assert display(494_032_768, "params") == "494.03 M"
    assert display(3 << 30, "bytes") == "3.00 GiB"
    assert display(2.5e12, "flops") == "2.50 TFLOP"
    assert display(131_072, "tokens") == "131,072"
    assert display(True) == "yes" and display(False) == "no"
    assert display(None, "bytes") == "—" and display(None) == "—"
    assert display("gqa") == "gqa"
