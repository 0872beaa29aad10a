"""`lmscope weights MODEL`: statistics and exact SVD spectra of a model's real weights.

Streams :func:`lmscope.core.weights.analyze_weights` with a rich progress bar
on stderr (hidden with ``--quiet`` or when stderr is not a terminal), then
renders the collected records as text, CSV, JSON or Markdown to stdout or,
atomically, to ``--output``. The Hub is only contacted with ``--download``,
which announces the total size of the weight files before fetching them.
"""

from __future__ import annotations

import argparse
import sys
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING

from lmscope.core import formats
from lmscope.main import positive_int

if TYPE_CHECKING:
    from lmscope.core.weights import TensorStats, WeightsEvent, WeightsSummary


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `lmscope weights` (names fixed by CONTRACT.md)."""
    parser.add_argument("model", metavar="MODEL", help="weights file or folder (.safetensors, index, .gguf, .bin), or a Hub id in the local cache")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto", help="where to compute spectra (default auto: CUDA when available)")
    parser.add_argument("--tensors", action="append", default=[], metavar="GLOB", help="only tensors whose name matches GLOB (repeatable)")
    parser.add_argument("--kind", action="append", default=[], metavar="K[,K]", help="only these module kinds or families, e.g. attention,mlp (repeatable)")
    parser.add_argument("--max-tensors", type=positive_int, default=None, metavar="N", help="stop after N tensors")
    parser.add_argument("--format", choices=formats.names("weights"), default="text", help="output format (default text)")
    parser.add_argument("--output", "-o", default=None, metavar="PATH", help="write to PATH (atomically) instead of stdout")
    from lmscope.main import add_units_option

    add_units_option(parser)
    parser.add_argument("--tol", type=_tolerance, default=None, metavar="REL",
                        help="spectra accuracy: every σ within REL·σ + max(1e-14, 1e-6·REL)·σmax (default 1e-6; 1e-10 is the strict mode)")
    parser.add_argument("--output-dir", default=None, metavar="DIR", help="write a report folder: report.md with PNG + SVG charts, weights.csv, weights.json, cluster_representatives.json")
    parser.add_argument("--no-spectra", action="store_true", help="element statistics only (no SVD)")
    parser.add_argument("--no-embeddings", action="store_true", help="skip the k-means clustering of token-embedding rows (on by default: seed 001's embedding analysis; k = 2..12 on a seeded 2048-row sample)")
    parser.add_argument("--singular-values", action="store_true", help="include every singular value in JSON output")
    parser.add_argument("--download", action="store_true", help="download the weight files from the Hub if they are not cached (shows the size first)")
    parser.add_argument("--yes", "-y", action="store_true", help="with --download: do not ask for confirmation")
    parser.add_argument("--revision", default=None, help="Hub revision (branch, tag or commit)")
    parser.add_argument("--token", default=None, help="Hugging Face token (else HF_TOKEN, else the stored login)")
    parser.add_argument("--ray", nargs="?", const="", default=None, metavar="ADDRESS",
                        help="analyse on a Ray cluster, one task per shard: 'local' starts one here, 'auto' or "
                             "'ray://host:port' attaches (default: $RAY_ADDRESS, else local); needs lmscope[ray]")
    parser.add_argument("--model-id", default=None, metavar="ID", help="the model id recorded in CSV/JSON when MODEL is a path")
    parser.add_argument("--quiet", "-q", action="store_true", help="print errors only (no progress)")
    parser.add_argument("--verbose", "-v", action="store_true", help="show tracebacks of unexpected errors")


def _tolerance(text: str) -> float:
    """``--tol``: a relative accuracy between 1e-14 and 1e-2."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 1e-14 <= value <= 1e-2:
        raise argparse.ArgumentTypeError(f"--tol must be between 1e-14 and 1e-2, got {text}")
    return value


def _kinds(values: list[str]) -> tuple[str, ...]:
    from lmscope.core.errors import UsageError
    from lmscope.core.redact import shown
    from lmscope.core.weights.classify import KINDS

    known = set(KINDS) | set(KINDS.values())
    out: list[str] = []
    for v in values:
        for k in (p.strip() for p in v.split(",")):
            if not k:
                continue
            if k not in known:
                raise UsageError(f"unknown --kind '{shown(k, 40)}'; choose from {', '.join(sorted(known))}")
            out.append(k)
    return tuple(out)


def _resolve(args: argparse.Namespace) -> str:
    """A local path for MODEL: as given, from the HF cache, or downloaded with --download."""
    from lmscope.core.errors import SourceError
    from lmscope.core.weights import locate

    try:
        return str(locate.locate_weights(args.model, revision=args.revision, token=args.token))
    except SourceError:
        if args.ray is not None and not args.download and locate.split_hub_id(args.model) is not None:
            return args.model  # not cached: the driver reads the headers, each Ray worker fetches its own shard
        if not args.download or locate.split_hub_id(args.model) is None:
            raise
    from lmscope.core.hub.token import resolve_token

    repo_id, rev = locate.split_hub_id(args.model)  # type: ignore[misc]
    token = resolve_token(args.token)
    plan = locate.plan_download(repo_id, args.revision or rev, token=token)
    from lmscope.core.units import human_bytes

    print(f"{repo_id}: {len(plan.files)} weight file(s), {human_bytes(plan.total_bytes)} to download", file=sys.stderr)
    if not args.yes and sys.stdin.isatty():
        answer = input("download? [y/N] ").strip().lower()
        if answer not in ("y", "yes"):
            raise SourceError("download declined")
    say = None if args.quiet else (lambda line: print(line, file=sys.stderr))
    return str(locate.download_weights(plan, token=token, progress=say))


def run(args: argparse.Namespace) -> int:
    """Analyse, render, write; 0 on success. Ctrl-C exits 130 at once and writes nothing."""
    from lmscope.core.errors import LmscopeError, SourceError
    from lmscope.core.hub.token import check_token
    from lmscope.core.redact import register_secret, shown
    from lmscope.core.weights import WeightsOptions, analyze_weights, report
    from lmscope.core.weights.background import BackgroundEvents

    register_secret(args.token)
    check_token(args.token, "--token")
    cancel = threading.Event()
    options = WeightsOptions(
        tensors=tuple(args.tensors),
        kinds=_kinds(args.kind),
        max_tensors=args.max_tensors,
        device=args.device,
        spectra=not args.no_spectra,
        embeddings=not args.no_embeddings,
        keep_singular_values=args.format == "markdown" or args.singular_values or bool(args.output_dir),
        cancel=cancel,
        **({"tol": args.tol} if args.tol is not None else {}),
        ray=args.ray,
        model_id=args.model_id,
        revision=args.revision,
    )
    path = _resolve(args)
    results: list[TensorStats] = []
    summary: WeightsSummary | None = None
    show = not args.quiet and sys.stderr.isatty()
    # The engine runs in a daemon thread: Ctrl-C is seen here within a poll (50 ms) even while
    # LAPACK holds the engine's thread, and the process exits without waiting for that call.
    background = BackgroundEvents(lambda: analyze_weights(path, options), cancel)
    events = background.events()
    try:
        if show:
            summary = _with_progress(events, results)
        else:
            for ev in events:
                if ev.result is not None:
                    results.append(ev.result)
                else:
                    summary = ev.summary
    except KeyboardInterrupt:
        # Stop the engine at its next check and write nothing: a partial report under the
        # requested name would read as a complete one.
        cancel.set()
        print(f"lmscope: interrupted after {len(results)} tensor(s); nothing written", file=sys.stderr)
        return 130
    if summary is not None and summary.tensors_total == 0:
        if args.tensors or args.kind:
            raise LmscopeError("no tensors matched the filters")
        raise LmscopeError(f"{shown(args.model)}: holds no tensors")
    if args.output_dir:
        from lmscope.core.redact import redact
        from lmscope.core.vocab import find_tokenizer_json

        folder = formats.write_folder("weights", args.output_dir, results, summary, tokenizer_json=find_tokenizer_json(path))
        for note in folder.notes:
            print(redact(f"lmscope: note: {note}"), file=sys.stderr)
        if not args.quiet:
            print(redact(f"wrote {folder.root / 'report.md'} ({len(folder.files)} files)"), file=sys.stderr)
        if not args.output:
            return 0
    if args.format == "json":
        text = formats.render("weights", "json", results, summary, singular_values=args.singular_values)
    elif args.format == "text":
        import shutil

        width = shutil.get_terminal_size().columns if sys.stdout.isatty() and not args.output else 200
        text = formats.render("weights", "text", results, summary, width=width)
    else:
        text = formats.render("weights", args.format, results, summary)
    if args.output:
        try:
            report.write_output(args.output, text)
        except OSError as err:
            raise SourceError(f"cannot write {shown(args.output)}: {err.strerror or shown(err)}") from None
        if not args.quiet:
            print(f"wrote {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


def _with_progress(events: Iterator[WeightsEvent], results: list[TensorStats]) -> WeightsSummary | None:
    """Consume ``events`` under a transient rich progress bar on stderr; return the summary."""
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    summary = None
    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total} tensors"),
                  TimeRemainingColumn(), transient=True, console=Console(stderr=True)) as progress:
        task = progress.add_task("weights", total=None)
        for ev in events:
            if ev.result is not None:
                results.append(ev.result)
                progress.update(task, total=ev.total, completed=ev.index, description=ev.result.name[-40:])
            else:
                summary = ev.summary
    return summary
