"""Spectra accuracy against float64 ``numpy.linalg.svd`` (the oracle), plus the rank/energy rules.

Contract (core/weights/spectra.py): every σᵢ within tol·σᵢ + abs_floor(tol)·σ_max
of the oracle — 1e-6·σᵢ + 1e-12·σ_max at the default tolerance, 1e-10·σᵢ +
1e-14·σ_max in strict mode; both are checked on every case.
"""

from __future__ import annotations

import zlib

import numpy as np
import pytest

from lmscope.core.weights import spectra
from lmscope.core.weights.engine import spectrum_stats
from lmscope.core.weights.spectra import row_chunks, singular_values, singular_values_of

RNG = np.random.default_rng(1234)


def _orth(n: int, rng: np.random.Generator) -> np.ndarray:
    return np.linalg.qr(rng.standard_normal((n, n)))[0]


def _with_spectrum(m: int, n: int, sigma: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    k = min(m, n)
    u = _orth(m, rng)[:, :k]
    v = _orth(n, rng)[:, :k]
    return (u * sigma) @ v.T


def _contract_violation(ours: np.ndarray, ref: np.ndarray, tol: float = spectra.STRICT_TOL) -> float:
    """max |Δσ| / (tol·σ + floor·σ_max), written out independently of spectra.contract_violation: ≤ 1 holds."""
    smax = ref[0] if ref.size and ref[0] > 0 else 1.0
    floor = 1e-12 if tol == spectra.DEFAULT_TOL else 1e-14
    return float(np.max(np.abs(ours - ref) / (tol * ref + floor * smax)))


TOLS = (spectra.DEFAULT_TOL, spectra.STRICT_TOL)


@pytest.fixture(autouse=True, params=["numpy", "scipy"])
def route(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Every test runs on both CPU routes: numpy (k < SCIPY_MIN_K, the default for these small
    matrices) and scipy's dsyrk / dsytrd / partial-eigenvector route (forced with SCIPY_MIN_K = 0)."""
    if request.param == "scipy":
        monkeypatch.setattr(spectra, "SCIPY_MIN_K", 0)
    return str(request.param)


def test_each_route_is_the_one_asked_for(route: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The Gram is accumulated by scipy's in-place dsyrk on the scipy route (in calls of a bounded
    size, since the wrapper holds the GIL), by numpy's matmul otherwise; both give the same Gram."""
    from scipy.linalg import blas

    calls: list[int] = []
    real = blas.dsyrk

    def counting(alpha, a, **kw):  # type: ignore[no-untyped-def]
        calls.append(a.shape[1])  # rows of the chunk (a is its transpose)
        return real(alpha, a, **kw)

    monkeypatch.setattr(blas, "dsyrk", counting)
    monkeypatch.setattr(spectra, "GRAM_CALL_FLOPS", 100 * 16 * 16)  # 100 rows of a 16-wide matrix per call
    monkeypatch.setattr(spectra, "GRAM_MIN_ROWS", 1)
    w = np.random.default_rng(3).standard_normal((1000, 16))
    g = spectra.gram(row_chunks(w), 16)
    assert np.allclose(g, w.T @ w, rtol=1e-12, atol=1e-9) and np.array_equal(g, g.T)
    assert calls == ([100] * 10 if route == "scipy" else [])
    eig = spectra._SymmetricEigen(np.eye(5) * 2.0)
    assert np.allclose(eig.smallest_vectors(2).T @ eig.smallest_vectors(2), np.eye(2))


def test_small_matrices_do_not_import_scipy(route: str) -> None:
    """Importing scipy.linalg costs more CPU than a small model's whole analysis: below
    SCIPY_MIN_K the spectra (Gram, refinement and direct SVD) must stay on numpy."""
    import subprocess
    import sys

    code = (
        "import sys, numpy as np\n"
        "from lmscope.core.weights.spectra import singular_values_of\n"
        "rng = np.random.default_rng(0)\n"
        "singular_values_of(rng.standard_normal((300, 200)))\n"
        "singular_values_of(rng.standard_normal((300, 5)) @ rng.standard_normal((5, 200)))\n"  # refine/svd
        "print('scipy' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


CASES = {
    "gaussian-square-f32": lambda r: r.standard_normal((300, 300)).astype(np.float32),
    "gaussian-tall-f32": lambda r: r.standard_normal((500, 180)).astype(np.float32),
    "gaussian-wide-f32": lambda r: r.standard_normal((120, 400)).astype(np.float32),
    "heavy-tailed": lambda r: r.standard_t(2.5, (350, 260)).astype(np.float32),
    "real-like-bf16-rounded": lambda r: _bf16_round(0.02 * r.standard_normal((384, 256)) + 0.3 * np.outer(r.standard_normal(384), r.standard_normal(256)) / 16),
    "rank-deficient": lambda r: (r.standard_normal((200, 12)) @ r.standard_normal((12, 150))).astype(np.float32),
    "rank-deficient-float64": lambda r: r.standard_normal((90, 7)) @ r.standard_normal((7, 140)),
    "ill-conditioned-1e6": lambda r: _with_spectrum(220, 160, np.logspace(0, -6, 160), r),
    "ill-conditioned-1e12": lambda r: _with_spectrum(160, 160, np.logspace(0, -12, 160), r),
    "few-tiny-values": lambda r: _with_spectrum(260, 200, np.concatenate([np.linspace(1, 0.5, 190), np.logspace(-4, -9, 10)]), r),
    "clustered-near-cut": lambda r: _with_spectrum(300, 200, np.concatenate([np.ones(100), 0.03 * np.ones(60), 0.01 * np.ones(40)]), r),
    "zero-matrix": lambda r: np.zeros((20, 30)),
    "single-row": lambda r: r.standard_normal((1, 50)),
    "one-by-one": lambda r: np.array([[3.5]]),
}


def _bf16_round(x: np.ndarray) -> np.ndarray:
    bits = x.astype(np.float32).view(np.uint32)
    return ((bits + 0x8000) & 0xFFFF0000).view(np.float32)


@pytest.mark.parametrize("tol", TOLS)
@pytest.mark.parametrize("name", sorted(CASES))
def test_singular_values_match_float64_svd(name: str, tol: float) -> None:
    w = CASES[name](np.random.default_rng(zlib.crc32(name.encode())))
    ref = np.linalg.svd(w.astype(np.float64), compute_uv=False)
    got = singular_values_of(w, tol=tol)
    assert got.values.shape == ref.shape
    assert np.all(np.diff(got.values) <= 0), "descending"
    assert _contract_violation(got.values, ref, tol) <= 1.0, got.method
    assert spectra.contract_violation(got.values, ref, tol) == pytest.approx(_contract_violation(got.values, ref, tol))


def _trained_like(m: int, n: int, rank: int, noise: float, rng: np.random.Generator) -> np.ndarray:
    """Low-rank signal with decaying strengths plus Gaussian noise, rounded to bf16 (what trained weights look like)."""
    signal = (rng.standard_normal((m, rank)) * np.geomspace(1.0, 0.05, rank)) @ rng.standard_normal((rank, n)) / np.sqrt(n)
    return _bf16_round(signal + noise * rng.standard_normal((m, n)))


@pytest.mark.parametrize("shape", [(512, 512), (384, 1024), (1024, 256)])
def test_trained_like_matrices_take_the_gram_route_at_default_tolerance(shape: tuple[int, int]) -> None:
    """The point of the 1e-6 default: signal-plus-noise spectra are not sent to the direct SVD, and stay in contract."""
    w = _trained_like(*shape, rank=24, noise=0.02, rng=np.random.default_rng(sum(shape)))
    ref = np.linalg.svd(w.astype(np.float64), compute_uv=False)
    got = singular_values_of(w)
    assert got.method in ("gram", "gram+refine")
    assert got.refined < 0.4 * min(shape)
    assert _contract_violation(got.values, ref, spectra.DEFAULT_TOL) <= 1.0
    strict = singular_values_of(w, tol=spectra.STRICT_TOL)
    assert _contract_violation(strict.values, ref, spectra.STRICT_TOL) <= 1.0


def test_elementwise_relative_where_float64_svd_is_itself_accurate() -> None:
    # κ = 1e4: float64 SVD is elementwise accurate to ~1e-12, and so must we be (Gram alone would give ~1e-8).
    w = _with_spectrum(400, 300, np.logspace(0, -4, 300), np.random.default_rng(7))
    ref = np.linalg.svd(w, compute_uv=False)
    got = singular_values_of(w, tol=spectra.STRICT_TOL)
    assert got.method in ("gram+refine", "svd")
    assert np.max(np.abs(got.values - ref) / ref) < 1e-10
    default = singular_values_of(w)
    assert np.max(np.abs(default.values - ref) / ref) < 1e-6


def test_gram_route_used_when_well_conditioned() -> None:
    w = RNG.standard_normal((600, 150))
    got = singular_values_of(w)
    assert got.method == "gram"
    ref = np.linalg.svd(w, compute_uv=False)
    assert np.max(np.abs(got.values - ref) / ref) < 1e-12


def test_refine_route_refines_only_the_small_values() -> None:
    w = RNG.standard_normal((300, 300))  # square Gaussian: σ_min ≈ 0, a minority below the strict cut
    got = singular_values_of(w, tol=spectra.STRICT_TOL)
    assert got.method == "gram+refine"
    assert 0 < got.refined < 0.4 * 300
    # at the default tolerance: only values below ≈ 1e-3·σ_max are refined (here the 10 planted ones)
    tiny = _with_spectrum(260, 200, np.concatenate([np.linspace(1, 0.5, 190), np.logspace(-4, -9, 10)]), np.random.default_rng(3))
    got = singular_values_of(tiny)
    assert got.method == "gram+refine" and got.refined == 10


def test_direct_svd_when_too_many_values_need_refining() -> None:
    w = (RNG.standard_normal((100, 5)) @ RNG.standard_normal((5, 80)))
    assert singular_values_of(w).method == "svd"


def test_chunked_gram_equals_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    w = RNG.standard_normal((257, 33)).astype(np.float32)
    whole = spectra.gram(row_chunks(w, chunk_elements=10**9), 33)
    chunked = spectra.gram(row_chunks(w, chunk_elements=33 * 7), 33)
    np.testing.assert_allclose(chunked, whole, rtol=1e-13, atol=1e-12)
    got = singular_values(row_chunks(w, chunk_elements=33 * 5), (257, 33), tol=spectra.STRICT_TOL)
    ref = np.linalg.svd(w.astype(np.float64), compute_uv=False)
    assert _contract_violation(got.values, ref) <= 1.0


def test_refine_count_rule() -> None:
    lam = np.array([1e-20, 1e-6, 0.5, 1.0])
    # δ = 0.25·k·ε·λmax, a value is refined when δ/(2λ) > REFINE_MARGIN·tol
    delta = spectra.GRAM_ERROR_FACTOR * 4 * spectra.EPS64 * 1.0
    expected = int(np.sum(delta / (2 * lam) > spectra.REFINE_MARGIN * 1e-10))
    assert spectra.refine_count(lam, 4, 1e-10) == expected == 2
    # at the default 1e-6 only the 1e-20 value is below the cut
    assert spectra.refine_count(lam, 4) == 1


# ---------------------------------------------------------------- derived statistics
def _brute_energy_rank(s: np.ndarray, p: float) -> int:
    total = float(np.sum(s**2))
    acc = 0.0
    for i, v in enumerate(s, 1):
        acc += v * v
        if acc >= p * total - 1e-12 * total:
            return i
    return len(s)


@pytest.mark.parametrize("shape", [(64, 40), (40, 64), (50, 50)])
def test_spectrum_stats_against_definitions(shape: tuple[int, int]) -> None:
    rng = np.random.default_rng(sum(shape))
    w = rng.standard_normal(shape) * np.linspace(3, 0.01, shape[1])
    w = w.astype(np.float32).astype(np.float64)
    s = np.linalg.svd(w, compute_uv=False)
    st = spectrum_stats(s, *shape, method="test")
    m, n = shape
    assert st.design_rank == min(m, n)
    tol = s[0] * max(m, n) * np.finfo(np.float32).eps
    assert st.numerical_rank == np.linalg.matrix_rank(w, tol=tol)
    assert st.rank_90 == _brute_energy_rank(s, 0.90)
    assert st.rank_99 == _brute_energy_rank(s, 0.99)
    assert st.stable_rank == pytest.approx(np.linalg.norm(w, "fro") ** 2 / np.linalg.norm(w, 2) ** 2, rel=1e-12)
    assert st.spectral_norm == pytest.approx(np.linalg.norm(w, 2), rel=1e-12)
    assert st.condition_number == pytest.approx(np.linalg.cond(w), rel=1e-9)


def test_numerical_rank_of_low_rank_matrix_in_float32() -> None:
    w = (RNG.standard_normal((120, 9)) @ RNG.standard_normal((9, 100))).astype(np.float32)
    sv = singular_values_of(w)
    st = spectrum_stats(sv.values, 120, 100, sv.method)
    assert st.numerical_rank == 9
    assert st.rank_99 <= 9


def test_condition_number_is_inf_for_exact_zero_singular_value() -> None:
    st = spectrum_stats(np.array([2.0, 1.0, 0.0]), 3, 3, "test")
    assert st.condition_number == float("inf")
    zero = spectrum_stats(np.zeros(3), 3, 3, "test")
    assert zero.numerical_rank == 0 and zero.rank_90 == 0 and zero.stable_rank == 0.0


def test_numpy_fallback_without_scipy(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    for name in ("scipy", "scipy.linalg", "scipy.linalg.blas", "scipy.linalg.lapack"):
        monkeypatch.setitem(sys.modules, name, None)  # any import of them raises ImportError
    rng = np.random.default_rng(11)
    for w in (rng.standard_normal((200, 90)), rng.standard_normal((120, 120)), rng.standard_normal((60, 3)) @ rng.standard_normal((3, 50))):
        ref = np.linalg.svd(w, compute_uv=False)
        for tol in TOLS:
            got = singular_values_of(w, tol=tol)
            assert _contract_violation(got.values, ref, tol) <= 1.0, got.method


@pytest.mark.parametrize("shape", [(500, 300), (300, 300), (800, 200)])
def test_gram_eigenvalue_error_stays_inside_the_assumed_bound(shape: tuple[int, int]) -> None:
    """The refine rule assumes |λ̂ᵢ − σᵢ²| ≤ GRAM_ERROR_FACTOR·k·ε·λ_max; check it, with margin, on Gaussian and heavy-tailed data."""
    rng = np.random.default_rng(shape[0] + shape[1])
    for w in (rng.standard_normal(shape), rng.standard_t(2.5, shape)):
        k = min(shape)
        lam = np.linalg.eigvalsh(spectra.gram(row_chunks(w), k))
        ref = np.sort(np.linalg.svd(w, compute_uv=False) ** 2)
        bound = spectra.GRAM_ERROR_FACTOR * k * spectra.EPS64 * ref[-1]
        assert np.max(np.abs(lam - ref)) <= bound / 3


def test_refinement_is_foreseen_from_a_cholesky_test() -> None:
    """needs_refinement (Cholesky of G − s·I, s the cut for a power-iteration λ_max) agrees with the
    rule it anticipates — refine_count on the Gram's eigenvalues — away from the cut itself."""
    rng = np.random.default_rng(21)
    checked = 0
    for log_kappa in np.linspace(1.0, 9.0, 17):
        k = 120
        u = np.linalg.qr(rng.standard_normal((200, k)))[0]
        v = np.linalg.qr(rng.standard_normal((k, k)))[0]
        w = (u * np.logspace(0.0, -log_kappa / 2, k)) @ v.T
        g = spectra.gram(row_chunks(w), k)
        lam = np.linalg.eigvalsh(g)
        cut = spectra._refine_cut(float(lam[-1]), k, spectra.DEFAULT_TOL)
        if abs(lam[0] / cut - 1.0) < 0.1:
            continue  # at the cut the guess may go either way (only the order of the work depends on it)
        checked += 1
        assert spectra.needs_refinement(g, k) == (spectra.refine_count(np.maximum(lam, 0.0), k) > 0), log_kappa
    assert checked >= 15


def test_tridiagonal_route_without_the_gil_matches_numpy() -> None:
    """lapack_nogil (scipy's Cython LAPACK pointers through ctypes: dsytrd, dsterf, dstemr, dormtr)
    gives numpy's eigenvalues and orthonormal eigenvectors of the p smallest (oracle: numpy eigh)."""
    from lmscope.core.weights import lapack_nogil

    assert lapack_nogil.available()  # scipy is a dependency
    rng = np.random.default_rng(8)
    for k, p in ((1, 1), (7, 3), (150, 40)):
        a = rng.standard_normal((k + 5, k)) * np.logspace(0, -4, k)
        g = a.T @ a
        ref_values, ref_vectors = np.linalg.eigh(g)
        eig = lapack_nogil.TridiagonalEigen(g.copy())
        np.testing.assert_allclose(eig.values, ref_values, rtol=0, atol=1e-13 * ref_values[-1])
        v = eig.smallest_vectors(p)
        assert v.shape == (k, p) and np.allclose(v.T @ v, np.eye(p), atol=1e-12)
        residual = g @ v - v * eig.values[:p]
        assert np.abs(residual).max() <= 1e-12 * ref_values[-1]
