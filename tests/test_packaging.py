"""Packaging and import-weight guarantees.

`import lmscope.core` is on the start-up path of every command and of the TUI,
so it must stay light: no textual, torch, transformers or huggingface_hub.
Checked in a fresh interpreter, since this test process imports them all.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("textual", "torch", "transformers", "huggingface_hub", "matplotlib")


def _modules_after(statement: str) -> set[str]:
    code = f"import sys, json; {statement}; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd="/")
    return {name.split(".")[0] for name in json.loads(out.stdout)}


def test_core_import_is_light() -> None:
    loaded = _modules_after("import lmscope.core")
    assert not (loaded & set(HEAVY)), f"lmscope.core pulled in {sorted(loaded & set(HEAVY))}"


def test_every_core_module_import_is_light() -> None:
    names = []
    for path in sorted((ROOT / "core").rglob("*.py")):
        rel = path.relative_to(ROOT / "core").with_suffix("")
        parts = [p for p in rel.parts if p != "__init__"]
        names.append(".".join(["lmscope", "core", *parts]))
    statement = "; ".join(f"import {n}" for n in names)
    loaded = _modules_after(statement)
    assert not (loaded & set(HEAVY)), f"a core module pulled in {sorted(loaded & set(HEAVY))}"


def test_cli_help_is_light() -> None:
    loaded = _modules_after("import lmscope.main")
    assert not (loaded & set(HEAVY))


def test_every_package_folder_is_listed_in_pyproject() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    listed = set(config["tool"]["setuptools"]["packages"])
    mapping = config["tool"]["setuptools"]["package-dir"]
    found = set()
    for name, folder in mapping.items():
        for init in (ROOT / folder).rglob("__init__.py"):
            rel = init.parent.relative_to(ROOT / folder)
            found.add(".".join([name, *rel.parts]))
    assert found <= listed, f"package folders missing from pyproject packages: {sorted(found - listed)}"


def test_the_type_checker_reads_each_package_under_its_import_name() -> None:
    """mypy cannot read setuptools' package-dir: .typecheck/lmscope/ links every mapped folder under its
    import name, and mypy checks core/ and tui/ through those links (else each `from lmscope.core… import X`
    is an unresolved import, silently Any)."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    for name, folder in config["tool"]["setuptools"]["package-dir"].items():
        link = ROOT / ".typecheck" / Path(*name.split("."))
        if name == "lmscope":  # the top package: only its __init__ (its other modules are the CLI's)
            assert (link / "__init__.py").resolve() == (ROOT / folder / "__init__.py").resolve()
        else:
            assert link.resolve() == (ROOT / folder).resolve(), name
    assert config["tool"]["mypy"]["files"] == [".typecheck/lmscope/core", ".typecheck/lmscope/tui"]


def test_ci_runs_exactly_the_readme_test_command():
    """`.ci/run` must run the README's test command verbatim, so a newcomer gets what CI gets."""
    root = Path(__file__).resolve().parent.parent
    readme = (root / "README.md").read_text(encoding="utf-8")
    ci = (root / ".ci" / "run").read_text(encoding="utf-8")
    commands = [line for line in readme.splitlines() if line.startswith("pip install") and "pytest" in line]
    assert len(commands) == 1, commands
    command = commands[0].strip()
    assert command.startswith("pip install torch==2.13.0 && ")
    assert command in [line.strip() for line in ci.splitlines()]


def _run_ci_with_stub_pytest(tmp_path: Path, *, exit_code: int, tests: int | None,
                             lint: dict[str, int] | None = None) -> subprocess.CompletedProcess:
    """Run `.ci/run` with `pip`, `python -m pytest`, `-m ruff` and `-m mypy` replaced by stubs on PATH.

    The stub pytest exits with ``exit_code`` and writes a JUnit report of ``tests``
    tests where PYTEST_ADDOPTS asks for one (``tests=None``: it writes none); the
    ruff and mypy stubs exit with ``lint[name]`` (default 0). Any other ``python``
    call goes to the real interpreter.
    """
    lint = {"ruff": 0, "mypy": 0, **(lint or {})}
    import os
    import stat

    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(parents=True)
    junit = "" if tests is None else f'<testsuites><testsuite name="pytest" tests="{tests}"/></testsuites>'
    (bin_dir / "pip").write_text("#!/bin/sh\nexit 0\n")
    (bin_dir / "python").write_text(
        "#!/bin/sh\n"
        'if [ "$1" = "-m" ] && [ "$2" = "pytest" ]; then\n'
        '  for opt in $PYTEST_ADDOPTS; do case "$opt" in --junitxml=*) '
        + (f"printf '%s' '{junit}' > \"${{opt#--junitxml=}}\";;" if junit else ":;;")
        + " esac; done\n"
        f"  exit {exit_code}\n"
        "fi\n"
        f'if [ "$1" = "-m" ] && [ "$2" = "ruff" ]; then exit {lint["ruff"]}; fi\n'
        f'if [ "$1" = "-m" ] && [ "$2" = "mypy" ]; then exit {lint["mypy"]}; fi\n'
        f'exec "{sys.executable}" "$@"\n'
    )
    for stub in bin_dir.iterdir():
        stub.chmod(stub.stat().st_mode | stat.S_IEXEC)
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    env.pop("PYTEST_ADDOPTS", None)
    return subprocess.run(["bash", str(ROOT / ".ci" / "run")], capture_output=True, text=True, env=env, timeout=60)


def _ci_floor() -> int:
    import re

    return int(re.search(r"^MIN_TESTS=(\d+)$", (ROOT / ".ci" / "run").read_text(), re.M).group(1))


def test_ci_fails_when_pytest_collects_nothing(tmp_path):
    proc = _run_ci_with_stub_pytest(tmp_path, exit_code=5, tests=0)
    assert proc.returncode != 0
    assert "collected no tests" in proc.stdout


def test_ci_fails_below_the_test_count_floor(tmp_path):
    proc = _run_ci_with_stub_pytest(tmp_path, exit_code=0, tests=_ci_floor() - 1)
    assert proc.returncode != 0
    assert "fewer than the floor" in proc.stdout


def test_ci_fails_without_a_test_count(tmp_path):
    proc = _run_ci_with_stub_pytest(tmp_path, exit_code=0, tests=None)
    assert proc.returncode != 0
    assert "no JUnit report" in proc.stdout


def test_ci_passes_a_full_green_run_and_fails_a_red_one(tmp_path):
    proc = _run_ci_with_stub_pytest(tmp_path / "green", exit_code=0, tests=_ci_floor())
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"{_ci_floor()} tests ran" in proc.stdout
    proc = _run_ci_with_stub_pytest(tmp_path / "red", exit_code=1, tests=_ci_floor())
    assert proc.returncode == 1


@pytest.mark.parametrize("tool", ["ruff", "mypy"])
def test_ci_fails_when_lint_or_types_fail(tmp_path, tool):
    proc = _run_ci_with_stub_pytest(tmp_path, exit_code=0, tests=_ci_floor(), lint={tool: 1})
    assert proc.returncode != 0
    assert f"CI FAILED: {tool}" in proc.stdout


def test_ci_floor_is_close_below_the_collected_count():
    """A floor above the real count fails every run; far below it, it misses a dropped file.

    Half the collected count is the loosest the floor may get before it stops meaning
    anything (other work adds tests all the time, so this does not chase the count).
    """
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", str(ROOT / "tests")],
        capture_output=True, text=True, cwd=ROOT, timeout=600,
    )  # fmt: skip
    collected = sum(1 for line in proc.stdout.splitlines() if "::" in line)
    assert collected / 2 <= _ci_floor() <= collected, (collected, _ci_floor())
