"""The Report: one model, fully analysed under one Settings, ready to export.

:func:`build_report` is the single pipeline every front end uses (CLI
``report``/``compare``, the TUI, exports); :meth:`Report.to_dict` is the JSON
contract (CONTRACT.md "JSON report", ``schema_version`` 1); :class:`CompareReport`
puts several reports side by side.

Layout (one job per module): ``build`` (the :class:`Report` and the pipeline
that fills it), ``schema`` (the JSON report's keys), ``compare`` (comparison
rows and facts). The names below are the public API, importable from here.
"""

from __future__ import annotations

from lmscope.core.report.build import (
    CONTEXT_OVERFLOW,
    DEFAULT_SEQ_LEN,
    Report,
    StoredCheck,
    build_report,
    check_stored,
    context_note,
    default_seq_len,
    notes_at,
)
from lmscope.core.report.compare import COMPARE_FACTS, COMPARE_METRICS, CompareReport, build_compare, lookup, with_plans
from lmscope.core.report.schema import (
    NAIVE_BYTES_PER_PARAMETER,
    SCHEMA_VERSION,
    add_human_strings,
    naive_weight_bytes,
    settings_dict,
    stored_layers,
)

__all__ = [
    "COMPARE_FACTS", "COMPARE_METRICS", "CONTEXT_OVERFLOW", "DEFAULT_SEQ_LEN", "NAIVE_BYTES_PER_PARAMETER",
    "SCHEMA_VERSION", "CompareReport", "Report", "StoredCheck", "add_human_strings", "build_compare",
    "build_report", "check_stored", "context_note", "default_seq_len", "lookup", "naive_weight_bytes",
    "notes_at", "settings_dict", "stored_layers", "with_plans",
]
