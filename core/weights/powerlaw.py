"""Clauset–Shalizi–Newman power-law fit of an eigenvalue distribution.

The heavy-tailed self-regularisation literature (Martin & Mahoney; the
WeightWatcher tool) summarises a weight matrix by the exponent α of a power law
p(λ) ∝ λ^(−α) fitted to the tail of the eigenvalues λ = σ² of WᵀW. The fit is
the continuous maximum-likelihood estimator of Clauset, Shalizi & Newman (2009):
for each candidate xmin among the eigenvalues,

    α(xmin) = 1 + n / Σ_{λᵢ ≥ xmin} ln(λᵢ / xmin)        (n = tail size)

and the xmin kept is the one minimising the Kolmogorov–Smirnov distance

    D = max over the tail of |S(λᵢ) − P(λᵢ)|,   P(λ) = 1 − (λ/xmin)^(1−α)

where S(λᵢ) = i/n is the empirical CDF of the sorted tail just below its i-th
point (0-based) — the convention of the ``powerlaw`` package that WeightWatcher
calls, so the chosen xmin and α agree with it (checked in tests when it is
installed). Tails shorter than ``MIN_TAIL`` are not candidates (a handful of
points always fits something; ``powerlaw`` has no such floor but caps α at 3 by
default in its 2.x releases instead). α is scale-free, so normalising WᵀW by N
(as WeightWatcher does) does not change it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MIN_TAIL = 10
_BLOCK = 128  # candidates evaluated together (memory: block × n floats)


@dataclass(frozen=True)
class PowerLawFit:
    """The chosen fit: exponent, lower cut-off, KS distance, tail size."""

    alpha: float
    xmin: float
    ks_distance: float
    tail: int


def fit_power_law(values: np.ndarray, min_tail: int = MIN_TAIL) -> PowerLawFit | None:
    """CSN fit of the positive entries of ``values``; None if too few of them."""
    x = np.sort(np.asarray(values, dtype=np.float64))
    x = x[x > 0.0]
    n = x.size
    if n < min_tail:
        return None
    logs = np.log(x)
    # suffix sums of ln x: tail starting at j has sum_{i>=j} ln x_i
    suffix = np.concatenate([np.cumsum(logs[::-1])[::-1], [0.0]])
    last = n - min_tail  # last candidate index
    cands = np.arange(last + 1)
    # skip repeated values: the first occurrence of a value defines its tail
    keep = np.ones(cands.size, dtype=bool)
    keep[1:] = x[1 : last + 1] != x[:last]
    cands = cands[keep]
    tails = n - cands
    s = suffix[cands] - tails * logs[cands]
    with np.errstate(divide="ignore"):
        alphas = np.where(s > 0, 1.0 + tails / np.where(s > 0, s, 1.0), np.inf)
    best = (np.inf, 0.0, 0.0, 0)
    for b in range(0, cands.size, _BLOCK):
        cj = cands[b : b + _BLOCK]
        aj = alphas[b : b + _BLOCK]
        ok = np.isfinite(aj)
        if not ok.any():
            continue
        cj, aj = cj[ok], aj[ok]
        start = int(cj.min())
        seg = logs[start:]  # (L,)
        idx = np.arange(start, n)
        # rows: candidate; cols: data point i (only i >= j counts)
        rel = seg[None, :] - logs[cj][:, None]  # ln(x_i / xmin)
        mask = idx[None, :] >= cj[:, None]
        model = 1.0 - np.exp(-(aj[:, None] - 1.0) * np.where(mask, rel, 0.0))
        tn = (n - cj)[:, None].astype(np.float64)
        pos = (idx[None, :] - cj[:, None]).astype(np.float64)
        d = np.where(mask, np.abs(model - pos / tn), 0.0).max(axis=1)
        i = int(np.argmin(d))
        if d[i] < best[0]:
            best = (float(d[i]), float(aj[i]), float(x[cj[i]]), int(n - cj[i]))
    if not np.isfinite(best[0]):
        return None
    return PowerLawFit(alpha=best[1], xmin=best[2], ks_distance=best[0], tail=best[3])
