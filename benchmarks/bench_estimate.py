"""How long one ``estimate()`` takes, against a baseline measured in the same run.

Target: the whole ``estimate(arch, settings, params)`` (weights at every dtype,
KV cache, state, activations, training, LoRA/QLoRA, FLOPs and intensities)
under 1 ms per model, so the TUI's sliders can recompute on every keystroke.

Baseline: one ``json.dumps`` of the same model's config.json — a small,
familiar unit of pure-Python work — so the ratio says how much an estimate
costs on this machine regardless of its speed (the machines these run on are
shared and their absolute timings wander).

For each fixture config: parse once and count parameters once (not timed),
then time ``estimate()`` and ``json.dumps(config)`` ``--repeat`` times each,
interleaved, and keep the medians. Prints the median over all configs, the
slowest config, and the ratio to the baseline.

Run: python benchmarks/bench_estimate.py [--repeat N] [--seq-len N] [--batch N]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ROOT / "tests" / "fixtures" / "configs"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=200)
    parser.add_argument("--seq-len", type=int, default=4096)
    parser.add_argument("--batch", type=int, default=1)
    args = parser.parse_args()

    from lmscope.core.estimate import estimate
    from lmscope.core.params import count_parameters
    from lmscope.core.parse import architecture_from_config
    from lmscope.core.results import Settings

    settings = Settings(seq_len=args.seq_len, batch=args.batch)
    rows: list[tuple[str, float, float]] = []
    for path in sorted(CONFIGS.glob("*/config.json")):
        config = json.loads(path.read_text())
        arch = architecture_from_config(config)
        params = count_parameters(arch)
        estimate(arch, settings, params)  # warm-up (first call fills the per-model memo)
        est_times: list[float] = []
        base_times: list[float] = []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            estimate(arch, settings, params)
            t1 = time.perf_counter()
            json.dumps(config)
            t2 = time.perf_counter()
            est_times.append(t1 - t0)
            base_times.append(t2 - t1)
        rows.append((path.parent.name, statistics.median(est_times), statistics.median(base_times)))

    est_median = statistics.median(r[1] for r in rows)
    base_median = statistics.median(r[2] for r in rows)
    slowest = max(rows, key=lambda r: r[1])
    print(f"configs: {len(rows)}  repeat: {args.repeat}  seq_len: {args.seq_len}  batch: {args.batch}")
    print(f"estimate() median over configs: {est_median * 1e6:8.1f} us")
    print(f"json.dumps(config) baseline:    {base_median * 1e6:8.1f} us")
    print(f"ratio estimate / baseline:      {est_median / base_median:8.1f} x")
    print(f"slowest: {slowest[0]} {slowest[1] * 1e6:.1f} us ({slowest[1] / slowest[2]:.1f} x its baseline)")
    print(f"target < 1000 us per estimate: {'met' if slowest[1] < 1e-3 else 'NOT met'} (slowest config)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
