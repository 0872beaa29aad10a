"""docs/api.md is run as a doctest: every example on the page works, offline."""

from __future__ import annotations

import doctest
from pathlib import Path

API_PAGE = Path(__file__).resolve().parent.parent / "docs" / "api.md"


def test_api_page_examples_run(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("LMSCOPE_NO_EXACT", "1")
    monkeypatch.chdir(tmp_path)
    result = doctest.testfile(str(API_PAGE), module_relative=False, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE, verbose=False)
    assert result.attempted >= 20
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples in docs/api.md failed (run pytest -s for the diff)"


def test_objects_render_in_jupyter():
    """Report, CompareReport, Estimate and ParameterBreakdown have a Markdown repr with their numbers."""
    from lmscope.core.report import build_compare, build_report
    from lmscope.core.results import Settings
    from lmscope.core.sources.resolve import resolve
    from lmscope.core.units import exact_count

    sources = [resolve(m, offline=True) for m in ("Qwen/Qwen3-0.6B", "Qwen/Qwen3-8B")]
    report = build_report(sources[0], Settings(), exact=False)
    assert report._repr_markdown_().startswith("# Qwen/Qwen3-0.6B")
    assert exact_count(report.estimate.memory.inference_total_bytes) in report.estimate._repr_markdown_()
    assert exact_count(report.parameters.total) in report.parameters._repr_markdown_()
    assert build_compare(sources, Settings(), exact=False)._repr_markdown_().startswith("# Comparison")
