"""The weights engine: streaming per-tensor statistics and exact SVD spectra.

``analyze_weights(path_or_source, options)`` yields one :class:`WeightsEvent`
per tensor and a final summary; it reads safetensors (single or sharded),
GGUF and PyTorch .bin checkpoints one tensor at a time from memory maps,
computes element statistics, singular-value spectra (fast Gram route with
refinement, exact to 1e-10), power-law fits and embedding clusters, and
honours a cancel flag. Definitions: ``docs/weights.md``.

Importing this package is cheap: numpy only (torch, gguf and
huggingface_hub are imported where they are used).
"""

from lmscope.core.weights.engine import analyze_weights, select_tensors, spectrum_stats, summarize_by_kind
from lmscope.core.weights.readers import LazyTensor, WeightsCollection, open_weights
from lmscope.core.weights.records import (
    EmbeddingClusters,
    ExecutorInfo,
    KindSummary,
    Resume,
    SpectrumStats,
    TensorStats,
    WeightsEvent,
    WeightsOptions,
    WeightsSummary,
)

__all__ = [
    "EmbeddingClusters",
    "ExecutorInfo",
    "KindSummary",
    "LazyTensor",
    "Resume",
    "SpectrumStats",
    "TensorStats",
    "WeightsCollection",
    "WeightsEvent",
    "WeightsOptions",
    "WeightsSummary",
    "analyze_weights",
    "open_weights",
    "select_tensors",
    "spectrum_stats",
    "summarize_by_kind",
]
