"""`lmscope plan MODEL --gpu NAME`: will it fit, at what context and batch, how fast, how to serve it.

Wires options to :func:`lmscope.core.plan.make_plan`; the model is read
exactly as `lmscope report` reads it (same resolution, same exact parameter
count), so a plan never disagrees with the report. Without ``--gpu`` the
local GPUs are detected (NVML / nvidia-smi, only now, never at start-up).
"""

from __future__ import annotations

import argparse
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `lmscope plan` (CONTRACT.md names)."""
    from lmscope.commands.report import add_output_options
    from lmscope.main import add_common_options, add_scenario_options, positive_int

    parser.add_argument("model", metavar="MODEL", nargs="?", help="Hub id (org/name[@rev]), local folder, config.json, .gguf or .onnx")
    parser.add_argument("--gpu", default=None, metavar="NAME", help="accelerator profile (h100, a100-80gb, rtx4090, m4-max, cpu, ...; see --list-gpus); default: the GPUs on this machine")
    parser.add_argument("--tp", type=positive_int, default=None, metavar="N", help="tensor-parallel size (default: --count / --pp for inference)")
    parser.add_argument("--pp", type=positive_int, default=1, metavar="N", help="pipeline-parallel size (default 1)")
    parser.add_argument("--ep", type=positive_int, default=1, metavar="N", help="expert-parallel size (default 1: experts split by TP)")
    parser.add_argument("--gpu-memory", default=None, metavar="SIZE", help="memory per card (24GB, 80GiB, 64): a custom card, or overrides the profile's")
    parser.add_argument("--gpu-bandwidth", default=None, metavar="BW", help="memory bandwidth (3.35TB/s, 936 = GB/s)")
    parser.add_argument("--gpu-flops", default=None, metavar="FLOPS", help="dense peak FLOP/s (989T, 165 = TFLOP/s)")
    parser.add_argument("--gpu-memory-utilization", type=float, default=0.9, metavar="F", help="vLLM's fraction of total memory for the serving view (default 0.9)")
    parser.add_argument("--efficiency", type=float, default=None, metavar="E", help="also show the roofline at this fraction of peak (0-1); the pure bound is always shown")
    parser.add_argument("--list-gpus", action="store_true", help="print the accelerator profiles and exit")
    add_output_options(parser, "plan")
    add_common_options(parser)
    add_scenario_options(parser)


def accelerator_from_args(args: argparse.Namespace):
    """The card the options describe: --gpu NAME (with overrides), a custom --gpu-memory card, or the local GPU."""
    from lmscope.core.errors import UsageError
    from lmscope.core.hardware import detect_local, get_accelerator
    from lmscope.core.units import parse_bandwidth, parse_flops, parse_size

    memory = parse_size(args.gpu_memory) if args.gpu_memory else None
    bandwidth = parse_bandwidth(args.gpu_bandwidth) if args.gpu_bandwidth else None
    flops = parse_flops(args.gpu_flops) if args.gpu_flops else None
    name = args.gpu
    if name is None and memory is None:
        local = detect_local()
        if not local:
            raise UsageError("no GPU detected on this machine; name one with --gpu NAME (see lmscope plan --list-gpus) or give --gpu-memory SIZE")
        from dataclasses import replace

        from lmscope.core.hardware import local_accelerator

        first = local[0]
        card = local_accelerator(first)  # its profile, with the detected memory when they disagree
        if not args.quiet:
            kind = f"{first.profile}" if first.profile else f"a custom card of {first.memory_bytes >> 20} MiB"
            print(f"lmscope: using the local {first.name} ({kind})", file=sys.stderr)
        if bandwidth is not None or flops is not None:
            card = replace(card, bandwidth_bytes_per_s=bandwidth or card.bandwidth_bytes_per_s,
                           peak_flops={k: flops for k in (card.peak_flops or {"bf16": 0})} if flops else card.peak_flops)
        return card
    return get_accelerator(name, memory_bytes=memory, bandwidth=bandwidth, flops=flops)


def request_from_args(args: argparse.Namespace):
    from lmscope.core.plan import PlanRequest

    return PlanRequest(
        seq_len=args.seq_len or 4096,  # --seq-len defaults to None (report/compare pick a model's own default)
        batch=args.batch,
        dtype=args.dtype,
        kv_dtype=args.kv_dtype,
        mode=args.mode,
        count=args.count,
        tp=args.tp,
        pp=args.pp,
        ep=args.ep,
        zero=args.zero,
        optimizer=args.optimizer,
        recompute=args.recompute,
        lora_rank=args.lora_rank,
        lora_targets=args.lora_targets,
        flash=not args.no_flash,
        efficiency=args.efficiency,
        gpu_memory_utilization=args.gpu_memory_utilization,
    )


def run(args: argparse.Namespace) -> int:
    """Print (or write) the plan; 0 on success (whether or not the model fits)."""
    from lmscope.commands.report import (
        emit,
        resolve_from_args,
        settings_from_args,
        use_exact,
    )
    from lmscope.core import formats
    from lmscope.core.errors import UsageError
    from lmscope.core.plan import make_plan
    from lmscope.core.plan.render import gpus_table
    from lmscope.core.plan.request import validate_request
    from lmscope.core.report import build_report

    if args.list_gpus:
        emit(gpus_table(args.format), args)
        return 0
    if not args.model:
        raise UsageError("plan needs a MODEL (or --list-gpus)")
    req = request_from_args(args)
    validate_request(req)
    hw = accelerator_from_args(args)
    source = resolve_from_args(args.model, args)
    settings = settings_from_args(args)
    report = build_report(source, settings, exact=use_exact(args))
    if report.architecture is None or report.estimate is None:
        raise UsageError(f"{args.model}: no architecture to plan for (a config.json or GGUF metadata is needed)")
    plan = make_plan(
        report.architecture,
        report.estimate.parameters,
        req,
        hw,
        model_id=report.model_id,
        is_gguf=source.kind == "gguf",
    )
    emit(formats.render("plan", args.format, plan.to_dict()), args)
    return 0
