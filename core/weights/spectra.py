"""Singular values of one weight matrix: fast, exact to float64 accuracy, bounded memory.

Why not just ``svd(W, compute_uv=False)``? LAPACK's bidiagonalisation is half
matrix-vector work and runs far below the machine's matrix-multiply speed; a
4096×11008 matrix takes tens of seconds on two cores. The Gram route — form
``G = AᵀA`` (A oriented so that G is the smaller side, k = min(m, n)) in
float64 with BLAS-3 and take its eigenvalues with a symmetric eigensolver — is
several times faster, and the Gram can be accumulated over row chunks, so the
float64 working set is one chunk plus a k×k matrix.

The price of the Gram route is that squaring squares the condition number: an
eigenvalue λᵢ of G is computed with an absolute error of about ``δ = c·ε·λ_max``
(ε = float64 epsilon), so σᵢ = √λᵢ carries a *relative* error of about
``δ / (2 λᵢ)`` — fine for the large singular values, hopeless for the ones
below ≈ 1e-8·σ_max. The rule used here, per matrix:

1. ``λ = eigvalsh(G)`` (clamped ≥ 0), ``δ = GRAM_ERROR_FACTOR · k · ε · λ_max``.
2. The values with ``δ / (2 λᵢ) ≤ REFINE_MARGIN · tol`` are kept (predicted
   relative error far below ``tol``, default 1e-6; see "Default accuracy").
3. The p others are *refined*: if p ≤ ``REFINE_FRACTION · k``, the p smallest
   eigenvectors of G (a subspace that is accurate because the kept eigenvalues
   are well separated from it; see :class:`_SymmetricEigen`) are taken, ``B = A·V_p`` is formed (m×p, chunked)
   and its singular values are computed directly (LAPACK gesdd). The error of
   those values is second order in the subspace error plus the rounding floor
   ``≈ ε·σ_max`` — the same floor a direct SVD of the whole matrix has.
4. If p is larger than that (a very ill-conditioned or strongly rank-deficient
   matrix) the Gram shortcut buys nothing: the whole matrix goes to a direct
   float64 SVD (``method="svd"``).

Accuracy contract (tested against float64 ``numpy.linalg.svd``): every σᵢ
within ``tol·σᵢ + abs_floor(tol)·σ_max`` — elementwise relative for the values
that matter, and within a tiny multiple of σ_max for the smallest, including
exact zeros of rank-deficient matrices.

Default accuracy, chosen from what the outputs need: ``tol = 1e-6`` (so every
σᵢ within 1e-6·σᵢ + 1e-12·σ_max). What is derived from σ and how much it needs:
the α fit uses the largest eigenvalues (relative 1e-6 moves α by ~1e-6, far
below its statistical error); stable rank and the energy ranks are sums
dominated by the large values (an absolute 1e-12·σ_max error cannot move a
90 %/99 % boundary except on exact ties); the numerical rank counts
σᵢ > σ_max·max(m, n)·ε₃₂ ≈ 1e-4..1e-3·σ_max, which a 1e-6 relative error can
only flip for a value within 1e-6 of that threshold; the condition number
σ_max/σ_min is relative in both, so it carries ≤ 2e-6 relative error. That is
still far beyond what a float32 SVD gives (≈1e-7·σ_max absolute, i.e. no
relative accuracy at all for the small values). ``tol = 1e-10`` (``--tol
1e-10``) is the strict mode: every σᵢ within 1e-10·σᵢ + 1e-14·σ_max.

Why the tolerance matters for speed: the Gram values are trusted down to
σᵢ ≈ √(δ / (2·0.1·tol)); at 1e-10 that is ≈ 0.1·σ_max for k = 4096, so the
noise bulk of a trained matrix is "refined" and more than 40 % of it sends
the whole matrix to LAPACK's SVD; at 1e-6 the cut is ≈ 1e-3·σ_max and only
the genuinely tiny values are refined.

Nothing is cropped or subsampled; bf16/fp16/fp8 inputs are upcast to float64
chunk by chunk before any arithmetic.

Why scipy only for the Gram, and only for k ≥ SCIPY_MIN_K: importing
``scipy.linalg`` costs 0.3–1 s of CPU (its array-API layer loads
``numpy.f2py``), more than all the spectra of a small model together
(all-MiniLM's largest k is 384). Below the threshold numpy's matmul does the
same work (``c.T @ c`` is a BLAS syrk, half the flops, like dsyrk); what
numpy lacks matters only for big k: dsyrk accumulating in place (numpy's
product needs one k×k temporary). No long-running call may hold the GIL:
scipy's f2py wrappers do (a scipy dsytrd or gesdd on a 4096-wide matrix held
it for seconds to minutes, during which the app could not quit and the CLI
could not answer Ctrl-C, although the engine runs in a daemon thread for
exactly that reason; see :mod:`.background`). So direct SVDs and, below
SCIPY_MIN_K, the eigen-work are numpy's, which releases it; from SCIPY_MIN_K
on, the eigenvalues and the p refinement vectors come from one tridiagonal
reduction called through scipy's Cython LAPACK pointers with ctypes, which
releases it too (:mod:`.lapack_nogil`). The one f2py call kept, dsyrk, is cut
into pieces of at most ``GRAM_CALL_FLOPS``. Both Gram routes meet the same
accuracy contract (the tests run each).
"""

from __future__ import annotations

import contextlib
import functools
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from lmscope.core.weights import lapack_nogil

EPS64 = float(np.finfo(np.float64).eps)
EPS32 = float(np.finfo(np.float32).eps)
DEFAULT_TOL = 1e-6  # every σ within 1e-6·σ + 1e-12·σ_max (see module docstring)
STRICT_TOL = 1e-10  # every σ within 1e-10·σ + 1e-14·σ_max
GRAM_ERROR_FACTOR = 0.25  # δ = factor · k · ε · λ_max; observed errors stay below k·ε·λ_max/25 (see tests)
REFINE_MARGIN = 0.1  # keep Gram values whose predicted error is 10× below tol
REFINE_FRACTION = 0.4  # refine at most this fraction of k, else direct SVD
ABS_FLOOR = 1e-14  # the smallest absolute floor (× σ_max) of the accuracy contract (strict mode)
SCIPY_MIN_K = 1024  # from this k on, scipy's in-place dsyrk (no k×k temporary) repays its import
GRAM_CALL_FLOPS = 1 << 33  # work per scipy dsyrk call, which holds the GIL: ~0.3 s on 2 cores (less slows the Gram)
GRAM_MIN_ROWS = 64  # but never fewer rows than this per call (a thinner update loses BLAS-3 speed)
SMALL_K = 768  # below this, one BLAS thread is faster than several (and immune to oversubscription)
CHUNK_ELEMENTS = 1 << 21  # rows per chunk are chosen so a float64 chunk is ~16 MiB

# A source of row chunks of the oriented matrix A (m×k, k = min side), float64.
ChunkSource = Callable[[], Iterator[np.ndarray]]


@dataclass(frozen=True)
class SingularValues:
    """Singular values (descending, float64) and how they were computed.

    ``method``: "gram" (all from the Gram eigenvalues), "gram+refine" (the
    ``refined`` smallest recomputed from the projected matrix), "svd" (direct
    float64 SVD), "cuda-gram"/"cuda-gram+refine"/"cuda-svd" for the GPU path.
    """

    values: np.ndarray
    method: str
    refined: int = 0


def abs_floor(tol: float) -> float:
    """The absolute part (× σ_max) of the accuracy contract at ``tol``: 1e-12 at 1e-6, 1e-14 at 1e-10.

    The refined values and a direct SVD are accurate to a few ε·σ_max whatever
    ``tol`` is; the floor only says what is promised, scaled with ``tol`` so a
    looser relative target does not claim more absolute accuracy than it needs.
    """
    return max(ABS_FLOOR, 1e-6 * tol)


def contract_violation(ours: np.ndarray, ref: np.ndarray, tol: float = DEFAULT_TOL) -> float:
    """max |σ̂ − σ| / (tol·σ + abs_floor(tol)·σ_max) against a reference (≤ 1: contract kept)."""
    ours = np.asarray(ours, dtype=np.float64)
    ref = np.asarray(ref, dtype=np.float64)
    if ref.size == 0:
        return 0.0
    smax = ref[0] if ref[0] > 0 else 1.0
    return float(np.max(np.abs(ours - ref) / (tol * ref + abs_floor(tol) * smax)))


def orient(matrix: np.ndarray) -> np.ndarray:
    """The matrix with its longer side first (a view), so ``AᵀA`` is min(m,n)²."""
    return matrix if matrix.shape[0] >= matrix.shape[1] else matrix.T


def row_chunks(matrix: np.ndarray, chunk_elements: int = CHUNK_ELEMENTS) -> ChunkSource:
    """A :data:`ChunkSource` over an in-memory (or memory-mapped) 2-D array.

    Each chunk is upcast to float64 on its own, so the float64 working set is
    one chunk, whatever the storage dtype.
    """
    a = orient(matrix)
    rows = max(1, chunk_elements // max(1, a.shape[1]))

    def chunks() -> Iterator[np.ndarray]:
        for start in range(0, a.shape[0], rows):
            yield np.asarray(a[start : start + rows], dtype=np.float64)

    return chunks


def use_scipy(k: int) -> bool:
    """True when the scipy route is worth its import for a k×k Gram (k ≥ SCIPY_MIN_K) and scipy imports."""
    if k < SCIPY_MIN_K:
        return False
    try:
        import scipy.linalg  # noqa: F401
    except ImportError:
        return False
    return True


def gram(chunks: ChunkSource, k: int) -> np.ndarray:
    """``AᵀA`` in float64, accumulated in place over row chunks (k×k).

    With scipy (k ≥ SCIPY_MIN_K), BLAS dsyrk adds each chunk's product straight
    into one triangle of the Gram (β = 1, half the flops of a general product),
    reading the C-ordered chunk as its Fortran-ordered transpose so nothing is
    copied; the triangle is mirrored at the end — no k×k temporaries. scipy's
    wrapper holds the GIL, so each call gets at most ``GRAM_CALL_FLOPS`` of work
    (a slice of the chunk; ~0.3 s on 2 cores), keeping quit and Ctrl-C
    well under a second. Otherwise numpy's matmul (a syrk too, for ``c.T @ c``) plus an
    add: one k×k temporary.
    """
    g = np.zeros((k, k), dtype=np.float64)
    dsyrk: Any = None
    if use_scipy(k):
        from scipy.linalg import blas

        dsyrk = blas.dsyrk
    step = max(GRAM_MIN_ROWS, GRAM_CALL_FLOPS // max(1, k * k))  # rows per dsyrk call (it holds the GIL)
    for c in chunks():
        c = np.ascontiguousarray(c, dtype=np.float64)
        if dsyrk is None:
            g += c.T @ c
            continue
        for a in range(0, c.shape[0], step):
            # g.T is g in Fortran order; its lower triangle is g's upper triangle
            out = dsyrk(1.0, c[a : a + step].T, beta=1.0, c=g.T, lower=1, overwrite_c=1)
            if not np.shares_memory(out, g):  # pragma: no cover - f2py had to copy: keep its result
                g[...] = out.T
    if dsyrk is not None:
        _mirror_upper(g)
    return g


def _mirror_upper(g: np.ndarray, block: int = 512) -> None:
    """Copy the upper triangle of square ``g`` onto its lower triangle, block by block (no k×k temporaries)."""
    k = g.shape[0]
    for j in range(0, k, block):
        e = min(j + block, k)
        g[e:, j:e] = g[j:e, e:].T
        d = g[j:e, j:e]
        d[...] = np.triu(d) + np.triu(d, 1).T


def _project(chunks: ChunkSource, basis: np.ndarray) -> np.ndarray:
    """``A·basis`` (m×p) in float64, chunk by chunk."""
    return np.concatenate([c @ basis for c in chunks()], axis=0)


def _direct(chunks: ChunkSource) -> np.ndarray:
    a = np.concatenate(list(chunks()), axis=0)
    return _svdvals(a)


def _svdvals(a: np.ndarray) -> np.ndarray:
    """Singular values by LAPACK gesdd (values only), descending — numpy's, which releases the GIL
    (scipy's ``svdvals`` holds it for the whole call: minutes during which no quit could run)."""
    return np.linalg.svd(a, compute_uv=False)


class _SymmetricEigen:
    """Eigenvalues of a symmetric matrix now, eigenvectors of the smallest ones on demand (numpy).

    numpy's ``eigvalsh`` (dsyevd without vectors: dsytrd + dsterf) and, when refinement
    needs them, ``eigh`` (all vectors; the p smallest are kept) — at once when
    :func:`needs_refinement` foresees it. Used below SCIPY_MIN_K (no scipy import for
    small models) and without scipy; from SCIPY_MIN_K on, :mod:`.lapack_nogil` gives
    values and p vectors from one reduction. Not scipy's f2py ``lapack`` wrappers: they
    hold the GIL for the whole call — seconds for k = 4096 — so neither the app's quit
    nor the CLI's Ctrl-C could run until it returned; numpy's calls release it.
    """

    def __init__(self, g: np.ndarray, with_vectors: bool = False) -> None:
        self._g = g
        self._vectors: np.ndarray | None = None
        if with_vectors:  # refinement expected (needs_refinement): one decomposition gives both
            self.values, self._vectors = np.linalg.eigh(g)
        else:
            self.values = np.linalg.eigvalsh(g)

    def smallest_vectors(self, p: int) -> np.ndarray:
        """Orthonormal eigenvectors (k×p) of the p smallest eigenvalues."""
        vecs = self._vectors if self._vectors is not None else np.linalg.eigh(self._g)[1]
        return np.ascontiguousarray(vecs[:, :p])


def needs_refinement(g: np.ndarray, k: int, tol: float = DEFAULT_TOL) -> bool:
    """Whether some eigenvalue of the Gram lies below the refinement cut — decided before the eigensolver.

    Why: refinement needs eigenvectors, and numpy's ``eigh`` (values and vectors) after an
    ``eigvalsh`` repeats the k³ reduction; knowing first lets one ``eigh`` give both. The
    test is exact up to rounding: the Cholesky factorisation of ``G − s·I`` exists iff
    λ_min(G) > s, where s is the cut of :func:`refine_count` for an estimate of λ_max (three
    block power steps — a few passes over G, against the eigensolver's k³). It only picks
    the cheaper order of the same computations: if it guesses wrong, :func:`refine_count`
    on the eigenvalues still decides, and the vectors are computed then (or not used).
    Cost: a Cholesky (k³/3, BLAS-3) and a copy of G while it runs.
    """
    if k < 2:
        return False
    v = np.random.default_rng(0).standard_normal((k, 4))
    for _ in range(3):
        v = g @ v
        v /= np.maximum(np.linalg.norm(v, axis=0), np.finfo(np.float64).tiny)
    lam_max = float(np.max(np.einsum("ij,ij->j", v, g @ v)))
    if not np.isfinite(lam_max) or lam_max <= 0.0:
        return True
    shifted = g.copy()
    shifted.flat[:: k + 1] -= _refine_cut(lam_max, k, tol)
    try:
        np.linalg.cholesky(shifted)
    except np.linalg.LinAlgError:
        return True
    return False


def refine_count(eigenvalues_ascending: np.ndarray, k: int, tol: float = DEFAULT_TOL) -> int:
    """How many of the smallest Gram eigenvalues are not trusted at ``tol``.

    δ = GRAM_ERROR_FACTOR·k·ε·λ_max bounds the eigenvalue error; σᵢ's relative
    error is about δ/(2λᵢ). Values whose predicted error exceeds
    ``REFINE_MARGIN·tol`` are refined.
    """
    lam = eigenvalues_ascending
    if lam.size == 0 or lam[-1] <= 0.0:
        return int(lam.size)
    return int(np.searchsorted(lam, _refine_cut(float(lam[-1]), k, tol), side="left"))


def _refine_cut(lam_max: float, k: int, tol: float) -> float:
    """The eigenvalue below which a Gram value is refined: its predicted relative error δ/(2λ) exceeds REFINE_MARGIN·tol."""
    delta = GRAM_ERROR_FACTOR * k * EPS64 * lam_max
    return delta / (2.0 * REFINE_MARGIN * tol)


def blas_threads_for(k: int) -> contextlib.AbstractContextManager[object]:
    """Limit BLAS to one thread for small problems (threadpoolctl, when installed).

    Multi-threaded LAPACK on a 384×384 eigenproblem spends more time
    synchronising than computing — 10–50× slower on a busy machine.
    """
    if k >= SMALL_K or _single_phase[0] > 0:  # already one thread for the whole phase: nothing to switch
        return contextlib.nullcontext()
    # a new controller once scipy is loaded: its own OpenBLAS is another library to limit
    controller = _threadpools("scipy.linalg" in sys.modules)
    if controller is None:
        return contextlib.nullcontext()
    return controller.limit(limits=1, user_api="blas")


def can_limit_blas() -> bool:
    """True when BLAS threads can be limited (threadpoolctl importable): the condition for running
    small tensors side by side without oversubscribing the cores."""
    return _threadpools("scipy.linalg" in sys.modules) is not None


_single_phase = [0]  # how many single_blas_phase() blocks are open (process-wide, like BLAS's own setting)
_single_lock = threading.Lock()
_single_limiter: list[Any] = []


@contextlib.contextmanager
def single_blas_phase() -> Iterator[None]:
    """One BLAS thread for the whole block, set once: several small tensors then run side by side,
    each on one thread (see :mod:`.parallel`), and the per-matrix :func:`blas_threads_for` inside
    the block switch nothing (a switch per call would race between the threads)."""
    with _single_lock:
        if _single_phase[0] == 0:
            controller = _threadpools("scipy.linalg" in sys.modules)
            _single_limiter[:] = [controller.limit(limits=1, user_api="blas")] if controller is not None else []
        _single_phase[0] += 1
    try:
        yield
    finally:
        with _single_lock:
            _single_phase[0] -= 1
            if _single_phase[0] == 0 and _single_limiter:
                _single_limiter.pop().restore_original_limits()


@functools.cache
def _threadpools(scipy_loaded: bool) -> Any:
    """One threadpoolctl controller for the process (None without threadpoolctl).

    ``threadpool_limits`` scans every loaded shared library on each call (≈6 ms,
    as much as a small matrix's whole spectrum); the controller scans once. The
    BLAS libraries are those loaded when it is made; scipy brings its own
    OpenBLAS, so there is one controller before and one after scipy's import.
    """
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:
        return None
    return ThreadpoolController()


def singular_values(
    chunks: ChunkSource,
    shape: tuple[int, int],
    tol: float = DEFAULT_TOL,
) -> SingularValues:
    """All min(m, n) singular values of the matrix behind ``chunks`` (float64, descending).

    ``chunks`` yields float64 row blocks of the *oriented* matrix (longer side
    first, see :func:`orient`); ``shape`` is that oriented shape. See the
    module docstring for the Gram / refine / direct-SVD rule.
    """
    m, k = shape
    if k == 0 or m == 0:
        return SingularValues(np.zeros(0), "gram")
    with blas_threads_for(k):
        return _singular_values(chunks, m, k, tol)


def _singular_values(chunks: ChunkSource, m: int, k: int, tol: float) -> SingularValues:
    g = gram(chunks, k)
    eig: _SymmetricEigen | lapack_nogil.TridiagonalEigen
    if use_scipy(k) and lapack_nogil.available():  # one reduction for values and vectors, GIL released
        eig = lapack_nogil.TridiagonalEigen(g)  # overwrites g (it is not needed afterwards)
    else:
        eig = _SymmetricEigen(g, with_vectors=needs_refinement(g, k, tol))
    lam = np.maximum(eig.values, 0.0)
    p = refine_count(lam, k, tol)
    if p == 0:
        return SingularValues(np.sqrt(lam[::-1]), "gram")
    if p > REFINE_FRACTION * k:
        del g, eig
        return SingularValues(_direct(chunks), "svd")
    basis = eig.smallest_vectors(p)
    del g, eig
    small = _svdvals(_project(chunks, basis))  # descending, p values
    values = np.sqrt(lam[::-1])
    values[k - p :] = small
    values = np.sort(values)[::-1]
    return SingularValues(values, "gram+refine", refined=p)


def singular_values_of(matrix: np.ndarray, tol: float = DEFAULT_TOL) -> SingularValues:
    """Convenience: :func:`singular_values` of an in-memory 2-D array."""
    a = orient(matrix)
    return singular_values(row_chunks(a), (int(a.shape[0]), int(a.shape[1])), tol)
