"""Symmetric eigenvalues, and the eigenvectors of the smallest ones, from one tridiagonal reduction — without the GIL.

Why this module: refinement (see :mod:`.spectra`) needs the p smallest eigenvectors
of a k×k Gram whose eigenvalues were just computed. LAPACK can give both from one
reduction (dsytrd once; dsterf for all values; dstemr for p vectors of the
tridiagonal matrix; dormtr to map them back), which costs about half of numpy's
``eigvalsh`` followed by ``eigh`` (all k vectors). scipy wraps those routines, but
its f2py wrappers hold the GIL for the whole call — seconds for k = 4096, during
which the app could not quit nor the CLI answer Ctrl-C. So the same routines are
called here through ``scipy.linalg.cython_lapack``'s C function pointers with
ctypes, which releases the GIL during a foreign call. The pointers are scipy's
public Cython API (``__pyx_capi__``); the argument lists are LAPACK's own (C
``int`` for integers, pointers for everything, no hidden string lengths).

When scipy or its Cython LAPACK is unavailable, :func:`available` is False and the
caller uses numpy (which also releases the GIL, at the cost of all k vectors).
"""

from __future__ import annotations

import ctypes
import functools
from typing import Any

import numpy as np

_INT = ctypes.POINTER(ctypes.c_int)
_DBL = ctypes.POINTER(ctypes.c_double)
_CHR = ctypes.c_char_p

_SIGNATURES: dict[str, tuple[Any, ...]] = {
    # dsytrd(uplo, n, a, lda, d, e, tau, work, lwork, info)
    "dsytrd": (_CHR, _INT, _DBL, _INT, _DBL, _DBL, _DBL, _DBL, _INT, _INT),
    # dsterf(n, d, e, info)
    "dsterf": (_INT, _DBL, _DBL, _INT),
    # dstemr(jobz, range, n, d, e, vl, vu, il, iu, m, w, z, ldz, nzc, isuppz, tryrac, work, lwork, iwork, liwork, info)
    "dstemr": (_CHR, _CHR, _INT, _DBL, _DBL, _DBL, _DBL, _INT, _INT, _INT, _DBL, _DBL, _INT, _INT, _INT, _INT,
               _DBL, _INT, _INT, _INT, _INT),
    # dormtr(side, uplo, trans, m, n, a, lda, tau, c, ldc, work, lwork, info)
    "dormtr": (_CHR, _CHR, _CHR, _INT, _INT, _DBL, _INT, _DBL, _DBL, _INT, _DBL, _INT, _INT),
}


@functools.cache
def _routines() -> dict[str, Any] | None:
    try:
        from scipy.linalg import cython_lapack
    except ImportError:
        return None
    capi = getattr(cython_lapack, "__pyx_capi__", None)
    if not isinstance(capi, dict) or any(name not in capi for name in _SIGNATURES):
        return None
    get_name = ctypes.pythonapi.PyCapsule_GetName
    get_name.restype, get_name.argtypes = ctypes.c_char_p, [ctypes.py_object]
    get_pointer = ctypes.pythonapi.PyCapsule_GetPointer
    get_pointer.restype, get_pointer.argtypes = ctypes.c_void_p, [ctypes.py_object, ctypes.c_char_p]
    out = {}
    for name, args in _SIGNATURES.items():
        capsule = capi[name]
        pointer = get_pointer(capsule, get_name(capsule))
        if not pointer:
            return None
        out[name] = ctypes.CFUNCTYPE(None, *args)(pointer)  # CFUNCTYPE: the GIL is released during the call
    return out


def available() -> bool:
    """True when scipy's Cython LAPACK pointers can be called (scipy ≥ 0.16 with its Cython API)."""
    return _routines() is not None


def _i(v: int) -> Any:
    return ctypes.byref(ctypes.c_int(v))


def _p(a: np.ndarray) -> Any:
    return a.ctypes.data_as(_DBL)


def _c(s: str) -> bytes:
    return s.encode()


class TridiagonalEigen:
    """All eigenvalues of a symmetric k×k matrix now; the eigenvectors of the p smallest on demand.

    ``g`` is overwritten (it holds the Householder reflectors afterwards); it must be a
    float64 C- or Fortran-contiguous square array — symmetric, so either order is the same
    matrix to LAPACK.
    """

    def __init__(self, g: np.ndarray) -> None:
        lapack = _routines()
        if lapack is None:
            raise RuntimeError("scipy's Cython LAPACK is not available")
        self._lapack = lapack
        k = g.shape[0]
        if g.dtype != np.float64 or g.shape != (k, k) or not (g.flags.c_contiguous or g.flags.f_contiguous):
            raise ValueError("a contiguous float64 square matrix is needed")
        self.k = k
        self._a = g
        self._d = np.empty(k)
        self._e = np.empty(max(k - 1, 1))
        self._tau = np.empty(max(k - 1, 1))
        info = ctypes.c_int(0)
        query = np.empty(1)
        lapack["dsytrd"](_c("L"), _i(k), _p(g), _i(k), _p(self._d), _p(self._e), _p(self._tau), _p(query), _i(-1),
                         ctypes.byref(info))
        work = np.empty(max(1, int(query[0])))
        lapack["dsytrd"](_c("L"), _i(k), _p(g), _i(k), _p(self._d), _p(self._e), _p(self._tau), _p(work),
                         _i(work.size), ctypes.byref(info))
        if info.value != 0:  # pragma: no cover - argument errors only
            raise RuntimeError(f"dsytrd failed (info={info.value})")
        values, e = self._d.copy(), self._e.copy()
        lapack["dsterf"](_i(k), _p(values), _p(e), ctypes.byref(info))
        if info.value != 0:  # pragma: no cover - dsterf did not converge (never seen in practice)
            raise RuntimeError(f"dsterf failed (info={info.value})")
        self.values = values  # ascending

    def smallest_vectors(self, p: int) -> np.ndarray:
        """Orthonormal eigenvectors (k×p, C order) of the p smallest eigenvalues."""
        k, lapack = self.k, self._lapack
        d = self._d.copy()
        e = np.zeros(k)
        e[: k - 1] = self._e[: k - 1]
        z = np.zeros((k, p), order="F")
        w = np.empty(k)
        m = ctypes.c_int(0)
        isuppz = np.empty(2 * max(p, 1), dtype=np.intc)
        tryrac = ctypes.c_int(1)
        info = ctypes.c_int(0)
        zero = ctypes.c_double(0.0)
        query, iquery = np.empty(1), np.empty(1, dtype=np.intc)

        def stemr(work: np.ndarray, lwork: int, iwork: np.ndarray, liwork: int) -> None:
            lapack["dstemr"](_c("V"), _c("I"), _i(k), _p(d), _p(e), ctypes.byref(zero), ctypes.byref(zero), _i(1), _i(p),
                             ctypes.byref(m), _p(w), _p(z), _i(k), _i(p), isuppz.ctypes.data_as(_INT),
                             ctypes.byref(tryrac), _p(work), _i(lwork), iwork.ctypes.data_as(_INT), _i(liwork),
                             ctypes.byref(info))

        stemr(query, -1, iquery, -1)
        work = np.empty(max(1, int(query[0])))
        iwork = np.empty(max(1, int(iquery[0])), dtype=np.intc)
        stemr(work, work.size, iwork, iwork.size)
        if info.value != 0 or m.value != p:
            raise RuntimeError(f"dstemr failed (info={info.value}, {m.value} of {p} vectors)")
        lapack["dormtr"](_c("L"), _c("L"), _c("N"), _i(k), _i(p), _p(self._a), _i(k), _p(self._tau), _p(z), _i(k),
                         _p(query), _i(-1), ctypes.byref(info))
        work = np.empty(max(1, int(query[0])))
        lapack["dormtr"](_c("L"), _c("L"), _c("N"), _i(k), _i(p), _p(self._a), _i(k), _p(self._tau), _p(z), _i(k),
                         _p(work), _i(work.size), ctypes.byref(info))
        if info.value != 0:  # pragma: no cover - argument errors only
            raise RuntimeError(f"dormtr failed (info={info.value})")
        return np.ascontiguousarray(z)
