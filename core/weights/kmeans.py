"""Deterministic k-means and the Calinski–Harabasz score, in numpy.

Why not scikit-learn? It would add a ~40 MB runtime dependency (plus joblib and
threadpoolctl) for two small algorithms; the sample is capped at a few thousand
rows, where plain numpy Lloyd iterations take milliseconds. Determinism: a
fixed seed drives both the row sample and the k-means++ seeding, and ties in
the assignment step break towards the lower cluster index.

Calinski–Harabasz (variance-ratio) score, for n points in k clusters:

    CH = [B / (k − 1)] / [W / (n − k)]
    B  = Σⱼ nⱼ ‖cⱼ − c‖²          (between-cluster dispersion, c = overall mean)
    W  = Σᵢ ‖xᵢ − c_{label(i)}‖²   (within-cluster dispersion)

The k maximising CH over 2..K is reported.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class KMeansResult:
    """Labels, centroids and within-cluster sum of squares (inertia)."""

    labels: np.ndarray
    centroids: np.ndarray
    inertia: float
    iterations: int


def _sq_dists(x: np.ndarray, c: np.ndarray) -> np.ndarray:
    # ‖x‖² − 2x·c + ‖c‖², clamped (rounding can make it slightly negative)
    d = (x * x).sum(1)[:, None] - 2.0 * (x @ c.T) + (c * c).sum(1)[None, :]
    return np.maximum(d, 0.0)


def kmeans_pp_init(x: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """k-means++ seeding (Arthur & Vassilvitskii 2007): D²-weighted picks."""
    n = x.shape[0]
    centers = [x[int(rng.integers(n))]]
    d2 = _sq_dists(x, centers[0][None, :])[:, 0]
    for _ in range(1, k):
        total = d2.sum()
        if total <= 0.0:  # fewer distinct points than k: reuse points deterministically
            idx = len(centers) % n
        else:
            idx = int(np.searchsorted(np.cumsum(d2), rng.random() * total, side="right"))
            idx = min(idx, n - 1)
        centers.append(x[idx])
        d2 = np.minimum(d2, _sq_dists(x, x[idx][None, :])[:, 0])
    return np.array(centers, dtype=np.float64)


def kmeans(x: np.ndarray, k: int, seed: int = 0, max_iter: int = 100) -> KMeansResult:
    """Lloyd's k-means from k-means++ seeds; deterministic for a given seed."""
    x = np.asarray(x, dtype=np.float64)
    rng = np.random.default_rng(seed)
    c = kmeans_pp_init(x, k, rng)
    labels = np.full(x.shape[0], -1)
    it = 0
    for it in range(1, max_iter + 1):
        new = np.argmin(_sq_dists(x, c), axis=1)
        if np.array_equal(new, labels):
            break
        labels = new
        for j in range(k):
            members = x[labels == j]
            if members.size:
                c[j] = members.mean(axis=0)
    inertia = float(((x - c[labels]) ** 2).sum())
    return KMeansResult(labels=labels, centroids=c, inertia=inertia, iterations=it)


def calinski_harabasz(x: np.ndarray, labels: np.ndarray) -> float:
    """The Calinski–Harabasz score of a labelling (see module docstring)."""
    x = np.asarray(x, dtype=np.float64)
    n = x.shape[0]
    ids = np.unique(labels)
    k = ids.size
    if k < 2 or k >= n:
        return 0.0
    overall = x.mean(axis=0)
    between = 0.0
    within = 0.0
    for j in ids:
        members = x[labels == j]
        cj = members.mean(axis=0)
        between += members.shape[0] * float(((cj - overall) ** 2).sum())
        within += float(((members - cj) ** 2).sum())
    if within == 0.0:
        return float("inf")
    return (between / (k - 1)) / (within / (n - k))


def sample_rows(rows: int, cap: int, seed: int) -> np.ndarray:
    """A sorted, deterministic sample of at most ``cap`` row indices."""
    if rows <= cap:
        return np.arange(rows)
    return np.sort(np.random.default_rng(seed).choice(rows, size=cap, replace=False))
