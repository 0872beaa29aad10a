"""How long `lmscope report` takes on a local config, against a baseline measured in the same run.

Target: `lmscope report <local config dir>` under 1 s wall. The exact engine's
first run imports torch/transformers and instantiates the class on the meta
device; after that its result is cached (LMSCOPE_CACHE_DIR), so the second
run is what a user sees from then on.

Baseline: a bare `python -c pass` (interpreter start-up), so the ratios say how
much lmscope adds on this machine regardless of its speed.

Run: python benchmarks/bench_report.py [--repeat N]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "tests" / "fixtures" / "configs" / "meta-llama--Llama-3.1-8B"


def wall(cmd: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"command failed ({proc.returncode}): {' '.join(cmd)}\n{proc.stderr}")
    return elapsed


def median_wall(cmd: list[str], env: dict[str, str], repeat: int) -> float:
    return statistics.median(wall(cmd, env) for _ in range(repeat))


def in_process(repeat: int) -> tuple[float, float]:
    """(median seconds to load a catalog entry, median seconds for build_report analytic) in this process."""
    from lmscope.core.report import build_report
    from lmscope.core.results import Settings
    from lmscope.core.sources.catalog import load_catalog_entry

    source = load_catalog_entry("meta-llama/Llama-3.1-8B")
    build_report(source, Settings(), exact=False)  # warm imports
    loads, builds = [], []
    for _ in range(repeat * 10):
        t0 = time.perf_counter()
        source = load_catalog_entry("meta-llama/Llama-3.1-8B")
        t1 = time.perf_counter()
        build_report(source, Settings(), exact=False)
        t2 = time.perf_counter()
        loads.append(t1 - t0)
        builds.append(t2 - t1)
    return statistics.median(loads), statistics.median(builds)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        model = Path(tmp) / "llama-3.1-8b"
        shutil.copytree(CONFIG, model)
        env = dict(os.environ, HF_HUB_OFFLINE="1", HF_HOME=str(Path(tmp) / "hf"), LMSCOPE_CACHE_DIR=str(Path(tmp) / "cache"))
        py = sys.executable
        base = median_wall([py, "-c", "pass"], env, args.repeat)
        report = [py, "-m", "lmscope", "report", str(model), "--format", "json"]
        analytic = median_wall([*report, "--no-exact"], env, args.repeat)
        exact_first = wall(report, env)  # empty exact cache: imports torch + transformers
        exact_cached = median_wall(report, env, args.repeat)
        text = median_wall([py, "-m", "lmscope", "report", str(model), "--no-exact", "--detailed"], env, args.repeat)
    load_s, build_s = in_process(args.repeat)
    rows = [
        ("python -c pass (baseline)", base),
        ("report --no-exact --format json", analytic),
        ("report --no-exact --detailed (text)", text),
        ("report --format json, exact, first run", exact_first),
        ("report --format json, exact, cached", exact_cached),
    ]
    print(f"{'command':42s} {'wall s':>8s} {'× baseline':>11s}")
    for name, seconds in rows:
        print(f"{name:42s} {seconds:8.3f} {seconds / base:11.1f}")
    print(f"in process: load_catalog_entry {load_s * 1e3:.3f} ms, build_report (analytic) {build_s * 1e3:.3f} ms")
    ok = analytic < 1.0 and exact_cached < 1.0
    print("target (< 1 s wall for a local config, exact cached):", "met" if ok else "NOT met")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
