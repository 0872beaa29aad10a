"""Report folders: ``report.md`` plus its pictures, linked by relative paths.

``--output-dir DIR`` (report, compare, weights) and the app's "report folder"
export write one folder that can be committed or attached as it is: the
Markdown report, every picture as PNG and SVG side by side (the Markdown
shows the PNG and links the SVG), and for weights the machine-readable files
(CSV, JSON, ``cluster_representatives.json``). Every file is written
atomically (:func:`lmscope.core.atomic.write_atomic`), pictures first and the
Markdown last, so a ``report.md`` never links a picture that is not there.

The architecture diagram's SVG needs nothing beyond lmscope; its PNG and the
charts need matplotlib (the ``plots`` extra). Without it the folder still gets
the Markdown and the diagram's SVG, and :attr:`Folder.notes` carries the one
line that says how to get the rest.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lmscope.core.errors import SourceError

PICTURE_FORMATS = ("png", "svg")


@dataclass
class Folder:
    """What was written: files (relative names, in order) and notes for the user."""

    root: Path
    files: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    pictures: list[tuple[str, str]] = field(default_factory=list)  # (title, stem) of every picture written

    def write(self, name: str, data: str | bytes) -> None:
        from lmscope.core.atomic import write_atomic

        write_atomic(self.root / name, data)
        self.files.append(name)

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)

    def markdown_pictures(self) -> list[str]:
        """Markdown for every picture: the PNG inline (SVG link beside it), or the SVG when there is no PNG."""
        out = []
        for title, stem in self.pictures:
            png, svg = f"{stem}.png", f"{stem}.svg"
            if png in self.files:
                image = f"![{title}]({png})"
                out += [f"### {title}", "", image, ""]
                if svg in self.files:
                    out += [f"[SVG]({svg})", ""]
            elif svg in self.files:
                out += [f"### {title}", "", f"![{title}]({svg})", ""]
        return out


def open_folder(path: str | os.PathLike[str]) -> Folder:
    """Create ``path`` (and parents) when missing; refuse a file in the way with one line."""
    root = Path(path).expanduser()
    if root.exists() and not root.is_dir():
        raise SourceError(f"cannot write a report folder at {root}: it is a file")
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise SourceError(f"cannot create {root}: {err.strerror or err}") from None
    return Folder(root)


def write_diagram(folder: Folder, arch: Any, model_id: str, *, style: str, params: Any = None, estimate: Any = None,
                  stem: str | None = None) -> None:
    """The architecture diagram as SVG (always) and PNG (with matplotlib)."""
    from lmscope.core import diagram
    from lmscope.core.plots import MISSING_MESSAGE, plots_available

    d = diagram.architecture_diagram(arch, model_id=model_id, style=style, params=params, estimate=estimate)
    stem = stem or f"architecture_{style}"
    folder.write(f"{stem}.svg", diagram.to_svg(d))
    if plots_available():
        folder.write(f"{stem}.png", diagram.to_png(d))
    else:
        folder.note(MISSING_MESSAGE)
    folder.pictures.append((f"Architecture ({style})", stem))


def write_charts(folder: Folder, charts: Sequence[Any], prefix: str = "") -> None:
    """Each chart as PNG and SVG (skipped, with a note, without matplotlib)."""
    from lmscope.core.plots import MISSING_MESSAGE, plots_available, render

    charts = [c for c in charts if not c.empty]
    if not charts:
        return
    if not plots_available():
        folder.note(MISSING_MESSAGE)
        return
    for chart in charts:
        stem = prefix + chart.name
        for fmt, data in render(chart).items():
            folder.write(f"{stem}.{fmt}", data)
        folder.pictures.append((chart.title, stem))


def _with_pictures(markdown: str, pictures: list[str], heading: str = "## Pictures") -> str:
    """Insert the pictures section before the first "## " section of ``markdown``."""
    if not pictures:
        return markdown
    lines = markdown.split("\n")
    at = next((i for i, line in enumerate(lines) if line.startswith("## ")), len(lines))
    return "\n".join(lines[:at] + [heading, ""] + pictures + lines[at:])


# --------------------------------------------------------------------------- one model


def write_report_folder(report: Any, path: str | os.PathLike[str], *, style: str = "detailed", charts: bool = True,
                        diagram: bool = True, extra_formats: Sequence[str] = ()) -> Folder:
    """``report.md`` with the architecture diagram and the memory / parameters / FLOPs charts.

    ``diagram`` / ``charts`` choose the pictures (the app's export writes those of the current view);
    ``extra_formats``: "json", "yaml" and/or "text" also write ``report.json`` / ``report.yaml`` /
    ``report.txt`` (the same report in the format a script or a seed-004 batch wants beside the Markdown).
    """
    from lmscope.core import export, formats
    from lmscope.core.charts import report_charts

    folder = open_folder(path)
    arch, est = report.architecture, report.estimate
    if diagram and arch is not None and arch.layers:
        write_diagram(folder, arch, report.model_id, style=style, params=report.parameters, estimate=est)
    if charts and arch is not None and est is not None:
        write_charts(folder, report_charts(arch, est))
    for fmt in extra_formats:  # report.<suffix> in that format (the registry's renderer and suffix)
        if fmt in ("json", "yaml", "text"):
            folder.write(f"report{formats.get('report', fmt).suffix}", formats.render("report", fmt, report, detailed=True))
    folder.write("report.md", _with_pictures(export.report_to_markdown(report), folder.markdown_pictures()))
    return folder


def write_compare_folder(compare: Any, path: str | os.PathLike[str], *, style: str = "simple",
                         extra_formats: Sequence[str] = ()) -> Folder:
    """``report.md`` of a comparison: memory against sequence length and parameters of every model, and each diagram."""
    import re

    from lmscope.core import export
    from lmscope.core.charts import compare_memory, compare_parameters

    folder = open_folder(path)
    write_charts(folder, [compare_memory(compare.reports, compare.settings), compare_parameters(compare.reports)])
    for i, r in enumerate(compare.reports):
        if r.architecture is not None and r.architecture.layers:
            slug = re.sub(r"[^A-Za-z0-9._-]+", "-", r.model_id).strip("-") or f"model-{i + 1}"
            write_diagram(folder, r.architecture, r.model_id, style=style, params=r.parameters, estimate=r.estimate,
                          stem=f"architecture_{i + 1}_{slug}")
            folder.pictures[-1] = (f"{r.model_id} architecture", folder.pictures[-1][1])
    for fmt in extra_formats:
        if fmt == "json":
            folder.write("compare.json", export.compare_to_json(compare))
        elif fmt == "yaml":
            folder.write("compare.yaml", export.compare_to_yaml(compare))
    markdown = export.compare_to_markdown(compare)
    folder.write("report.md", markdown.rstrip("\n") + "\n\n## Pictures\n\n" + "\n".join(folder.markdown_pictures()) + "\n")
    return folder


# --------------------------------------------------------------------------- weights


def cluster_representatives(summary: Any, tokenizer_json: str | os.PathLike[str] | None) -> tuple[dict, list[str]]:
    """Seed 001's ``cluster_representatives.json``: per embedding, per cluster, the rows nearest its centre.

    Token strings come from ``tokenizer_json`` (row i of a token embedding is token id i); without
    one the rows are listed by id only.
    """
    from lmscope.core.vocab import vocab_tokens

    notes: list[str] = []
    embeddings = list(getattr(summary, "embeddings", ()) or ())
    ids = {i for e in embeddings for rows in e.representatives for i in rows}
    tokens: dict[int, str] = {}
    if tokenizer_json is not None and ids:
        tokens, note = vocab_tokens(tokenizer_json, ids)
        if note:
            notes.append(note)
    elif ids:
        notes.append("no tokenizer.json beside the weights: representatives are row ids only")
    doc = {
        "schema_version": 1,
        "model": getattr(summary, "model", ""),
        "tokenizer": str(Path(tokenizer_json).name) if tokenizer_json is not None and tokens else None,
        "embeddings": [
            {
                "name": e.name,
                "rows": e.rows,
                "sample_rows": e.sample_rows,
                "seed": e.seed,
                "best_k": e.best_k,
                "clusters": [
                    {
                        "cluster": j,
                        "size": e.cluster_sizes[j] if j < len(e.cluster_sizes) else None,
                        "representatives": [{"row": i, "token": tokens.get(i)} for i in rows],
                    }
                    for j, rows in enumerate(e.representatives)
                ],
            }
            for e in embeddings
        ],
    }
    return doc, notes


def write_weights_folder(results: Sequence[Any], summary: Any, path: str | os.PathLike[str], *,
                         tokenizer_json: str | os.PathLike[str] | None = None, selected: Any = None) -> Folder:
    """Seed 001's output folder: report.md with the charts, weights.csv, weights.json, cluster_representatives.json.

    ``selected``: a tensor (``TensorStats`` with stored singular values) whose own spectrum is drawn
    too — the app's export adds the one highlighted on its spectrum panel.
    """
    import json

    from lmscope.core.charts import tensor_spectrum, weights_charts
    from lmscope.core.vocab import display
    from lmscope.core.weights import report as wreport

    folder = open_folder(path)
    charts = list(weights_charts(results, summary))
    spectrum = next((s for s in getattr(selected, "spectra", ()) if s.singular_values), None)
    if spectrum is not None:
        charts.append(tensor_spectrum(selected.name, spectrum))
    write_charts(folder, tuple(charts))
    folder.write("weights.csv", wreport.to_csv(results, summary))
    folder.write("weights.json", wreport.to_json(results, summary))
    reps_md: list[str] = []
    if summary is not None and any(e.representatives for e in summary.embeddings):
        doc, notes = cluster_representatives(summary, tokenizer_json)
        for note in notes:
            folder.note(note)
        folder.write("cluster_representatives.json", json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
        for emb in doc["embeddings"]:
            reps_md += [f"### {emb['name']}: representative rows per cluster (k = {emb['best_k']})", "",
                        "| cluster | rows in sample | nearest the centre |", "|---:|---:|---|"]
            for c in emb["clusters"]:
                cells = ", ".join(f"`{display(r['token'])}`" if r["token"] is not None else f"#{r['row']}" for r in c["representatives"])
                reps_md.append(f"| {c['cluster']} | {c['size']} | {cells.replace('|', chr(92) + '|')} |")
            reps_md.append("")
        reps_md.append("Full lists: [cluster_representatives.json](cluster_representatives.json)")
        reps_md.append("")
    markdown = wreport.to_markdown(results, summary, text_plots=False)
    extra = folder.markdown_pictures() + reps_md + ["Data: [weights.csv](weights.csv) · [weights.json](weights.json)", ""]
    folder.write("report.md", _with_pictures(markdown, extra))
    return folder


__all__ = ["Folder", "cluster_representatives", "open_folder", "write_charts", "write_compare_folder", "write_diagram", "write_report_folder", "write_weights_folder"]
