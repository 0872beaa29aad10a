"""A small hand-rolled mutation pass over ``core/estimate`` (issue 18: can the suite see a wrong estimator?).

Each mutant changes one thing in one estimator module — an arithmetic
operator (``+``↔``-``, ``*``→``//``, ``//``→``*``), an integer constant
(``n``→``n + 1``) or a comparison (``<``↔``<=``, ``>``↔``>=``) — in a scratch
copy of the package, then runs the estimator tests against the copy
(``PYTHONPATH`` ahead of the editable install, ``-x``: the first failure kills
the mutant). A mutant that survives is printed with its location, to be
judged by hand (an equivalent mutant, or a gap in the tests). Docstrings,
constants in messages and ``__all__`` are not mutated.

Run: python tests/mutate_estimate.py [--every N] [--limit N] [--module flops.py ...]
(``--every 7`` takes every 7th candidate site of each module; the default keeps a run to minutes).
Results of the last run are in docs/testing.md.
"""

from __future__ import annotations

import argparse
import ast
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TESTS = ["tests/test_estimate.py", "tests/test_kv.py", "tests/test_training.py", "tests/test_memory.py", "tests/test_flops.py",
         "tests/test_params.py"]  # fmt: skip
SWAPS = {ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.FloorDiv, ast.FloorDiv: ast.Mult,
         ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE, ast.GtE: ast.Gt}  # fmt: skip


def sites(tree: ast.AST) -> list[tuple[ast.AST, str]]:
    """Every mutable node with a label, in source order (docstrings and string constants are skipped)."""
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.BinOp) and type(node.op) in SWAPS:
            out.append((node, f"{type(node.op).__name__}→{SWAPS[type(node.op)].__name__}"))
        elif isinstance(node, ast.Compare) and len(node.ops) == 1 and type(node.ops[0]) in SWAPS:
            out.append((node, f"{type(node.ops[0]).__name__}→{SWAPS[type(node.ops[0])].__name__}"))
        elif isinstance(node, ast.Constant) and type(node.value) is int and not isinstance(node.value, bool):
            out.append((node, f"{node.value}→{node.value + 1}"))
    return sorted(out, key=lambda s: (s[0].lineno, s[0].col_offset))


def mutate(source: str, index: int) -> tuple[str, str, int]:
    tree = ast.parse(source)
    node, label = sites(tree)[index]
    if isinstance(node, ast.BinOp):
        node.op = SWAPS[type(node.op)]()
    elif isinstance(node, ast.Compare):
        node.ops = [SWAPS[type(node.ops[0])]()]
    else:
        node.value = node.value + 1
    return ast.unparse(tree), label, node.lineno


def copy_tree(dest: Path) -> Path:
    package = dest / "lmscope"
    ignore = shutil.ignore_patterns("__pycache__")
    shutil.copytree(ROOT / "cli", package, ignore=ignore)
    shutil.copytree(ROOT / "core", package / "core", ignore=ignore)
    shutil.copytree(ROOT / "tui", package / "tui", ignore=ignore)
    return package


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--every", type=int, default=7, help="take every Nth candidate site of each module")
    parser.add_argument("--limit", type=int, default=0, help="stop after N mutants (0: no limit)")
    parser.add_argument("--module", action="append", help="only these files of core/estimate")
    args = parser.parse_args()
    modules = sorted(p.name for p in (ROOT / "core" / "estimate").glob("*.py"))
    if args.module:
        modules = [m for m in modules if m in args.module]
    killed, survived, done = 0, [], 0
    with tempfile.TemporaryDirectory(prefix="lmscope-mutants-") as tmp:
        package = copy_tree(Path(tmp))
        env = {**os.environ, "PYTHONPATH": tmp, "LMSCOPE_NO_EXACT": "1", "HF_HUB_OFFLINE": "1", "PYTHONDONTWRITEBYTECODE": "1"}
        for module in modules:
            target = package / "core" / "estimate" / module
            original = target.read_text()
            candidates = sites(ast.parse(original))
            for index in range(0, len(candidates), args.every):
                mutated, label, line = mutate(original, index)
                target.write_text(mutated)
                proc = subprocess.run(
                    [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", "-m", "not slow", *TESTS],
                    cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800,
                )  # fmt: skip
                target.write_text(original)
                done += 1
                where = f"core/estimate/{module}:{line} {label}"
                if proc.returncode == 0:
                    survived.append(where)
                    print(f"SURVIVED {where}", flush=True)
                else:
                    killed += 1
                    print(f"killed   {where}", flush=True)
                if args.limit and done >= args.limit:
                    break
            if args.limit and done >= args.limit:
                break
    print(f"\n{done} mutants: {killed} killed, {len(survived)} survived")
    for where in survived:
        print(f"  survived: {where}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
