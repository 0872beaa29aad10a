"""Speeds the test suite used to assert, measured here instead (tests assert no durations).

Three figures, each printed beside a baseline measured in the same run (the
machines these run on are shared, so absolute timings wander; the ratio does not):

- ``count_parameters`` on DeepSeek-V3 (61 layers, 256 experts) per call — the old
  test asked for under 2 ms; baseline ``json.dumps`` of its config.json.
- ``load_catalog_entry`` median over every catalog entry — the old test asked for
  a median under 5 ms; baseline reading and ``json.loads`` of the entry's config.json.
- a fresh (uncached) exact meta-device count of DeepSeek-V3 — the old test asked
  for under 15 s; baseline ``import torch, transformers`` is paid before timing and
  reported on its own line.

Run: python benchmarks/bench_core.py [--repeat N]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ROOT / "tests" / "fixtures" / "configs"


def _median(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=200)
    args = parser.parse_args()

    from lmscope.core.params import count_parameters
    from lmscope.core.parse import architecture_from_config
    from lmscope.core.sources.catalog import CATALOG_DIR, list_catalog, load_catalog_entry

    config = json.loads((CONFIGS / "deepseek-ai--DeepSeek-V3" / "config.json").read_text())
    arch = architecture_from_config(config)
    count = _median(lambda: count_parameters(arch), args.repeat)
    base = _median(lambda: json.dumps(config), args.repeat)
    print(f"count_parameters(DeepSeek-V3): {count * 1e6:9.1f} us per call; json.dumps(config) {base * 1e6:7.1f} us ({count / base:.1f} x)")

    ids = [e.model_id for e in list_catalog()]
    load_catalog_entry(ids[0])  # warm the folder index
    loads, reads = [], []
    for model_id in ids:
        loads.append(_median(lambda m=model_id: load_catalog_entry(m), 5))
        path = CATALOG_DIR / model_id.replace("/", "--") / "config.json"
        reads.append(_median(lambda p=path: json.loads(p.read_text()) if p.exists() else None, 5))
    load_med, read_med = statistics.median(loads), statistics.median(reads)
    print(f"load_catalog_entry median over {len(ids)} entries: {load_med * 1e3:7.3f} ms; read+parse config.json {read_med * 1e3:7.3f} ms ({load_med / read_med:.1f} x)")

    t0 = time.perf_counter()
    import torch  # noqa: F401
    import transformers  # noqa: F401

    imports = time.perf_counter() - t0
    from lmscope.core import exact

    config["_lmscope_bench_nonce"] = time.time()  # a fresh cache key: really instantiate
    t0 = time.perf_counter()
    got = exact.exact_parameters(config)
    fresh = time.perf_counter() - t0
    print(f"exact count of DeepSeek-V3, uncached: {fresh:6.2f} s (total {got.total:,}); import torch+transformers {imports:6.2f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
