"""Write the README's pictures (docs/img/) with the app itself, from built-in catalog models.

Runs ``lmscope report MODEL --visualize detailed --output-dir TMP`` offline
(analytic engine, so no torch is needed and the output is the same on every
machine) and copies the diagram and the memory chart. Needs the ``plots``
extra (matplotlib). Run from anywhere:

    python screenshots/make_pictures.py [--out DIR]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# (catalog model, files to keep from its report folder, prefix of the copies)
PICTURES = (
    ("Qwen/Qwen3-Next-80B-A3B-Thinking", ("architecture_detailed.svg", "architecture_detailed.png"), "qwen3-next-"),
    ("google/gemma-3-4b-it", ("memory.svg", "memory.png"), "gemma-3-4b-"),
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "docs" / "img"))
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, HF_HUB_OFFLINE="1", LMSCOPE_NO_EXACT="1")
    with tempfile.TemporaryDirectory() as tmp:
        env["HF_HOME"] = str(Path(tmp) / "hf_home")  # an empty cache: the catalog answers
        for model, names, prefix in PICTURES:
            folder = Path(tmp) / prefix
            cmd = [sys.executable, "-m", "lmscope", "report", model, "--offline", "--visualize", "detailed", "--output-dir", str(folder), "--quiet"]
            subprocess.run(cmd, check=True, env=env)
            for name in names:
                shutil.copyfile(folder / name, out / (prefix + name))
                print(out / (prefix + name))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
