"""Power-law fit, k-means, Calinski–Harabasz and element statistics against independent computations."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lmscope.core.weights.kmeans import calinski_harabasz, kmeans, sample_rows
from lmscope.core.weights.powerlaw import MIN_TAIL, fit_power_law
from lmscope.core.weights.stats import NEAR_ZERO_REL, element_stats


# ---------------------------------------------------------------- power law
def _power_law_sample(alpha: float, xmin: float, n: int, seed: int) -> np.ndarray:
    u = np.random.default_rng(seed).random(n)
    return xmin * (1.0 - u) ** (-1.0 / (alpha - 1.0))


@pytest.mark.parametrize("alpha", [2.0, 2.5, 3.5, 5.0])
def test_csn_recovers_known_alpha(alpha: float) -> None:
    x = _power_law_sample(alpha, 1.0, 4000, seed=int(alpha * 10))
    fit = fit_power_law(x)
    assert fit is not None
    # MLE standard error is (α−1)/√n ≈ 0.016–0.06 here; xmin search adds a little
    assert abs(fit.alpha - alpha) < 0.15
    assert fit.ks_distance < 0.05


def test_csn_finds_the_tail_above_a_non_power_law_body() -> None:
    rng = np.random.default_rng(3)
    body = rng.uniform(0.1, 1.0, 3000)
    tail = _power_law_sample(3.0, 1.0, 3000, seed=4)
    fit = fit_power_law(np.concatenate([body, tail]))
    assert fit is not None
    assert 0.8 <= fit.xmin <= 1.5
    assert abs(fit.alpha - 3.0) < 0.2


def test_csn_alpha_matches_hand_mle_and_ks_at_chosen_xmin() -> None:
    x = _power_law_sample(2.7, 0.5, 500, seed=11)
    fit = fit_power_law(x)
    tail = np.sort(x[x >= fit.xmin])
    n = tail.size
    assert n == fit.tail
    hand_alpha = 1.0 + n / sum(math.log(v / fit.xmin) for v in tail)
    assert fit.alpha == pytest.approx(hand_alpha, rel=1e-12)
    hand_d = 0.0
    for i, v in enumerate(tail):
        model = 1.0 - (v / fit.xmin) ** (1.0 - hand_alpha)
        hand_d = max(hand_d, abs(model - i / n))
    assert fit.ks_distance == pytest.approx(hand_d, rel=1e-9)


def test_csn_picks_the_xmin_with_smallest_ks_distance() -> None:
    x = np.sort(_power_law_sample(3.0, 1.0, 300, seed=5))
    fit = fit_power_law(x)
    best = math.inf
    for j in range(len(x) - 10 + 1):
        tail = x[j:]
        n = tail.size
        a = 1.0 + n / float(np.sum(np.log(tail / tail[0])))
        model = 1.0 - (tail / tail[0]) ** (1.0 - a)
        i = np.arange(n)
        d = float(np.max(np.abs(model - i / n)))
        best = min(best, d)
    assert fit.ks_distance == pytest.approx(best, rel=1e-9)


def test_csn_needs_a_minimum_tail() -> None:
    assert fit_power_law(np.array([1.0, 2.0, 3.0])) is None
    assert fit_power_law(np.zeros(50)) is None


# ---------------------------------------------------------------- k-means / CH
def test_calinski_harabasz_by_hand() -> None:
    x = np.array([[0.0, 0.0], [0.0, 2.0], [1.0, 1.0], [10.0, 10.0], [12.0, 10.0], [11.0, 13.0]])
    labels = np.array([0, 0, 0, 1, 1, 1])
    # centroids (1/3, 1), (11, 11); overall mean (17/3, 6)
    c0, c1, c = (1 / 3, 1.0), (11.0, 11.0), (34 / 6, 6.0)
    between = 3 * ((c0[0] - c[0]) ** 2 + (c0[1] - c[1]) ** 2) + 3 * ((c1[0] - c[0]) ** 2 + (c1[1] - c[1]) ** 2)
    within = sum((p[0] - c0[0]) ** 2 + (p[1] - c0[1]) ** 2 for p in x[:3]) + sum(
        (p[0] - c1[0]) ** 2 + (p[1] - c1[1]) ** 2 for p in x[3:])
    hand = (between / (2 - 1)) / (within / (6 - 2))
    assert calinski_harabasz(x, labels) == pytest.approx(hand, rel=1e-12)


def test_calinski_harabasz_matches_scikit_learn() -> None:
    from sklearn import metrics
    rng = np.random.default_rng(2)
    x = rng.standard_normal((200, 5))
    labels = rng.integers(0, 4, 200)
    assert calinski_harabasz(x, labels) == pytest.approx(metrics.calinski_harabasz_score(x, labels), rel=1e-10)


def test_kmeans_finds_separated_blobs_and_is_deterministic() -> None:
    rng = np.random.default_rng(9)
    centers = np.array([[0, 0, 0], [20, 0, 0], [0, 20, 0]], dtype=float)
    x = np.concatenate([c + rng.standard_normal((60, 3)) for c in centers])
    a = kmeans(x, 3, seed=0)
    b = kmeans(x, 3, seed=0)
    assert np.array_equal(a.labels, b.labels)
    for block in range(3):
        assert len(set(a.labels[block * 60 : (block + 1) * 60])) == 1
    scores = {k: calinski_harabasz(x, kmeans(x, k, seed=0).labels) for k in range(2, 7)}
    assert max(scores, key=scores.get) == 3
    inertia = sum(float(((x[a.labels == j] - x[a.labels == j].mean(0)) ** 2).sum()) for j in range(3))
    assert a.inertia == pytest.approx(inertia, rel=1e-12)


def test_kmeans_matches_scikit_learn_lloyd_from_the_same_seeds() -> None:
    """Same k-means++ seeds → scikit-learn's Lloyd (same tol rule) reaches the same labels and inertia."""
    from sklearn import cluster

    from lmscope.core.weights.kmeans import kmeans_pp_init

    rng = np.random.default_rng(42)
    centers = rng.standard_normal((6, 24)) * 4
    x = np.concatenate([c + rng.standard_normal((150, 24)) for c in centers]) + 0.3 * rng.standard_normal((900, 24))
    for k in (2, 4, 6, 9):
        init = kmeans_pp_init(x, k, np.random.default_rng(0))
        ours = kmeans(x, k, seed=0)
        ref = cluster.KMeans(n_clusters=k, init=init, n_init=1, algorithm="lloyd", tol=1e-4, max_iter=100).fit(x)
        assert np.array_equal(ours.labels, ref.labels_), k
        assert ours.inertia == pytest.approx(ref.inertia_, rel=1e-9)
        np.testing.assert_allclose(ours.centroids, ref.cluster_centers_, rtol=1e-9, atol=1e-9)


def test_sample_rows_is_deterministic_and_capped() -> None:
    a = sample_rows(100_000, 4096, seed=0)
    assert a.size == 4096 and np.array_equal(a, sample_rows(100_000, 4096, seed=0))
    assert np.all(np.diff(a) > 0)
    assert np.array_equal(sample_rows(10, 4096, 0), np.arange(10))


# ---------------------------------------------------------------- element statistics
def test_element_stats_chunked_match_numpy() -> None:
    rng = np.random.default_rng(0)
    x = (rng.standard_normal(10_007) * 3 + 1e4).astype(np.float32)  # large offset: naive Σx² would cancel
    x[:17] = 0.0
    x[17:20] = 1e-9
    x64 = x.astype(np.float64)
    chunks = lambda: (x64[i : i + 1000] for i in range(0, x64.size, 1000))  # noqa: E731
    st = element_stats(chunks)
    assert st.mean == pytest.approx(x64.mean(), rel=1e-14)
    assert st.std == pytest.approx(x64.std(), rel=1e-10)
    assert st.min == x64.min() and st.max == x64.max()
    assert st.mean_abs == pytest.approx(np.abs(x64).mean(), rel=1e-14)
    assert st.zero_fraction == 17 / x.size
    assert st.near_zero_fraction == np.count_nonzero(np.abs(x64) < NEAR_ZERO_REL * np.abs(x64).max()) / x.size == 20 / x.size


def test_csn_agrees_with_the_powerlaw_package() -> None:
    """The ``powerlaw`` package (what WeightWatcher calls) as an oracle: same α and D at a given xmin,
    same xmin chosen when its best tail is at least MIN_TAIL long (its 2.x default caps α at 3: lifted)."""
    import warnings

    import powerlaw

    rng = np.random.default_rng(8)
    samples = [
        np.linalg.svd(rng.standard_t(3, (300, 200)), compute_uv=False) ** 2,  # heavy-tailed "trained-like" ESD
        np.linalg.svd(rng.standard_normal((300, 120)), compute_uv=False) ** 2,  # Marchenko–Pastur bulk
        _power_law_sample(2.6, 1.0, 400, seed=12),
    ]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for lam in samples:
            ours = fit_power_law(lam)
            ranges = {"alpha": [1.0001, 1000.0]}
            fixed = powerlaw.Fit(lam, discrete=False, xmin=ours.xmin, verbose=False, parameter_ranges=ranges)
            assert fixed.power_law.alpha == pytest.approx(ours.alpha, rel=1e-12)
            assert fixed.power_law.D == pytest.approx(ours.ks_distance, rel=1e-9)
            searched = powerlaw.Fit(lam, discrete=False, verbose=False, parameter_ranges=ranges)
            # these samples are chosen so powerlaw's best tail is long enough (MIN_TAIL) for ours to consider it
            assert int(np.sum(lam >= searched.xmin)) >= MIN_TAIL
            assert searched.xmin == pytest.approx(ours.xmin, rel=1e-12)


def test_element_stats_non_finite_and_overflow_are_quiet() -> None:
    """inf/nan weights or values whose squares overflow give inf/nan stats, no numpy RuntimeWarning on stderr."""
    import warnings

    cases = [np.full(64, np.inf), np.array([np.nan, 1.0, 2.0]), np.full(64, 1e300)]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for data in cases:
            st = element_stats(lambda d=data: [d[: len(d) // 2], d[len(d) // 2 :]])
            assert st.count == len(data)
    assert math.isinf(element_stats(lambda: [np.full(8, 1e300)]).sum_squares)
