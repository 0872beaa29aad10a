"""`lmscope report MODEL`: one model, non-interactive, as text, JSON, Markdown or YAML.

The command only wires options to the engine: resolve the specifier, build
the :class:`~lmscope.core.report.Report` and render it with
:mod:`lmscope.core.export`. Errors are :class:`LmscopeError` lines that
``lmscope.main`` prints (exit 1); argparse handles usage (exit 2).
"""

from __future__ import annotations

import argparse
import os
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `lmscope report` (CONTRACT.md names)."""
    from lmscope.main import add_common_options, add_scenario_options

    parser.add_argument("model", metavar="MODEL", nargs="?", help="Hub id (org/name[@rev]), local folder, config.json, .gguf or .onnx")
    add_output_options(parser)
    add_common_options(parser)
    add_scenario_options(parser)
    parser.add_argument("--detailed", action="store_true", help="show every section (text format)")
    add_folder_options(parser, visualize=True)
    add_export_options(parser)
    add_view_options(parser)
    add_batch_options(parser)


def add_view_options(parser: argparse.ArgumentParser) -> None:
    """--phase / --table: seed 002's views of one phase and one table (every format: JSON/YAML keep the CONTRACT
    blocks asked for plus an additive ``phases`` object)."""
    parser.add_argument("--phase", choices=("prefill", "decode", "training"), default=None, help="print memory and FLOPs by component for one phase (every format)")
    parser.add_argument("--table", choices=("memory", "flops", "all"), default=None, help="with or without --phase: print just the memory or FLOPs tables (all: both)")


def add_batch_options(parser: argparse.ArgumentParser) -> None:
    """--all-catalog / --models-file with --output-dir: one report folder per model (seed 004's batch run)."""
    parser.add_argument("--all-catalog", action="store_true", help="report every model of the built-in catalog (needs --output-dir: one sub-folder per model)")
    parser.add_argument("--models-file", default=None, metavar="FILE", help="report every model id listed in FILE, one per line (needs --output-dir: one sub-folder per model)")
    parser.add_argument("--no-pictures", action="store_true", help="with --output-dir: report.md (and report.<format>) without the PNG/SVG charts — fast batch runs")
    if "--output-dir" not in parser._option_string_actions:
        parser.add_argument("--output-dir", default=None, metavar="DIR", help="a report folder (report.md + pictures); batch runs: one such folder per model")


def add_export_options(parser: argparse.ArgumentParser) -> None:
    """--export / --export-markdown / --skip-tokenizer: seed 000's options, beside --format/--output."""
    parser.add_argument("--export", default=None, metavar="FILE", help="also write the JSON report to FILE (atomically)")
    parser.add_argument("--export-markdown", default=None, metavar="FILE", help="also write the Markdown report to FILE (atomically)")
    parser.add_argument("--skip-tokenizer", action="store_true", help="do not read the tokenizer files (faster on huge tokenizer.json; tokenizer facts unknown)")


def add_folder_options(parser: argparse.ArgumentParser, *, visualize: bool) -> None:
    """--output-dir (a report folder: report.md and its pictures) and, for report, --visualize."""
    parser.add_argument("--output-dir", default=None, metavar="DIR", help="a report folder: report.md plus its PNG + SVG pictures (linked by relative paths) and report.<format> for json/yaml/text; batch runs (--all-catalog, --models-file): one such folder per model, DIR/org--name/")
    if visualize:
        parser.add_argument("--visualize", choices=("simple", "detailed"), default=None, help="architecture diagram style in the report folder (needs --output-dir; default detailed)")


def write_folder(args: argparse.Namespace, write) -> int:
    """Run ``write(path, extra_formats)`` -> Folder, then say what was written (stderr)."""
    from lmscope.core.redact import redact

    extra = folder_formats(args)
    folder = write(args.output_dir, extra)
    for note in folder.notes:
        print(redact(f"lmscope: note: {note}"), file=sys.stderr)
    if not args.quiet:
        pictures = sum(1 for name in folder.files if name.endswith((".png", ".svg")))
        print(redact(f"wrote {folder.root / 'report.md'} ({pictures} picture files, {len(folder.files)} files in all)"), file=sys.stderr)
    return 0


def folder_formats(args: argparse.Namespace) -> list[str]:
    """What a report folder writes beside report.md: ``report.<format>`` for --format json, yaml or text."""
    fmt = getattr(args, "format", "text")
    return [fmt] if fmt in ("json", "yaml", "text") else []


def add_output_options(parser: argparse.ArgumentParser, view: str = "report") -> None:
    """--format (the choices of ``view`` in ``core.formats``) and --no-exact, shared with `compare` and `plan`."""
    from lmscope.core import formats

    parser.add_argument("--format", choices=formats.names(view), default="text", help="output format (default text)")
    parser.add_argument("--no-exact", action="store_true", help="skip the exact (meta-device) parameter count; analytic only (also LMSCOPE_NO_EXACT=1)")


def use_exact(args: argparse.Namespace) -> bool:
    """Run the exact engine unless --no-exact or LMSCOPE_NO_EXACT=1 says not to."""
    env = os.environ.get("LMSCOPE_NO_EXACT", "").strip().lower() in ("1", "true", "yes", "on")
    return not (args.no_exact or env)


def settings_from_args(args: argparse.Namespace):
    """The :class:`Settings` the common options describe."""
    from lmscope.core.report import DEFAULT_SEQ_LEN
    from lmscope.core.results import Settings

    return Settings(
        seq_len=args.seq_len or DEFAULT_SEQ_LEN,  # None: not given (build_report picks the model's default)
        batch=args.batch,
        dtype=args.dtype,
        kv_dtype=args.kv_dtype,
        mode=getattr(args, "mode", "inference"),
        flash_attention=not getattr(args, "no_flash", False),
        recompute=getattr(args, "recompute", "none"),
        zero_stage=getattr(args, "zero", 0),
        num_gpus=getattr(args, "count", 1),
        optimizer=getattr(args, "optimizer", "adamw"),
        lora_rank=getattr(args, "lora_rank", 16),
        lora_targets=getattr(args, "lora_targets", "all"),
    )


def resolve_from_args(spec: str, args: argparse.Namespace):
    """Resolve one model specifier with the common options (offline, token, revision)."""
    from lmscope.core.hub.token import check_token
    from lmscope.core.redact import register_secret
    from lmscope.core.sources.resolve import resolve

    register_secret(args.token)
    check_token(args.token, "--token")
    return resolve(spec, offline=args.offline, token=args.token, revision=args.revision)


def text_width(args: argparse.Namespace) -> int | None:
    """The terminal's width when printing to one (at least 80), else None (the exporter's default)."""
    if args.output or not sys.stdout.isatty():
        return None
    import shutil

    return max(80, shutil.get_terminal_size().columns)


def emit(text: str, args: argparse.Namespace) -> None:
    """Print ``text`` to stdout, or write it atomically to ``--output``."""
    from lmscope.core.export import write_atomic

    if args.output:
        path = write_atomic(args.output, text)
        if not args.quiet:
            print(f"wrote {path}", file=sys.stderr)
        return
    sys.stdout.write(text)
    sys.stdout.flush()


def run(args: argparse.Namespace) -> int:
    """Build and print (or write) the report; 0 on success."""
    from lmscope.batch import batch_models, run_batch
    from lmscope.core import formats
    from lmscope.core.errors import UsageError
    from lmscope.core.redact import redact
    from lmscope.core.report import build_report

    if args.visualize and not args.output_dir:
        raise UsageError("--visualize writes pictures: give --output-dir DIR")
    if getattr(args, "no_pictures", False) and args.visualize:
        raise UsageError("--no-pictures and --visualize contradict each other: give one")
    if getattr(args, "no_pictures", False) and not args.output_dir:
        raise UsageError("--no-pictures applies to report folders: give --output-dir DIR")
    models = batch_models(args)
    if models is not None:
        if args.model:
            raise UsageError("give either MODEL or --all-catalog/--models-file, not both")
        if not getattr(args, "output_dir", None):
            raise UsageError("--all-catalog/--models-file write one report folder per model: give --output-dir DIR")
        return run_batch(models, args)
    if not args.model:
        raise UsageError("no model given: lmscope report MODEL (or --all-catalog / --models-file FILE with --output-dir)")
    source = resolve_from_args(args.model, args)
    report = build_report(
        source,
        settings_from_args(args),
        exact=use_exact(args),
        skip_tokenizer=getattr(args, "skip_tokenizer", False),
        onnx_detail=bool(args.detailed),
        seq_len_given=args.seq_len is not None,
    )
    if args.verbose and not args.quiet:
        for note in report.notes:
            print(redact(f"note: {note}"), file=sys.stderr)
    exported = write_exports(report, args)
    if args.output_dir:  # a report folder (report.md + pictures); batch runs return above
        code = write_folder(args, lambda path, extra: write_model_folder(report, path, args, extra))
        if args.output:
            emit(formats.render("report", args.format, report, detailed=args.detailed, width=None), args)
        return code
    if exported and args.quiet and not args.output:
        return 0  # seed 000's batch idiom: `--quiet --export FILE` writes the file and prints nothing
    emit(formats.render("report", args.format, report, detailed=args.detailed, width=text_width(args), phase=args.phase, table=args.table), args)
    return 0


def write_model_folder(report, path, args: argparse.Namespace, extra: list[str]):
    """One model's report folder: report.md, the charts (unless --no-pictures), the diagram with --visualize."""
    from lmscope.core import formats

    pictures = not getattr(args, "no_pictures", False)
    return formats.write_folder("report", path, report, style=args.visualize or "detailed", diagram=bool(args.visualize),
                                charts=pictures, extra_formats=extra)


def write_exports(report, args: argparse.Namespace) -> bool:
    """Write --export (JSON) and --export-markdown files; True when any was asked for."""
    from lmscope.core import formats
    from lmscope.core.export import write_atomic

    written = False
    for attr, fmt in (("export", "json"), ("export_markdown", "markdown")):
        target = getattr(args, attr, None)
        if not target:
            continue
        path = write_atomic(target, formats.render("report", fmt, report, detailed=True))
        written = True
        if not args.quiet:
            print(f"wrote {path}", file=sys.stderr)
    return written
