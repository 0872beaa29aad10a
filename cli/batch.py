"""`lmscope report --all-catalog | --models-file FILE --output-dir DIR`: one report folder per model (seed 004's batch run).

Seed 004 analysed every predefined configuration and wrote one YAML and one
text file per model; ``compare`` already takes N models side by side, and
this is the other half: N independent reports. ``--output-dir`` means the same
as for one model — a report folder (``report.md`` + its pictures +
``report.<format>``) — so a batch writes one such folder per model,
``DIR/org--name/``; ``--no-pictures`` leaves the charts out (a quick batch of
``report.yaml`` + ``report.md``). A progress bar on a terminal (a line per
model otherwise). A model that fails is reported and skipped; the exit status
is 1 when any failed.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Self

from lmscope.core.errors import LmscopeError, UsageError

MAX_MODELS_FILE_BYTES = 1024 * 1024
MAX_MODELS = 10_000


def models_from_file(path: str) -> list[str]:
    """Model specifiers from a file: one per line, blank lines and ``#`` comments ignored."""
    target = Path(path).expanduser()
    try:
        if not target.is_file():
            raise UsageError(f"--models-file {path}: no such file")
        if target.stat().st_size > MAX_MODELS_FILE_BYTES:
            raise UsageError(f"--models-file {path}: larger than {MAX_MODELS_FILE_BYTES // 1024} KiB; one model id per line expected")
        text = target.read_text(encoding="utf-8", errors="replace")
    except OSError as err:
        raise UsageError(f"--models-file {path}: {err.strerror or err}") from None
    models = [line.split("#", 1)[0].strip() for line in text.splitlines()]
    models = [m for m in models if m]
    if not models:
        raise UsageError(f"--models-file {path}: no model ids in it")
    if len(models) > MAX_MODELS:
        raise UsageError(f"--models-file {path}: {len(models):,} models; at most {MAX_MODELS:,}")
    return list(dict.fromkeys(models))


def folder_name(model: str) -> str:
    """A safe folder name for a model specifier: ``org/name`` -> ``org--name``."""
    stem = model.rstrip("/").replace("/", "--").replace("@", "--")
    return re.sub(r"[^A-Za-z0-9._-]+", "_", stem).strip("._")[:150] or "model"


def file_name(model: str, fmt: str) -> str:
    """A safe file name for a model specifier: ``org/name`` -> ``org--name.json``."""
    from lmscope.core import formats

    return f"{folder_name(model)}{formats.get('report', fmt).suffix}"


def batch_models(args: argparse.Namespace) -> list[str] | None:
    """The models of a batch run, or None when the command names one MODEL."""
    if getattr(args, "all_catalog", False):
        from lmscope.core.sources.catalog import list_catalog

        return [entry.model_id for entry in list_catalog()]
    if getattr(args, "models_file", None):
        return models_from_file(args.models_file)
    return None


def run_batch(models: list[str], args: argparse.Namespace) -> int:
    """Write one report folder per model into ``--output-dir``; 0 when every model succeeded, else 1."""
    from lmscope.commands.report import (
        folder_formats,
        resolve_from_args,
        settings_from_args,
        use_exact,
        write_model_folder,
    )
    from lmscope.core.redact import redact
    from lmscope.core.report import build_report

    out_dir = Path(args.output_dir).expanduser()
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise LmscopeError(f"cannot create --output-dir {out_dir}: {err.strerror or err}") from None
    settings = settings_from_args(args)
    failures: list[str] = []
    names: dict[str, str] = {}
    with _Progress(len(models), quiet=args.quiet) as progress:
        for model in models:
            name = folder_name(model)
            if name in names.values():  # two specifiers that flatten to one name: keep both
                name = f"{name}-{len(names)}"
            try:
                source = resolve_from_args(model, args)
                report = build_report(source, settings, exact=use_exact(args), skip_tokenizer=getattr(args, "skip_tokenizer", False))
                folder = write_model_folder(report, out_dir / name, args, folder_formats(args))
                for note in folder.notes:
                    if not args.quiet:
                        print(redact(f"lmscope: note: {model}: {note}"), file=sys.stderr)
                names[model] = name
                progress.advance(model, "ok")
            except LmscopeError as err:
                failures.append(f"{model}: {err}")
                progress.advance(model, "failed")
    if not args.quiet:
        print(f"wrote {len(names)} report folder(s) to {out_dir}" + (f"; {len(failures)} failed" if failures else ""), file=sys.stderr)
    for line in failures:
        print(redact(f"lmscope: error: {line}"), file=sys.stderr)
    return 1 if failures else 0


class _Progress:
    """A rich progress bar on a terminal, one line per model otherwise (logs, CI)."""

    def __init__(self, total: int, *, quiet: bool) -> None:
        self.total = total
        self.done = 0
        self.quiet = quiet
        self.bar = None

    def __enter__(self) -> Self:
        if not self.quiet and sys.stderr.isatty():
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
            )

            self.bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=Console(stderr=True), transient=False)
            self.bar.start()
            self.task = self.bar.add_task("reports", total=self.total)
        return self

    def advance(self, model: str, status: str) -> None:
        self.done += 1
        if self.bar is not None:
            self.bar.update(self.task, advance=1, description=f"{model[:40]} {status}")
        elif not self.quiet:
            print(f"[{self.done}/{self.total}] {model} {status}", file=sys.stderr, flush=True)

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.stop()
