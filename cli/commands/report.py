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

    parser.add_argument("model", metavar="MODEL", help="Hub id (org/name[@rev]), local folder, config.json, .gguf or .onnx")
    add_output_options(parser)
    add_common_options(parser)
    add_scenario_options(parser)
    parser.add_argument("--detailed", action="store_true", help="show every section (text format)")


def add_output_options(parser: argparse.ArgumentParser) -> None:
    """--format and --no-exact, shared with `compare`."""
    parser.add_argument("--format", choices=("text", "json", "markdown", "yaml"), default="text", help="output format (default text)")
    parser.add_argument("--no-exact", action="store_true", help="skip the exact (meta-device) parameter count; analytic only (also LMSCOPE_NO_EXACT=1)")


def use_exact(args: argparse.Namespace) -> bool:
    """Run the exact engine unless --no-exact or LMSCOPE_NO_EXACT=1 says not to."""
    env = os.environ.get("LMSCOPE_NO_EXACT", "").strip().lower() in ("1", "true", "yes", "on")
    return not (args.no_exact or env)


def settings_from_args(args: argparse.Namespace):
    """The :class:`Settings` the common options describe."""
    from lmscope.core.results import Settings

    return Settings(
        seq_len=args.seq_len,
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
    from lmscope.core.export import render_report
    from lmscope.core.redact import redact
    from lmscope.core.report import build_report

    source = resolve_from_args(args.model, args)
    report = build_report(source, settings_from_args(args), exact=use_exact(args))
    if args.verbose and not args.quiet:
        for note in report.notes:
            print(redact(f"note: {note}"), file=sys.stderr)
    emit(render_report(report, args.format, detailed=args.detailed, width=text_width(args)), args)
    return 0
