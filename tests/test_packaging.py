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

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("textual", "torch", "transformers", "huggingface_hub")


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
