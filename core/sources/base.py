"""What every model source hands to the engine.

A source (local dir, config path, HF cache, built-in catalog, Hub, GGUF,
ONNX) produces one :class:`ModelSource`: the small description files, where
they came from, and — when the source can see them without downloading
weights — the stored tensors (safetensors headers, GGUF tensor table, ONNX
initializers) and Hub metadata.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from lmscope.core.architecture import Architecture, ConfigFiles


@dataclass(frozen=True)
class TensorInfo:
    """One stored tensor as its file describes it (no data read)."""

    name: str
    dtype: str  # as the file names it: BF16, F32, I32, Q4_K, ...
    shape: tuple[int, ...]
    nbytes: int
    # safetensors only: (begin, end) byte range relative to the data section; not part of equality
    data_offsets: tuple[int, int] | None = field(default=None, compare=False, repr=False)

    @property
    def numel(self) -> int:
        return math.prod(self.shape)  # 1 for a scalar's empty shape


@dataclass(frozen=True)
class StoredTensors:
    """The tensors a checkpoint really stores (what the files hold).

    ``source``: "safetensors-header", "gguf", "onnx". ``total_params`` counts
    stored elements (packed INT4 counted as the int32 words stored, see
    ``notes``); compare with the class count to find tied embeddings stored
    twice, MTP layers, packed weights.
    """

    source: str
    tensors: tuple[TensorInfo, ...]
    notes: tuple[str, ...] = ()

    @property
    def total_params(self) -> int:
        return sum(t.numel for t in self.tensors)

    @property
    def total_bytes(self) -> int:
        return sum(t.nbytes for t in self.tensors)

    def params_by_dtype(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for t in self.tensors:
            out[t.dtype] = out.get(t.dtype, 0) + t.numel
        return out


@dataclass(frozen=True)
class HubMetadata:
    """What the Hub says about a repo (no weights downloaded)."""

    repo_id: str
    sha: str | None = None
    author: str | None = None
    downloads: int | None = None
    likes: int | None = None
    license: str | None = None
    gated: str | bool | None = None  # False, "auto", "manual"
    private: bool | None = None
    last_modified: str | None = None  # ISO 8601
    created_at: str | None = None
    pipeline_tag: str | None = None
    library_name: str | None = None
    tags: tuple[str, ...] = ()
    files: tuple[tuple[str, int | None], ...] = ()  # (path, size in bytes)
    weight_bytes_by_format: dict[str, int] = field(default_factory=dict)  # safetensors, gguf, bin, onnx, ...
    safetensors_total: int | None = None  # the Hub's own parameter total
    safetensors_params_by_dtype: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class ModelSource:
    """A resolved model specifier.

    ``kind``: "local", "config", "cache", "catalog", "hub", "gguf", "onnx".
    ``architecture`` is set by sources that build it themselves (GGUF, ONNX);
    the others leave it None and the parser builds it from ``files.config``.
    """

    model_id: str
    kind: str
    files: ConfigFiles
    location: str | None = None  # a local path, when there is one
    revision: str | None = None
    metadata: HubMetadata | None = None
    stored: StoredTensors | None = None
    architecture: Architecture | None = None
    notes: tuple[str, ...] = ()
    # facts about the file itself (GGUF version/file type, ONNX opset/inputs/op counts), JSON-safe values
    file_facts: dict = field(default_factory=dict)
