"""One byte convention per run, the other on request (issue 16): GiB = 2^30 by default, GB = 10^9 with
``--units decimal``, ``LMSCOPE_UNITS=decimal`` or the app's ``u`` key — in every row, chart axis,
assumption sentence and export footer, so a table and a chart never disagree.

Oracle: the unit definitions (1 GB = 10^9 bytes) applied to the JSON's exact integers.
"""

from __future__ import annotations

import json

import pytest

from lmscope.core.errors import UsageError
from lmscope.core.units import byte_unit, byte_units, fixed, human, human_bytes, set_byte_units
from lmscope.main import main


@pytest.fixture(autouse=True)
def offline(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("LMSCOPE_NO_EXACT", "1")
    monkeypatch.delenv("LMSCOPE_UNITS", raising=False)


def run(capsys, *argv: str) -> str:
    assert main(list(argv)) == 0
    return capsys.readouterr().out


def test_the_switch_changes_every_byte_formatter():
    assert human(3 * 10**9, "bytes") == "2.79 GiB"
    assert set_byte_units("decimal") == "binary"
    assert byte_units() == "decimal"
    assert human(3 * 10**9, "bytes") == "3.00 GB"
    assert human_bytes(1536) == "1.54 kB"
    assert fixed(1 << 29, "GiB") == "0.54 GB"  # a fixed GiB figure follows too
    assert byte_unit() == (10**9, "GB")
    assert human(2.5e12, "flops") == "2.50 TFLOP" and human(494_032_768, "count") == "494.03 M"  # only bytes
    set_byte_units("binary")
    assert human_bytes(1536) == "1.50 KiB" and byte_unit() == (1 << 30, "GiB")


def test_an_unknown_convention_is_refused_in_one_line():
    with pytest.raises(UsageError) as err:
        set_byte_units("metric" * 100)
    assert "\n" not in str(err.value) and len(str(err.value)) < 120


@pytest.mark.parametrize("argv", [
    ("report", "Qwen/Qwen3-8B"),
    ("report", "Qwen/Qwen3-8B", "--detailed"),
    ("compare", "Qwen/Qwen3-8B", "meta-llama/Llama-3.1-8B"),
    ("plan", "Qwen/Qwen3-8B", "--gpu", "h100"),
])
@pytest.mark.parametrize("fmt", ["text", "markdown"])
def test_decimal_on_request_leaves_no_binary_unit_anywhere(capsys, argv, fmt):
    binary = run(capsys, *argv, "--offline", "--format", fmt)
    assert "GiB" in binary
    decimal = run(capsys, *argv, "--offline", "--format", fmt, "--units", "decimal")
    assert "iB" not in decimal and " GB" in decimal


def test_the_decimal_rows_are_the_exact_bytes_over_ten_to_the_nine(capsys):
    data = json.loads(run(capsys, "report", "Qwen/Qwen3-8B", "--offline", "--format", "json"))
    total = data["memory"]["inference_total_bytes"]
    text = run(capsys, "report", "Qwen/Qwen3-8B", "--offline", "--units", "decimal")
    assert f"{total / 1e9:,.2f} GB" in text
    # the default is back for the next run in the same process
    assert f"{total / 2**30:,.2f} GiB" in run(capsys, "report", "Qwen/Qwen3-8B", "--offline")


def test_the_environment_variable_asks_for_it_too(capsys, monkeypatch):
    monkeypatch.setenv("LMSCOPE_UNITS", "decimal")
    assert "iB" not in run(capsys, "report", "Qwen/Qwen3-8B", "--offline")
    monkeypatch.setenv("LMSCOPE_UNITS", "nonsense")  # ignored, not an error
    assert "GiB" in run(capsys, "report", "Qwen/Qwen3-8B", "--offline")


def test_json_keeps_integers_and_its_strings_follow(capsys):
    binary = json.loads(run(capsys, "report", "Qwen/Qwen3-8B", "--offline", "--format", "json"))
    decimal = json.loads(run(capsys, "report", "Qwen/Qwen3-8B", "--offline", "--format", "json", "--units", "decimal"))
    assert decimal["memory"]["weights_bytes"] == binary["memory"]["weights_bytes"]
    assert decimal["memory"]["inference_total_bytes_human"].endswith(" GB")
    assert binary["memory"]["inference_total_bytes_human"].endswith(" GiB")


async def test_u_in_the_app_switches_every_view_and_back(monkeypatch):
    from tests.test_tui import make_app, screen_text, wait_for

    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: app.main_model is not None)
        await pilot.press("f4")
        await wait_for(pilot, lambda: app.current_mode == "memory" and app.screen.current_estimate is not None)
        assert "GiB" in screen_text(app)
        total = app.screen.current_estimate.memory.inference_total_bytes
        await pilot.press("u")
        await wait_for(pilot, lambda: "GiB" not in screen_text(app))
        assert byte_units() == "decimal" and f"{total / 1e9:,.2f} GB" in screen_text(app)
        assert app.screen.query_one("MemoryChart").decimal is None  # the chart follows the run's convention
        await pilot.press("u")
        await wait_for(pilot, lambda: "GiB" in screen_text(app))
        assert byte_units() == "binary"
