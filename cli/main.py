"""The `lmscope` command: dispatches to a subcommand or opens the TUI.

Each subcommand lives in its own module under ``lmscope.commands`` with two
functions, ``add_arguments(parser)`` and ``run(args) -> int``; this module
only routes. Nothing heavy is imported here, so ``lmscope --help`` is instant.

Every :class:`~lmscope.core.errors.LmscopeError` becomes one line on stderr
and exit 1 (2 for usage); an unexpected exception also becomes one line
(``--verbose`` shows the traceback), never a bare traceback.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import threading
from collections.abc import Sequence

from lmscope import __version__

MAX_ERROR_CHARS = 600  # an error line never grows with what the user typed or a file holds

# name -> (module under lmscope.commands, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "report": ("report", "analyse one model (parameters, memory, KV cache, FLOPs)"),
    "compare": ("compare", "compare two or more models under the same settings"),
    "search": ("search", "search the Hugging Face Hub"),
    "weights": ("weights", "analyse a model's real weights: statistics and SVD spectra"),
    "plan": ("plan", "will it run on these GPUs: fit, context and batch limits, speed, serving commands"),
}


def add_common_options(parser: argparse.ArgumentParser) -> None:
    """Options every model-reading command shares (CONTRACT.md names)."""
    from lmscope.core.results import DTYPES

    parser.add_argument(
        "--seq-len", type=count_arg, default=None, metavar="N",
        help="sequence length: 4096, 32k, 128k, 1M (k = 1024; default 4096, or an encoder's own maximum when shorter)",
    )
    parser.add_argument("--batch", type=count_arg, default=1, metavar="N", help="batch size (default 1)")
    parser.add_argument("--dtype", choices=("auto", *DTYPES), default="auto", help="weight dtype (auto = the checkpoint's)")
    parser.add_argument("--kv-dtype", choices=DTYPES, default=None, help="KV cache dtype (default: the weight dtype; 16-bit when weights are int8/int4, and the compute dtype for quantized checkpoints with --dtype auto)")
    parser.add_argument("--offline", action="store_true", help="never touch the network (cache and built-in catalog only)")
    parser.add_argument("--token", default=None, help="Hugging Face token (else HF_TOKEN, else the stored login)")
    parser.add_argument("--revision", default=None, help="Hub revision (branch, tag or commit)")
    parser.add_argument("--output", "-o", default=None, metavar="PATH", help="write to PATH (atomically) instead of stdout")
    parser.add_argument("--quiet", "-q", action="store_true", help="print errors only")
    parser.add_argument("--verbose", "-v", action="store_true", help="say more; show tracebacks of unexpected errors")
    add_units_option(parser)


def add_units_option(parser: argparse._ActionsContainer, **kw: object) -> None:
    """``--units binary|decimal``: the byte convention of every number shown (core.units.set_byte_units)."""
    options: dict[str, object] = {"default": None, **kw}
    parser.add_argument(
        "--units", choices=("binary", "decimal"),
        help="bytes in GiB = 2^30 (binary, the default) or GB = 10^9 (decimal); also LMSCOPE_UNITS", **options,  # type: ignore[arg-type]
    )


def _apply_units(args: argparse.Namespace) -> None:
    from lmscope.core.units import byte_units_from_env, set_byte_units

    set_byte_units(getattr(args, "units", None) or byte_units_from_env())


def positive_int(text: str) -> int:
    """argparse type for counts: a whole number from 1 to 2^40 (shared by every command)."""
    from lmscope.core.redact import shown

    try:
        value = int(text) if len(text) <= 64 else None
    except ValueError:
        value = None
    if value is None:
        raise argparse.ArgumentTypeError(f"not a whole number: '{shown(text, 40)}'") from None
    if value < 1 or value > 1 << 40:
        raise argparse.ArgumentTypeError(f"must be between 1 and 2^40: {shown(text, 40)}")
    return value


def count_arg(text: str) -> int:
    """argparse type for token counts and batch sizes: ``4096``, ``32k``, ``128k``, ``1M`` (core.units.parse_count)."""
    from lmscope.core.errors import UsageError
    from lmscope.core.units import parse_count

    try:
        return parse_count(text)
    except UsageError as err:
        raise argparse.ArgumentTypeError(str(err).split(": ", 1)[-1]) from None


def add_scenario_options(parser: argparse.ArgumentParser) -> None:
    """Scenario options shared by report, compare and plan (CONTRACT.md "Scenario options")."""
    parser.add_argument("--mode", choices=("inference", "training", "lora", "qlora"), default="inference", help="what to plan for (default inference)")
    parser.add_argument("--zero", type=int, choices=(0, 1, 2, 3), default=0, help="ZeRO stage for training modes (default 0)")
    parser.add_argument("--optimizer", choices=("adamw", "adam8bit", "sgd", "adafactor"), default="adamw", help="optimizer for training modes (default adamw)")
    parser.add_argument("--recompute", choices=("none", "selective", "full"), default="none", help="activation recomputation in training (default none)")
    parser.add_argument("--lora-rank", type=positive_int, default=16, metavar="R", help="LoRA rank (default 16)")
    parser.add_argument("--lora-targets", choices=("all", "qv"), default="all", help="LoRA on every linear layer (all) or the query and value projections (qv)")
    parser.add_argument("--no-flash", action="store_true", help="attention without flash attention (materialised scores)")
    parser.add_argument("--count", type=positive_int, default=1, metavar="N", help="GPUs (data-parallel ranks for ZeRO; total GPUs in plan)")


class _Parser(argparse.ArgumentParser):
    """argparse with usage errors kept to a bounded, token-free line (it quotes invalid values)."""

    def error(self, message: str):  # type: ignore[override]
        import re

        from lmscope.core.redact import shown

        message = re.sub(r"'([^']{61,})'", lambda m: "'" + shown(m.group(1), 60) + "'", message)
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog}: error: {shown(message, MAX_ERROR_CHARS)}\n")


def add_app_options(parser: argparse._ActionsContainer, *, for_help: bool = False) -> None:
    """The app's own options (``lmscope [MODEL …] [--offline] …``), written once.

    The top-level ``--help`` lists them too (``for_help``: shown, never parsed
    there), because error messages tell people to use ``--offline``/``--token``.
    """
    kw = {"default": argparse.SUPPRESS} if for_help else {}
    if not for_help:
        parser.add_argument("models", nargs="*", metavar="MODEL", help="model(s) to open; two or more open the comparison")
    parser.add_argument("--offline", action="store_true", help="never touch the network (HF cache and built-in catalog only)", **kw)
    parser.add_argument("--token", default=argparse.SUPPRESS if for_help else None, help="Hugging Face token (else HF_TOKEN, else the stored login)")
    parser.add_argument("--verbose", "-v", action="store_true", help="show tracebacks of unexpected errors", **kw)
    add_units_option(parser, **kw)


def _build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The command-line parser; ``only``: fill in just that command's options.

    Every command is listed (names and help), but a command's module is
    imported only when its options are needed: ``lmscope weights`` need not
    import the report, export and Hub-search modules (a few hundred ms of a
    one-second run).
    """
    parser = _Parser(
        prog="lmscope",
        usage="lmscope [MODEL ...] [--offline] [--token TOKEN] [-v]\n       lmscope COMMAND [options]\n       lmscope [-h] [--version]",
        description="Everything worth knowing about a language model before you download, serve or fine-tune it.",
        epilog="Run `lmscope` alone for the app on a built-in model, `lmscope MODEL [MODEL2 …]` to open (and compare) models; "
        "`lmscope COMMAND --help` for a command's options.",
    )
    parser.add_argument("--version", action="version", version=f"lmscope {__version__}")
    add_app_options(parser.add_argument_group("app options (lmscope [MODEL ...])"), for_help=True)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", prog="lmscope")
    for name, (module_name, help_text) in COMMANDS.items():
        sp = sub.add_parser(name, help=help_text, description=help_text)
        if only is not None and name != only:
            continue
        module = importlib.import_module(f"lmscope.commands.{module_name}")
        module.add_arguments(sp)
        sp.set_defaults(_module=module)
    return parser


def _build_tui_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="lmscope",
        description="Open the lmscope app.",
        epilog=f"Commands: {', '.join(COMMANDS)} (`lmscope COMMAND --help`).",
    )
    add_app_options(parser)
    return parser


def console() -> None:
    """The ``lmscope`` command: :func:`main`, then leave without waiting for abandoned work.

    A cancelled weights run leaves its engine thread inside a LAPACK call (the engine
    runs in daemon threads so that Ctrl-C and quit never wait for one). A normal
    interpreter exit then unloads the BLAS library under that call — a segmentation
    fault after "nothing written" had been said. So when such a thread is still
    running, the process ends with ``os._exit`` after flushing its output: no atexit
    handlers or library destructors run under it (exports are already complete, each
    written atomically before this point).
    """
    try:
        code = main()
    except SystemExit as done:  # argparse's --help, --version and usage errors (the message is out already)
        code = done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
    if any(t.daemon and t.is_alive() and t.name.startswith("lmscope-") for t in threading.enumerate()):
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    from lmscope.core.errors import LmscopeError

    verbose = "--verbose" in argv or "-v" in argv
    try:
        if argv and (argv[0] in COMMANDS or argv[0] in ("-h", "--help", "--version")):
            parser = _build_parser(argv[0] if argv[0] in COMMANDS else None)
            args = parser.parse_args(argv)
            if args.command is None:
                parser.print_help()
                return 2
            _apply_units(args)
            return int(args._module.run(args) or 0)
        args = _build_tui_parser().parse_args(argv)
        _apply_units(args)
        from lmscope.tui.launch import run_tui  # imports textual only here

        return int(run_tui(args) or 0)
    except LmscopeError as err:
        from lmscope.core.redact import shown

        # shown(): token-free, one line, bounded — whatever a message ended up quoting
        print(f"lmscope: error: {shown(err, MAX_ERROR_CHARS)}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        print("lmscope: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except Exception as err:  # noqa: BLE001 - the last line of defence: one line, no traceback
        from lmscope.core.redact import redact

        if verbose:
            # the traceback the user asked for, through redact: exception text may quote a token
            import traceback

            print(redact(traceback.format_exc()), file=sys.stderr, end="")
            return 1

        from lmscope.core.redact import shown

        text = shown(type(err).__name__ + ": " + str(err), MAX_ERROR_CHARS)
        print(f"lmscope: internal error: {text} (run with --verbose for details)", file=sys.stderr)
        return 1
