"""The typed records the weights engine hands to the CLI, the exporters and the TUI.

Frozen dataclasses only, with plain Python numbers (no numpy scalars), so that a
record can cross a thread boundary, be compared in a test and be turned into
JSON without knowing numpy. Definitions of every statistic are in
``docs/weights.md`` and in the functions that compute them.
"""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class SpectrumStats:
    """Spectral facts of one matrix (one expert of a stacked 3-D tensor counts as one).

    * ``design_rank`` = min(m, n).
    * ``numerical_rank``: singular values above σ_max · max(m, n) · eps(float32)
      — NumPy's ``matrix_rank`` rule evaluated at float32 precision whatever the
      storage dtype (bf16 noise makes most trained matrices numerically full rank).
    * ``rank_90`` / ``rank_99``: smallest k with Σ_{i≤k} σᵢ² ≥ p · Σ σᵢ².
    * ``stable_rank`` = ‖W‖_F² / σ_max².
    * ``spectral_norm`` = σ_max; ``condition_number`` = σ_max / σ_min (inf if σ_min = 0).
    * ``alpha``, ``xmin``, ``ks_distance``: the Clauset–Shalizi–Newman power-law fit
      of the eigenvalues λ = σ² of WᵀW (None when fewer than the minimum tail).
    * ``method``: how the singular values were computed ("gram", "gram+refine",
      "svd", with a "cuda-" prefix on the GPU); ``device``: where.
    * ``singular_values``: all of them, descending (kept only when asked for).
    """

    rows: int
    cols: int
    design_rank: int
    numerical_rank: int
    rank_90: int
    rank_99: int
    stable_rank: float
    spectral_norm: float
    min_singular_value: float
    condition_number: float
    alpha: float | None
    xmin: float | None
    ks_distance: float | None
    alpha_tail: int
    method: str
    device: str = "cpu"
    expert: int | None = None
    singular_values: tuple[float, ...] = ()


@dataclass(frozen=True)
class TensorStats:
    """Everything measured about one stored tensor.

    ``kind``: the module kind from the name (see ``classify.py``); ``layer``: the
    block index or None. ``near_zero_fraction`` counts |w| < NEAR_ZERO_REL ·
    max|w| (1e-6 of the tensor's largest magnitude). ``spectra`` has one entry
    for a matrix, one per expert for a stacked 3-D expert tensor, none for
    vectors or when spectra are off. ``notes``: fallbacks and skips, in words.
    """

    name: str
    kind: str
    layer: int | None
    shape: tuple[int, ...]
    dtype: str
    numel: int
    nbytes: int
    mean: float
    std: float
    min: float
    max: float
    mean_abs: float
    zero_fraction: float
    near_zero_fraction: float
    spectra: tuple[SpectrumStats, ...] = ()
    file: str = ""
    seconds: float = 0.0
    notes: tuple[str, ...] = ()
    expert: int | None = None  # N of a per-expert tensor named ``…experts.N.…``

    @property
    def is_parameter(self) -> bool:
        """False for buffers (position ids, rotary ``inv_freq``…): listed, not counted as parameters."""
        return self.kind != "buffer"

    def to_dict(self, *, singular_values: bool = False) -> dict[str, Any]:
        """JSON-ready dict (inf/nan become strings, singular values only on request)."""
        d = asdict(self)
        d["shape"] = list(self.shape)
        d["notes"] = list(self.notes)
        d["var"] = self.std * self.std  # population variance (seed 001's column)
        d["parameter"] = self.is_parameter
        for sp in d["spectra"]:
            if not singular_values:
                sp.pop("singular_values")
            else:
                sp["singular_values"] = list(sp["singular_values"])
        return _json_safe(d)


@dataclass(frozen=True)
class KindSummary:
    """Aggregate over all tensors of one module kind."""

    kind: str
    tensors: int
    params: int
    nbytes: int
    mean_abs: float
    std: float  # root of the parameter-weighted mean of squares about each tensor's mean
    matrices: int
    mean_alpha: float | None
    mean_stable_rank: float | None
    mean_rank_ratio: float | None  # numerical_rank / design_rank, averaged
    mean_rank_90_ratio: float | None


@dataclass(frozen=True)
class EmbeddingClusters:
    """k-means on a deterministic sample of embedding rows, plus row-norm quantiles.

    ``scores``: (k, Calinski–Harabasz) for every k tried; ``best_k`` maximises it.
    ``norm_quantiles``: (q, ‖row‖₂) over *all* rows; ``norm_bin_edges`` /
    ``norm_counts``: their histogram (edges has one more entry than counts).
    ``representatives``: per cluster of the best k, the row indices (token ids
    for a token embedding) of the sample rows nearest its centre, nearest first.
    """

    name: str
    rows: int
    sample_rows: int
    seed: int
    best_k: int
    scores: tuple[tuple[int, float], ...]
    cluster_sizes: tuple[int, ...]
    inertia: float
    norm_quantiles: tuple[tuple[float, float], ...]
    norm_bin_edges: tuple[float, ...] = ()
    norm_counts: tuple[int, ...] = ()
    representatives: tuple[tuple[int, ...], ...] = ()


@dataclass(frozen=True)
class ExecutorInfo:
    """Where a run was computed: ``local`` (this process) or ``ray`` (address, tasks, failures)."""

    name: str = "local"
    address: str | None = None
    tasks: int = 0
    failed_tasks: int = 0
    cancelled_tasks: int = 0


@dataclass(frozen=True)
class WeightsSummary:
    """The end of a run: per-kind aggregates, totals, and whether it was cancelled."""

    model: str
    files: tuple[str, ...]
    format: str
    tensors_total: int
    tensors_done: int
    bytes_total: int
    bytes_done: int
    params_done: int
    seconds: float
    cancelled: bool
    device: str
    by_kind: tuple[KindSummary, ...]
    embeddings: tuple[EmbeddingClusters, ...] = ()
    notes: tuple[str, ...] = ()
    model_id: str = ""  # the Hub id when the model is known by one
    revision: str | None = None
    created_at: str = ""  # UTC, ISO 8601, when the run started
    tol: float = 1e-6  # the spectra accuracy target of this run
    executor: ExecutorInfo = field(default_factory=ExecutorInfo)
    buffers_done: int = 0  # tensors of kind "buffer" (not in params_done)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return _json_safe(asdict(self))


@dataclass(frozen=True)
class WeightsEvent:
    """One step of :func:`analyze_weights`: a tensor done, or the final summary.

    ``index`` is 1-based; ``eta_seconds`` extrapolates from bytes done so far
    (None before the first tensor). Exactly one of ``result`` / ``summary`` is set.
    ``clusters`` travel with the token-embedding tensor they belong to, so a
    consumer that stops early (the app's cancel) still has them for a resume.
    """

    index: int
    total: int
    bytes_done: int
    bytes_total: int
    elapsed_seconds: float
    eta_seconds: float | None
    result: TensorStats | None = None
    summary: WeightsSummary | None = None
    clusters: tuple[EmbeddingClusters, ...] = ()  # the embedding clusters of ``result``, when it has them


    @property
    def is_final(self) -> bool:
        return self.summary is not None


@dataclass(frozen=True)
class Resume:
    """What a cancelled run already has: its records are kept, and only the other tensors are analysed.

    ``seconds`` (the earlier run's time) is added to the summary's; the report
    of the resumed run covers every tensor, as an uninterrupted run would.
    """

    results: tuple[TensorStats, ...] = ()
    clusters: tuple[EmbeddingClusters, ...] = ()
    seconds: float = 0.0


@dataclass(frozen=True)
class WeightsOptions:
    """What to analyse and how.

    ``tensors``: glob patterns on tensor names (any match keeps a tensor);
    ``kinds``: module kinds to keep (see ``classify.KINDS``; "attention" and
    "mlp" also select their sub-kinds); ``max_tensors``: stop after N;
    ``device``: "auto" | "cpu" | "cuda"; ``spectra``: compute SVD spectra;
    ``embeddings``: k-means on embedding matrices; ``keep_singular_values``:
    store all σ in the records (for plots); ``tol``: spectra accuracy target;
    ``cancel``: set it from another thread to stop (checked before every row
    chunk); ``ray``: run on a Ray cluster (see ``distributed.py``); ``skip``:
    names to leave out (a resumed run); ``model_id``/``revision``: recorded.
    """

    tensors: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()
    max_tensors: int | None = None
    device: str = "auto"
    spectra: bool = True
    embeddings: bool = True
    keep_singular_values: bool = False
    tol: float = 1e-6  # spectra.DEFAULT_TOL; 1e-10 is the strict mode
    kmeans_max_k: int = 12
    kmeans_sample_rows: int = 2048
    seed: int = 0
    cancel: threading.Event | None = field(default=None, compare=False)
    ray: str | None = None  # None: this process; else a Ray address ("local", "auto", "ray://host:port", "" = RAY_ADDRESS or local)
    skip: tuple[str, ...] = ()  # tensor names already done (resume after a cancel)
    model_id: str | None = None  # recorded in the report when the input is a path
    revision: str | None = None


def _json_safe(obj: Any) -> Any:
    if isinstance(obj, float):
        if obj != obj:
            return "nan"
        if obj in (float("inf"), float("-inf")):
            return "inf" if obj > 0 else "-inf"
        return obj
    if isinstance(obj, dict):
        return {k: _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_json_safe(v) for v in obj]
    return obj
