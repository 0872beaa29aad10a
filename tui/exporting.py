"""Turn the current view's data into JSON or Markdown text, or a report folder (the Export dialog writes it).

Reports and comparisons go through the core exporters (``lmscope.core.export``)
so a TUI export is byte-for-byte what ``lmscope report --format json`` would
write for the same settings. Search results and weights results are lists of
plain records, serialised here.
"""

from __future__ import annotations

import json
from dataclasses import asdict, is_dataclass
from typing import Any

FORMATS = ("json", "markdown", "folder")
EXTENSIONS = {"json": ".json", "markdown": ".md", "folder": ""}  # a folder: report.md + its pictures


def report_folder(report: Any, path: str, *, diagram: bool, charts: bool) -> Any:
    """A report folder (report.md + PNG/SVG pictures) of one model; returns the core ``Folder``."""
    from lmscope.core.report_folder import write_report_folder

    return write_report_folder(report, path, diagram=diagram, charts=charts)


def compare_folder(reports: list[Any], settings: Any, path: str) -> Any:
    """A comparison's report folder (memory and parameters charts, each model's diagram)."""
    from lmscope.core.report import CompareReport
    from lmscope.core.report_folder import write_compare_folder

    return write_compare_folder(CompareReport(reports=tuple(reports), settings=settings), path)


def weights_folder(results: list[Any], summary: Any, path: str, tokenizer_json: Any = None, selected: Any = None) -> Any:
    """The weights analysis as a report folder (charts, CSV, JSON, cluster representatives, the selected spectrum)."""
    from lmscope.core.report_folder import write_weights_folder

    return write_weights_folder(results, summary, path, tokenizer_json=tokenizer_json, selected=selected)


def report_text(report: Any, fmt: str) -> str:
    """One model's report (CONTRACT.md JSON, or Markdown)."""
    from lmscope.core import export

    if fmt == "json":
        return export.report_to_json(report)
    return export.report_to_markdown(report)


def compare_text(reports: list[Any], settings: Any, fmt: str) -> str:
    """A comparison of several reports under the same settings."""
    from lmscope.core import export
    from lmscope.core.report import CompareReport

    compare = CompareReport(reports=tuple(reports), settings=settings)
    if fmt == "json":
        return export.compare_to_json(compare)
    return export.compare_to_markdown(compare)


def _plain(row: Any) -> dict:
    return asdict(row) if is_dataclass(row) else dict(row)


def search_text(rows: list[Any], query: str, where: str, fmt: str) -> str:
    """Search results as JSON (``{"query", "where", "results": [...]}``) or a Markdown table."""
    data = [_plain(r) for r in rows]
    if fmt == "json":
        return json.dumps({"schema_version": 1, "query": query, "where": where, "results": data}, indent=2) + "\n"
    lines = [f"# lmscope search: {query or '(all)'}", "", f"Searched the {where}.", ""]
    lines.append("| model | params | downloads | likes | license | gated | from |")
    lines.append("|---|---:|---:|---:|---|---|---|")
    for r in data:
        cells = [r.get("model_id"), r.get("params"), r.get("downloads"), r.get("likes"), r.get("license"), r.get("gated"), r.get("where")]
        lines.append("| " + " | ".join("" if c is None else str(c) for c in cells) + " |")
    return "\n".join(lines) + "\n"


def weights_text(model_id: str, results: list[Any], summary: Any, fmt: str) -> str:
    """Per-tensor weights statistics (what has streamed in so far) and the run summary.

    The same renderers as ``lmscope weights``: JSON with every field, Markdown with the
    summary tables and a table of every CSV column (one row per tensor, per expert).
    """
    from lmscope.core.weights import report

    if fmt == "json":
        doc = json.loads(report.to_json(results, summary))
        doc["model_id"] = model_id
        return json.dumps(doc, indent=2) + "\n"
    text = report.to_markdown(results, summary)
    return text.replace("# Weights report", f"# lmscope weights: {model_id}", 1)
