"""`lmscope compare A B [...]`: several models side by side under the same settings.

Ratios are against the first model; facts that differ from it are marked.
Each model is resolved and analysed exactly as `lmscope report` would, so a
comparison can never disagree with the single-model reports.
"""

from __future__ import annotations

import argparse
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `lmscope compare` (CONTRACT.md names)."""
    from lmscope.commands.report import add_output_options
    from lmscope.main import add_common_options, add_scenario_options, positive_int

    parser.add_argument("models", nargs="+", metavar="MODEL", help="two or more models (Hub ids, folders, configs, .gguf, .onnx)")
    add_output_options(parser, "compare")
    add_common_options(parser)
    add_scenario_options(parser)
    parser.add_argument("--detailed", action="store_true", help="accepted for symmetry with report")
    parser.add_argument("--gpu", default=None, metavar="NAME", help="also plan every model on this accelerator x --count (fits / does not fit, decode tokens/s; see lmscope plan --list-gpus)")
    parser.add_argument("--gpu-memory", default=None, metavar="SIZE", help="memory per card: a custom card, or overrides --gpu's")
    parser.add_argument("--gpu-bandwidth", default=None, metavar="BW", help="memory bandwidth of the card (3.35TB/s, 936 = GB/s)")
    parser.add_argument("--gpu-flops", default=None, metavar="FLOPS", help="dense peak FLOP/s of the card (989T, 165 = TFLOP/s)")
    parser.add_argument("--tp", type=positive_int, default=None, metavar="N", help="tensor-parallel size of the plans (default: --count)")
    from lmscope.commands.report import add_folder_options

    add_folder_options(parser, visualize=False)


def run(args: argparse.Namespace) -> int:
    """Build and print (or write) the comparison; 0 on success, 2 with fewer than two models."""
    from lmscope.commands.report import emit, resolve_from_args, settings_from_args, text_width, use_exact
    from lmscope.core import formats
    from lmscope.core.errors import UsageError
    from lmscope.core.redact import redact
    from lmscope.core.report import build_compare

    if len(args.models) < 2:
        raise UsageError("compare needs at least two models")
    sources = [resolve_from_args(spec, args) for spec in args.models]
    compare = build_compare(sources, settings_from_args(args), exact=use_exact(args), seq_len_given=args.seq_len is not None)
    if args.gpu or args.gpu_memory:
        compare = plan_on_gpu(compare, args)
    if args.verbose and not args.quiet:
        for report in compare.reports:
            for note in report.notes:
                print(redact(f"note: {report.model_id}: {note}"), file=sys.stderr)
    if args.output_dir:
        from lmscope.commands.report import write_folder
        code = write_folder(args, lambda path, extra: formats.write_folder("compare", path, compare, extra_formats=extra))
        if args.output:
            emit(formats.render("compare", args.format, compare, width=None), args)
        return code
    emit(formats.render("compare", args.format, compare, width=text_width(args)), args)
    return 0


def plan_on_gpu(compare, args: argparse.Namespace):
    """The comparison with every model planned on ``--gpu`` × ``--count`` (the same planner as `lmscope plan`)."""
    from lmscope.commands.plan import accelerator_from_args, request_from_args
    from lmscope.core.plan.request import validate_request
    from lmscope.core.report import with_plans

    args.pp, args.ep, args.efficiency, args.gpu_memory_utilization = 1, 1, None, 0.9
    req = request_from_args(args)
    validate_request(req)
    return with_plans(compare, req, accelerator_from_args(args))

