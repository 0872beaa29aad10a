"""Element statistics of one tensor, one chunk at a time, in float64.

Mean and variance are combined across chunks with Chan et al.'s pairwise
update (exact to rounding, no catastrophic cancellation), so a tensor never
has to be upcast whole. ``std`` is the population standard deviation (ddof=0).
The near-zero threshold is relative — |w| < NEAR_ZERO_REL · max|w| — because
weights live on very different scales (norm gains near 1, projections near
1e-2); ``zero_fraction`` counts exact zeros (pruned or padded entries).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np

NEAR_ZERO_REL = 1e-6


@dataclass(frozen=True)
class ElementStats:
    """Summary of all elements (floats are plain Python floats)."""

    count: int
    mean: float
    std: float
    min: float
    max: float
    mean_abs: float
    zero_fraction: float
    near_zero_fraction: float
    sum_squares: float


def element_stats(chunks: Callable[[], Iterable[np.ndarray]]) -> ElementStats:
    """Statistics over the concatenation of the float64 chunks ``chunks()`` yields.

    One pass for moments and extremes; a second pass counts near-zero entries
    (it needs max|w|) and is skipped when min|w| already clears the threshold,
    or done on the |w| at hand when the tensor came in one chunk.
    Memory: one chunk at a time. Non-finite or overflowing weights give
    inf/nan statistics quietly (no numpy RuntimeWarning on stderr).

    BLAS runs on one thread here: its only work is two dot products per chunk
    (level 1, memory-bound), which a second thread does not speed up, and on a
    busy machine OpenBLAS's threads spin waiting for each other — all-MiniLM's
    statistics took 1.1 s of CPU with two threads against 0.3 s with one, at
    a load average of 3.
    """
    from lmscope.core.weights.spectra import blas_threads_for  # same package; no import cost

    with blas_threads_for(0), np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        return _element_stats(chunks)


def _element_stats(chunks: Callable[[], Iterable[np.ndarray]]) -> ElementStats:
    n = 0
    mean = 0.0
    m2 = 0.0
    lo, hi = np.inf, -np.inf
    min_abs = np.inf
    sum_abs = 0.0
    zeros = 0
    sumsq = 0.0
    seen = 0
    last_abs: np.ndarray | None = None
    for c in chunks():
        c = np.asarray(c, dtype=np.float64).ravel()
        if c.size == 0:
            continue
        cn = c.size
        cmean = float(c.mean())
        tmp = np.subtract(c, cmean)  # the one chunk-sized temporary, reused below
        cm2 = float(tmp @ tmp)
        delta = cmean - mean
        tot = n + cn
        mean += delta * cn / tot
        m2 += cm2 + delta * delta * n * cn / tot
        n = tot
        lo = min(lo, float(c.min()))
        hi = max(hi, float(c.max()))
        sumsq += float(c @ c)
        zeros += cn - int(np.count_nonzero(c))
        np.abs(c, out=tmp)
        min_abs = min(min_abs, float(tmp.min()))
        sum_abs += float(tmp.sum())
        seen += 1
        last_abs = tmp
    if n == 0:
        return ElementStats(0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
    threshold = NEAR_ZERO_REL * max(abs(lo), abs(hi))
    near = 0
    if min_abs < threshold and seen == 1 and last_abs is not None:  # one chunk (most tensors): |w| is at hand
        near = int(np.count_nonzero(last_abs < threshold))
    elif min_abs < threshold:
        for c in chunks():
            near += int(np.count_nonzero(np.abs(np.asarray(c, dtype=np.float64)) < threshold))
    return ElementStats(
        count=n,
        mean=mean,
        std=float(np.sqrt(max(m2 / n, 0.0))),
        min=float(lo),
        max=float(hi),
        mean_abs=sum_abs / n,
        zero_fraction=zeros / n,
        near_zero_fraction=near / n,
        sum_squares=sumsq,
    )
