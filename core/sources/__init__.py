"""Model sources: everything that turns a specifier into a :class:`ModelSource`.

``resolve(spec)`` is the one entry point; the modules beside it each read one
kind of source (local folder, HF cache, built-in catalog, GGUF, ONNX).
"""

from lmscope.core.sources.base import HubMetadata, ModelSource, StoredTensors, TensorInfo
from lmscope.core.sources.catalog import DEFAULT_MODEL, CatalogEntry, list_catalog
from lmscope.core.sources.resolve import resolve

__all__ = [
    "DEFAULT_MODEL",
    "CatalogEntry",
    "HubMetadata",
    "ModelSource",
    "StoredTensors",
    "TensorInfo",
    "list_catalog",
    "resolve",
]
