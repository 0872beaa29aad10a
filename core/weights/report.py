"""Turn weights-analysis records into text, CSV, JSON and Markdown (with terminal plots).

Pure functions of the records: the CLI and the TUI's export both call them, and
none of them does arithmetic beyond formatting. The Markdown report embeds
plotext charts rendered to plain text (``plt.build()`` with the colour codes
stripped) so it reads the same in a terminal, a pull request or a browser.
Files are written atomically (temp file in the same folder + ``os.replace``).
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import re
from collections.abc import Sequence

from lmscope.core.units import human_bytes
from lmscope.core.weights.records import KindSummary, TensorStats, WeightsSummary

SCHEMA_VERSION = 1
CSV_COLUMNS = (
    "model_id", "revision", "name", "kind", "layer", "expert", "shape", "dtype", "parameter", "numel", "bytes",
    "mean", "std", "var", "min", "max", "mean_abs", "zero_fraction", "near_zero_fraction",
    "rows", "cols", "design_rank", "numerical_rank", "rank_90", "rank_99", "stable_rank",
    "spectral_norm", "min_singular_value", "condition_number", "alpha", "xmin", "ks_distance",
    "alpha_tail", "method", "device", "notes", "created_at",
)
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


# ---------------------------------------------------------------- order
def ordered(results: Sequence[TensorStats]) -> list[TensorStats]:
    """Rows in report order: by layer index numerically (layer 2 before layer 10), then the
    tensors outside any layer last — embeddings first among them, the final norm and the LM head
    at the very end. Within a group, by name with numbers compared as numbers (experts.2 before
    experts.10).

    The order depends on the records only, never on arrival: a Ray run's records come in
    completion order, and its report must equal a local run's.
    """
    return sorted(results, key=_order_key)


_TAIL_RANK = {"embedding": 0, "norm": 2, "lm_head": 3}
_DIGITS = re.compile(r"(\d+)")


def _order_key(r: TensorStats) -> tuple[object, ...]:
    natural = tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in _DIGITS.split(r.name) if p)
    if r.layer is not None:
        return (0, r.layer, 0, natural)
    return (1, 0, _TAIL_RANK.get(r.kind, 1), natural)


# ---------------------------------------------------------------- JSON
def to_json(results: Sequence[TensorStats], summary: WeightsSummary | None, *, singular_values: bool = False) -> str:
    """``{"schema_version", "summary", "tensors": [...]}`` (inf/nan as strings), rows in :func:`ordered` order."""
    doc = {
        "schema_version": SCHEMA_VERSION,
        "summary": summary.to_dict() if summary else None,
        "tensors": [r.to_dict(singular_values=singular_values) for r in ordered(results)],
    }
    return json.dumps(doc, indent=2, allow_nan=False) + "\n"


# ---------------------------------------------------------------- CSV
def csv_rows(results: Sequence[TensorStats], summary: WeightsSummary | None = None) -> list[dict[str, object]]:
    """One row per tensor, or per expert for stacked (fused) expert tensors, in :func:`ordered` order.

    ``expert`` is the N of a per-expert tensor (``experts.N.…``) or the index in a
    fused 3-D expert tensor; ``var`` = std² (population); ``parameter`` is false
    for buffers. ``model_id``, ``revision`` and ``created_at`` come from the summary.
    """
    rows: list[dict[str, object]] = []
    model_id = summary.model_id if summary else ""
    revision = (summary.revision or "") if summary else ""
    created_at = summary.created_at if summary else ""
    for r in ordered(results):
        base: dict[str, object] = {
            "model_id": model_id, "revision": revision,
            "name": r.name, "kind": r.kind, "layer": "" if r.layer is None else r.layer,
            "expert": "" if r.expert is None else r.expert,
            "shape": "x".join(map(str, r.shape)), "dtype": r.dtype, "parameter": r.is_parameter,
            "numel": r.numel, "bytes": r.nbytes,
            "mean": r.mean, "std": r.std, "var": r.std * r.std, "min": r.min, "max": r.max, "mean_abs": r.mean_abs,
            "zero_fraction": r.zero_fraction, "near_zero_fraction": r.near_zero_fraction,
            "notes": "; ".join(r.notes), "created_at": created_at,
        }
        if not r.spectra:
            rows.append(base)
            continue
        for s in r.spectra:
            row = dict(base)
            row.update({
                "expert": base["expert"] if s.expert is None else s.expert, "rows": s.rows, "cols": s.cols,
                "design_rank": s.design_rank, "numerical_rank": s.numerical_rank, "rank_90": s.rank_90,
                "rank_99": s.rank_99, "stable_rank": s.stable_rank, "spectral_norm": s.spectral_norm,
                "min_singular_value": s.min_singular_value, "condition_number": s.condition_number,
                "alpha": "" if s.alpha is None else s.alpha, "xmin": "" if s.xmin is None else s.xmin,
                "ks_distance": "" if s.ks_distance is None else s.ks_distance, "alpha_tail": s.alpha_tail,
                "method": s.method, "device": s.device,
            })
            rows.append(row)
    return rows


def to_csv(results: Sequence[TensorStats], summary: WeightsSummary | None = None) -> str:
    """CSV with :data:`CSV_COLUMNS` (full float precision, ``inf`` as ``inf``)."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in csv_rows(results, summary):
        writer.writerow({k: (repr(v) if isinstance(v, float) else v) for k, v in row.items()})
    return buf.getvalue()


# ---------------------------------------------------------------- text
def _fmt(v: float | None, digits: int = 4) -> str:
    if v is None:
        return "-"
    if isinstance(v, float) and (math.isinf(v) or math.isnan(v)):
        return str(v)
    if v != 0 and (abs(v) < 1e-3 or abs(v) >= 1e5):
        return f"{v:.{digits - 1}e}"
    return f"{v:.{digits}g}"


def tensor_table_rows(results: Sequence[TensorStats]) -> list[list[str]]:
    """Display rows (strings) for the per-tensor table; experts are averaged in one row."""
    out = []
    for r in ordered(results):
        sp = r.spectra
        if sp:
            n = len(sp)
            rank = f"{round(sum(s.numerical_rank for s in sp) / n)}/{sp[0].design_rank}"
            r90 = str(round(sum(s.rank_90 for s in sp) / n))
            stable = _fmt(sum(s.stable_rank for s in sp) / n)
            alphas = [s.alpha for s in sp if s.alpha is not None]
            alpha = _fmt(sum(alphas) / len(alphas), 3) if alphas else "-"
            norm = _fmt(max(s.spectral_norm for s in sp))
            method = sp[0].method + (f" ×{n}" if n > 1 else "")
        else:
            rank = r90 = stable = alpha = norm = method = "-"
        out.append([
            r.name, r.kind, "" if r.layer is None else str(r.layer), "x".join(map(str, r.shape)), r.dtype,
            _fmt(r.mean), _fmt(r.std), _fmt(r.mean_abs), f"{100 * r.zero_fraction:.2f}%",
            rank, r90, stable, norm, alpha, method,
        ])
    return out


TENSOR_HEADERS = ("tensor", "kind", "layer", "shape", "dtype", "mean", "std", "mean|w|", "zeros",
                  "num.rank", "rank90", "stable", "σmax", "α", "method")
KIND_HEADERS = ("kind", "tensors", "params", "size", "mean|w|", "std", "matrices", "mean α", "stable rank",
                "rank ratio", "rank90 ratio")


def kind_table_rows(summary: WeightsSummary) -> list[list[str]]:
    """Display rows for the per-module-kind summary."""
    return kind_rows(summary.by_kind)


def kind_rows(kinds: Sequence[KindSummary]) -> list[list[str]]:
    """Display rows (strings, :data:`KIND_HEADERS`) for per-kind aggregates (the CLI's table and the app's)."""
    return [[k.kind, str(k.tensors), f"{k.params:,}", human_bytes(k.nbytes), _fmt(k.mean_abs), _fmt(k.std), str(k.matrices),
             _fmt(k.mean_alpha, 3), _fmt(k.mean_stable_rank), _fmt(k.mean_rank_ratio, 3), _fmt(k.mean_rank_90_ratio, 3)]
            for k in kinds]


def to_text(results: Sequence[TensorStats], summary: WeightsSummary | None, width: int = 200) -> str:
    """Plain-text tables: per tensor, per kind, embeddings, then the summary line and notes.

    Laid out here rather than by rich: rich measures and wraps every cell (≈4 ms a row), which
    took longer than analysing all-MiniLM and would take minutes for a checkpoint with tens of
    thousands of expert tensors. Columns are as wide as their widest cell (never cut: a long
    tensor name widens its column), two spaces apart; ``width`` only centres the titles.
    """
    lines = plain_table("tensors", TENSOR_HEADERS, tensor_table_rows(results), left=TEXT_LEFT_COLUMNS, width=width)
    if summary is not None:
        lines += plain_table("by module kind", KIND_HEADERS, kind_table_rows(summary), left=("kind",), width=width)
        lines += [_embedding_line(e) for e in summary.embeddings]
        lines.append(_summary_line(summary))
        lines += [f"note: {note}" for note in summary.notes]
    return "\n".join(lines) + "\n"


TEXT_LEFT_COLUMNS = ("tensor", "kind", "shape", "dtype", "method")


def plain_table(title: str, headers: Sequence[str], rows: Sequence[Sequence[str]], *,
                left: Sequence[str] = (), width: int = 200) -> list[str]:
    """``title`` centred over a table whose columns are left- (``left``) or right-aligned, two spaces apart."""
    widths = [len(h) for h in headers]
    for row in rows:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))
    lefts = [h in left for h in headers]

    def line(cells: Sequence[str]) -> str:
        out = [c.ljust(w) if lt else c.rjust(w) for c, w, lt in zip(cells, widths, lefts, strict=True)]
        return "  ".join(out).rstrip()

    total = sum(widths) + 2 * (len(widths) - 1)
    return [title.center(min(max(total, len(title)), max(width, len(title)))).rstrip(), line(headers)] + [line(r) for r in rows]


def _embedding_line(e: object) -> str:
    q = dict(e.norm_quantiles)  # type: ignore[attr-defined]
    return (f"embeddings {e.name}: k-means on {e.sample_rows} of {e.rows} rows (seed {e.seed}): "  # type: ignore[attr-defined]
            f"best k = {e.best_k} by Calinski–Harabasz; row norm median {_fmt(q.get(0.5))}, "  # type: ignore[attr-defined]
            f"1%–99% {_fmt(q.get(0.01))}–{_fmt(q.get(0.99))}")


def _summary_line(s: WeightsSummary) -> str:
    state = "cancelled" if s.cancelled else "done"
    buffers = f" (+{s.buffers_done} buffer tensor(s), not parameters)" if s.buffers_done else ""
    where = s.device
    if s.executor.name == "ray":
        where += f" via Ray at {s.executor.address} ({s.executor.tasks} task(s))"
    return (f"{state}: {s.tensors_done}/{s.tensors_total} tensors, {s.params_done:,} parameters{buffers}, "
            f"{human_bytes(s.bytes_done)} of {human_bytes(s.bytes_total)} in {s.seconds:.1f} s on {where} ({s.format})")


# ---------------------------------------------------------------- Markdown
def _md_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    def cell(v: str) -> str:
        return v.replace("|", "\\|")

    lines = ["| " + " | ".join(cell(h) for h in headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def plot_spectra(results: Sequence[TensorStats], max_lines: int = 6, width: int = 78, height: int = 20) -> str | None:
    """log10 σᵢ against i/k for the first matrix of up to ``max_lines`` module kinds (stored σ needed).

    The series come from :func:`lmscope.core.charts.spectra_by_kind`, the same the PNG/SVG charts draw.
    """
    from lmscope.core.charts import spectra_by_kind
    from lmscope.core.plot_text import to_text

    return to_text(spectra_by_kind(results, max_lines=max_lines), width, height)


def plot_alpha_by_layer(results: Sequence[TensorStats], width: int = 78, height: int = 20) -> str | None:
    """Power-law α by layer, one series per module kind (expert tensors averaged; :func:`lmscope.core.charts.metric_by_layer`)."""
    from lmscope.core.charts import metric_by_layer
    from lmscope.core.plot_text import to_text

    return to_text(metric_by_layer(results, "alpha"), width, height)


def to_markdown(results: Sequence[TensorStats], summary: WeightsSummary | None, *, text_plots: bool = True) -> str:
    """A Markdown report: summary, per-kind table, plots, embeddings, per-tensor table.

    ``text_plots=False`` leaves out the plotext charts (a report folder links PNG/SVG pictures instead).
    """
    parts = ["# Weights report", ""]
    if summary is not None:
        parts += [f"Model: `{summary.model}`  ", _summary_line(summary), ""]
        parts += ["## By module kind", "", _md_table(KIND_HEADERS, kind_table_rows(summary)), ""]
    spectra_plot = plot_spectra(results) if text_plots else None
    if spectra_plot:
        parts += ["## Spectra", "", "```text", spectra_plot.rstrip(), "```", ""]
    alpha_plot = plot_alpha_by_layer(results) if text_plots else None
    if alpha_plot:
        parts += ["## α by layer", "", "```text", alpha_plot.rstrip(), "```", ""]
    if summary is not None and summary.embeddings:
        parts += ["## Embeddings", ""]
        for e in summary.embeddings:
            parts += ["- " + _embedding_line(e),
                      "  - Calinski–Harabasz by k: " + ", ".join(f"{k}: {_fmt(v)}" for k, v in e.scores)]
        parts.append("")
    parts += ["## Tensors", "", _md_table(TENSOR_HEADERS, tensor_table_rows(results)), ""]
    parts += ["## Every column", "", "One row per tensor (per expert for fused expert tensors), the CSV's columns.", "",
              _md_table(CSV_COLUMNS, [[_md_cell(row.get(c, "")) for c in CSV_COLUMNS] for row in csv_rows(results, summary)]), ""]
    parts += ["Definitions: see docs/weights.md (numerical rank at float32 precision, energy ranks, "
              "stable rank, CSN power-law α of the eigenvalues of WᵀW).", ""]
    if summary is not None and summary.notes:
        parts += ["## Notes", ""] + [f"- {n}" for n in summary.notes] + [""]
    return "\n".join(parts)


def _md_cell(v: object) -> str:
    if isinstance(v, float):
        return repr(v)
    return str(v)


# ---------------------------------------------------------------- files
def write_output(path: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` atomically via :func:`lmscope.core.atomic.write_atomic` (a one-line ``SourceError`` on failure)."""
    from lmscope.core.atomic import write_atomic

    write_atomic(path, text)
