"""Benchmark: `lmscope weights --ray` on a local Ray cluster against the local engine, same run.

What it can show on this machine, and what it cannot: the Ray executor's value is
many shards analysed at once on many machines; here there is one machine with 2
cores shared with other jobs. So this prints, for a seeded sharded checkpoint of
trained-like matrices (low-rank signal plus noise, bf16):

* the local engine in process (BLAS on every core for large matrices);
* a local Ray cluster with 1 and with 2 CPUs (one task per shard, one CPU and one
  BLAS thread per task — Ray sets ``OMP_NUM_THREADS`` to the task's CPUs), its
  start-up (``ray.init``) timed apart from the analysis;
* the ratios against the local run, and whether every record (timings aside)
  equals the local run's.

With 2 cores, Ray on 2 CPUs can at best match the local run (both use both
cores); the 1 → 2 CPU ratio is the scaling the shards show when they have
cores to go to, and the start-up plus per-task overhead is what a cluster run
pays once. Nothing here can show scaling past 2 cores.

Usage: ``python benchmarks/bench_ray.py [--shards N] [--side K] [--repeat N]``
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from bench_spectra import _median  # same folder: the scripts run from benchmarks/


def make_checkpoint(folder: Path, shards: int, side: int, seed: int = 0) -> int:
    """``shards`` safetensors files of three trained-like bf16 matrices each (side×side, side×2.75side,
    2.75side×side), plus the index; returns the number of tensors."""
    import torch
    from safetensors.torch import save_file

    rng = np.random.default_rng(seed)
    weight_map: dict[str, str] = {}
    count = 0
    for s in range(shards):
        tensors = {}
        for name, (m, n) in {"q_proj": (side, side), "up_proj": (int(2.75 * side), side),
                             "down_proj": (side, int(2.75 * side))}.items():
            r = max(8, side // 16)  # low-rank signal with decaying strengths, plus a noise bulk
            u, v = rng.standard_normal((m, r)), rng.standard_normal((r, n))
            w = (u * (3.0 / np.arange(1, r + 1))) @ v / np.sqrt(n) + 0.02 * rng.standard_normal((m, n))
            tensors[f"model.layers.{s}.{name}.weight"] = torch.from_numpy(w.astype(np.float32)).to(torch.bfloat16)
        file = f"model-{s + 1:05d}-of-{shards:05d}.safetensors"
        save_file(tensors, str(folder / file))
        weight_map.update({k: file for k in tensors})
        count += len(tensors)
    (folder / "model.safetensors.index.json").write_text(json.dumps({"metadata": {}, "weight_map": weight_map}))
    return count


def _records(events: list) -> list[dict]:  # type: ignore[type-arg]
    from lmscope.core.weights import report

    rows = [e.result for e in events if e.result]
    return [{k: v for k, v in r.to_dict().items() if k not in ("seconds", "device")} for r in report.ordered(rows)]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shards", type=int, default=4)
    ap.add_argument("--side", type=int, default=1024)
    ap.add_argument("--repeat", type=int, default=1)
    args = ap.parse_args()
    try:
        import ray
    except ImportError:
        print("ray is not importable: pip install 'lmscope[ray]'")
        return 1
    from lmscope.core.weights import WeightsOptions, analyze_weights, distributed

    print(f"cpus {os.cpu_count()}, load average {os.getloadavg()}")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        n = make_checkpoint(folder, args.shards, args.side)
        opts = dict(device="cpu", embeddings=False)
        list(analyze_weights(folder, WeightsOptions(**opts)))  # warm-up: page cache, imports
        dt_local, events = _median(lambda: list(analyze_weights(folder, WeightsOptions(**opts))), args.repeat)
        local = _records(events)  # type: ignore[arg-type]
        print(f"{args.shards} shards, {n} trained-like bf16 matrices (side {args.side}): local engine {dt_local:.2f} s")
        for cpus in (1, 2):
            t = time.perf_counter()
            distributed.connect("local", num_cpus=cpus)
            dt_init = time.perf_counter() - t
            list(analyze_weights(folder, WeightsOptions(ray="local", **opts)))  # warm-up: worker processes
            dt_ray, ev = _median(lambda: list(analyze_weights(folder, WeightsOptions(ray="local", **opts))), args.repeat)
            same = _records(ev) == local  # type: ignore[arg-type]
            print(f"  Ray, local cluster of {cpus} CPU(s): start-up {dt_init:.2f} s (once), analysis {dt_ray:.2f} s "
                  f"= {dt_local / dt_ray:.2f}x the local engine; records equal the local run's: {same}")
            ray.shutdown()
    print(f"load average {os.getloadavg()}; 2 shared cores: Ray can at best match the local run here "
          "(see the module docstring for what this can and cannot show)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
