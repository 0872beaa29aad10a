"""Exporters: JSON/Markdown/YAML/text render the same numbers; atomic writes; no token leaks."""

from __future__ import annotations

import json
import os
from dataclasses import replace

import pytest

from lmscope.core.errors import SourceError
from lmscope.core.export import (
    compare_to_json,
    compare_to_markdown,
    compare_to_text,
    human_bytes,
    human_count,
    human_flops,
    render_report,
    report_to_json,
    report_to_markdown,
    report_to_text,
    report_to_yaml,
    write_atomic,
)
from lmscope.core.redact import register_secret

# --------------------------------------------------------------------------- units and files (no engine needed)


def test_human_units():
    assert human_bytes(0) == "0 B"
    assert human_bytes(1536) == "1.50 KiB"
    assert human_bytes(16 * 2**30) == "16.00 GiB"
    assert human_flops(2.5e12) == "2.50 TFLOP"
    assert human_flops(999) == "999 FLOP"
    assert human_count(8_030_261_248) == "8.03 B"
    assert human_bytes(None) == "—"


def test_write_atomic_replaces_and_leaves_no_temp(tmp_path):
    target = tmp_path / "out.json"
    target.write_text("old")
    write_atomic(target, "new content\n")
    assert target.read_text() == "new content\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.json"]


def test_write_atomic_errors_are_one_line(tmp_path):
    with pytest.raises(SourceError, match="cannot write"):
        write_atomic(tmp_path / "no" / "such" / "dir" / "x.json", "x")
    with pytest.raises(SourceError, match="directory"):
        write_atomic(tmp_path, "x")
    if os.geteuid() != 0:
        locked = tmp_path / "locked"
        locked.mkdir()
        locked.chmod(0o500)
        with pytest.raises(SourceError):
            write_atomic(locked / "x.json", "x")


def test_write_atomic_redacts(tmp_path):
    secret = "hf_" + "S" * 30
    register_secret(secret)
    path = write_atomic(tmp_path / "r.txt", f"token {secret} here")
    assert secret not in path.read_text()


# --------------------------------------------------------------------------- reports (need the engine)


@pytest.fixture(scope="module")
def report():
    from lmscope.core.report import build_report
    from lmscope.core.results import Settings
    from lmscope.core.sources.catalog import load_catalog_entry

    return build_report(load_catalog_entry("meta-llama/Llama-3.1-8B"), Settings(seq_len=8192, batch=2), exact=False)


@pytest.fixture(scope="module")
def compare():
    from lmscope.core.report import build_compare
    from lmscope.core.results import Settings
    from lmscope.core.sources.catalog import load_catalog_entry

    ids = ["meta-llama/Llama-3.1-8B", "mistralai/Mixtral-8x7B-v0.1", "deepseek-ai/DeepSeek-V3"]
    return build_compare([load_catalog_entry(i) for i in ids], Settings(), exact=False)


def test_json_round_trips_to_dict(report):
    assert json.loads(report_to_json(report)) == report.to_dict()


def test_yaml_carries_the_same_data(report):
    import yaml  # an independent YAML parser (dev extra) reads back what our hand-written emitter wrote

    assert yaml.safe_load(report_to_yaml(report)) == report.to_dict()


def test_text_summary_and_detailed(report):
    d = report.to_dict()
    summary = report_to_text(report, width=100)
    assert "meta-llama/Llama-3.1-8B" in summary
    assert f"{d['parameters']['total']:,}" in summary
    assert human_bytes(d["memory"]["kv_cache_bytes"]) in summary
    assert human_flops(d["flops"]["prefill"]["total"]) in summary
    assert "\x1b[" not in summary  # plain text, no ANSI codes
    detailed = report_to_text(report, detailed=True, width=100)
    assert len(detailed) > len(summary)
    assert "Parameters by component" in detailed
    assert all(len(line) <= 100 for line in detailed.splitlines())


def test_markdown_has_sections_and_numbers(report):
    md = report_to_markdown(report)
    assert md.startswith("# meta-llama/Llama-3.1-8B")
    for heading in ("## Model", "## Architecture", "## Memory", "## FLOPs"):
        assert heading in md
    assert f"{report.to_dict()['parameters']['total']:,}" in md


def test_render_dispatch(report):
    assert render_report(report, "json") == report_to_json(report)
    assert render_report(report, "markdown").startswith("#")
    assert render_report(report, "text").startswith("meta-llama")


def test_token_never_in_exports(report):
    secret = "hf_" + "Z" * 34
    register_secret(secret)
    leaky = replace(report, notes=(*report.notes, f"fetched with {secret}"), source=replace(report.source, location=f"/tmp/{secret}"))
    for text in (report_to_json(leaky), report_to_markdown(leaky), report_to_text(leaky, detailed=True), report_to_yaml(leaky)):
        assert secret not in text and "hf_***" in text


def test_compare_formats(compare):
    data = json.loads(compare_to_json(compare))
    assert data["model_ids"][0] == "meta-llama/Llama-3.1-8B"
    rows = {r["metric"]: r for r in data["comparison"]}
    assert rows["parameters.total"]["ratios"][0] == 1.0
    text = compare_to_text(compare)
    assert "Mixtral-8x7B" in text and "(×" in text and "* differs" in text
    md = compare_to_markdown(compare)
    assert md.count("\n|") >= 10 and "**" in md


def test_write_atomic_keeps_existing_permissions(tmp_path):
    target = tmp_path / "perm.txt"
    target.write_text("a")
    target.chmod(0o640)
    write_atomic(target, "b")
    assert target.stat().st_mode & 0o777 == 0o640
    fresh = write_atomic(tmp_path / "fresh.txt", "c")
    umask = os.umask(0)
    os.umask(umask)
    assert fresh.stat().st_mode & 0o777 == 0o666 & ~umask
