"""The suite turns red when lmscope is broken (issue 18's "done when").

A scratch copy of the package tree gets a deliberately broken import (in the
FLOP estimator, which every report needs, and in the ``weights`` command,
which the CLI parser imports), and a handful of tests that exercise those
paths run against the copy in a fresh interpreter (``PYTHONPATH`` puts the copy
ahead of the editable install). They must fail or error — never skip and never
pass. The same tests against an unbroken copy pass, so the red comes from the
break and not from the harness.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BREAK = "import lmscope_deliberately_missing_module  # noqa: F401  (tests/test_suite_can_fail.py)\n"
# each exercises one of the broken modules: a report (flops), an export (flops), the weights command
SELECTED = [
    "tests/test_cli.py::test_report_json_on_local_config_dir",
    "tests/test_export.py::test_json_round_trips_to_dict",
    "tests/test_report.py::test_settings_are_echoed",
    "tests/test_weights_cli.py::test_device_cuda_without_gpu",
]


def _copy_tree(dest: Path, broken: tuple[str, ...]) -> Path:
    """lmscope laid out as an importable folder (pyproject's package-dir: cli→lmscope, core, tui inside)."""
    package = dest / "lmscope"
    ignore = shutil.ignore_patterns("__pycache__")
    shutil.copytree(ROOT / "cli", package, ignore=ignore)
    shutil.copytree(ROOT / "core", package / "core", ignore=ignore)
    shutil.copytree(ROOT / "tui", package / "tui", ignore=ignore)
    for rel in broken:
        path = package / rel
        text = path.read_text()
        head, sep, rest = text.partition("from __future__ import annotations\n")
        path.write_text(head + sep + BREAK + rest if sep else BREAK + text)
    return dest


def _run_selected(copy: Path) -> tuple[int, dict[str, int], str]:
    env = {**os.environ, "PYTHONPATH": str(copy), "LMSCOPE_NO_EXACT": "1", "HF_HUB_OFFLINE": "1"}
    code = "import lmscope, sys; assert lmscope.__file__.startswith(sys.argv[1]), lmscope.__file__"
    subprocess.run([sys.executable, "-c", code, str(copy)], env=env, check=True, capture_output=True, timeout=120)
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly", "-o", "addopts=", *SELECTED],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    summary = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else ""
    counts = {word: int(n) for n, word in re.findall(r"(\d+) (passed|failed|skipped|errors?|xfailed|xpassed)", summary)}
    return proc.returncode, counts, proc.stdout[-3000:] + proc.stderr[-2000:]


@pytest.mark.slow  # two pytest runs in fresh interpreters (~1 min)
def test_broken_imports_turn_the_suite_red(tmp_path):
    rc, counts, out = _run_selected(_copy_tree(tmp_path / "good", ()))
    assert rc == 0 and counts.get("passed") == len(SELECTED), out  # the harness itself is sound

    rc, counts, out = _run_selected(_copy_tree(tmp_path / "bad", ("core/estimate/flops.py", "commands/weights.py")))
    red = counts.get("failed", 0) + counts.get("error", 0) + counts.get("errors", 0)
    assert rc != 0, out
    assert counts.get("skipped", 0) == 0 and counts.get("passed", 0) == 0, out
    assert red == len(SELECTED), out
