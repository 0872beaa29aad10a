"""ONNX files: opset, graph inputs/outputs, initializers and operator counts.

An exported ONNX graph has lost its config: the dimensions are implicit in
the initializer shapes. What it does keep is worth showing — the opset, the
inputs and outputs a runtime must feed, which operators it uses, and the
stored weights (initializers, including ones kept in external data files,
whose sizes come from the graph's own ``external_data`` records; the data is
never read). Before protobuf parses the file, :mod:`.onnx_wire` counts its
messages on the wire: an empty node is 2 bytes on disk and ~150 in memory, so
a file of millions of them is refused instead of parsed. When a ``config.json`` sits beside the file, the architecture
comes from it; otherwise the report says there is none.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from lmscope.core.errors import FileFormatError, LmscopeError, SourceError
from lmscope.core.redact import shown
from lmscope.core.sources.base import ModelSource, StoredTensors, TensorInfo

MAX_ONNX_BYTES = 2 * 1024**3  # protobuf's own limit for a single file
MAX_DIMS = 16
MAX_ELEMENTS = 1 << 50  # a quadrillion elements: beyond any model; a larger shape is a lie

# onnx.TensorProto data type -> (name, bits per element)
_ONNX_TYPES: dict[int, tuple[str, int]] = {
    1: ("F32", 32), 2: ("U8", 8), 3: ("I8", 8), 4: ("U16", 16), 5: ("I16", 16), 6: ("I32", 32),
    7: ("I64", 64), 8: ("STRING", 0), 9: ("BOOL", 8), 10: ("F16", 16), 11: ("F64", 64), 12: ("U32", 32),
    13: ("U64", 64), 14: ("C64", 64), 15: ("C128", 128), 16: ("BF16", 16), 17: ("F8_E4M3FN", 8),
    18: ("F8_E4M3FNUZ", 8), 19: ("F8_E5M2", 8), 20: ("F8_E5M2FNUZ", 8), 21: ("U4", 4), 22: ("I4", 4),
    23: ("F4_E2M1", 4),
}


def _value_info(values) -> list[dict[str, object]]:
    out = []
    for v in values:
        tensor_type = v.type.tensor_type
        dims: list[object] = []
        for d in tensor_type.shape.dim:
            dims.append(d.dim_value if d.HasField("dim_value") else (d.dim_param or "?"))
        dtype = _ONNX_TYPES.get(tensor_type.elem_type, (str(tensor_type.elem_type), 0))[0]
        out.append({"name": v.name, "dtype": dtype, "shape": dims})
    return out


def _external_int(t, key: str) -> int | None:
    """An ``external_data`` entry (``offset``/``length``) as an int; None when absent; a lie is an error."""
    for entry in t.external_data:
        if entry.key == key:
            value = entry.value
            if not (value.isascii() and value.isdigit() and len(value) <= 18):
                raise FileFormatError(f"initializer '{shown(t.name, 80)}' has an invalid external-data {key} '{shown(value, 24)}'")
            return int(value)
    return None


def _initializer(t, raw_length: int | None = None) -> TensorInfo:
    """One initializer's dtype, shape and byte size, checked: no negative or astronomical shapes, no lying lengths."""
    label = shown(t.name, 80)
    name, bits = _ONNX_TYPES.get(t.data_type, (f"type{t.data_type}", 0))  # a newer type: sized by its external length
    shape = tuple(int(d) for d in t.dims)
    if len(shape) > MAX_DIMS:
        raise FileFormatError(f"initializer '{label}' has {len(shape)} dimensions")
    if any(d < 0 for d in shape):
        raise FileFormatError(f"initializer '{label}' has a negative dimension")
    numel = 1
    for d in shape:
        numel *= d
    if numel > MAX_ELEMENTS:
        raise FileFormatError(f"initializer '{label}' claims {numel:,} elements, more than any model holds")
    nbytes = (numel * bits + 7) // 8
    length = _external_int(t, "length")
    _external_int(t, "offset")
    if length is not None:
        if bits and length != nbytes:
            raise FileFormatError(
                f"initializer '{label}' is {name}{list(shape)} ({nbytes:,} bytes) but its external data claims {length:,} bytes"
            )
        nbytes = length
    elif t.data_location != 1 and bits and raw_length and raw_length != nbytes:
        raise FileFormatError(f"initializer '{label}' is {name}{list(shape)} ({nbytes:,} bytes) but holds {raw_length:,} bytes")
    return TensorInfo(name=t.name, dtype=name, shape=shape, nbytes=nbytes)


def source_from_onnx(path: Path) -> ModelSource:
    """A :class:`ModelSource` for an ``.onnx`` file (architecture from a config.json beside it)."""
    try:
        size = path.stat().st_size
    except OSError as err:
        raise SourceError(f"cannot read {path}: {err.strerror or err}") from None
    if size > MAX_ONNX_BYTES:
        raise FileFormatError(f"{path.name}: {size:,} bytes is more than a single ONNX file can hold")
    try:
        import onnx  # noqa: F401 - the graph is parsed by onnx's protobuf classes
    except ImportError:  # pragma: no cover - onnx is a dependency
        raise SourceError("reading .onnx files needs the onnx package (pip install onnx)") from None
    from lmscope.core.sources.onnx_wire import check_onnx_structure, load_onnx_structure

    try:
        check_onnx_structure(path)  # a file of millions of tiny messages is refused before protobuf builds them
    except OSError as err:
        raise SourceError(f"cannot read {shown(path)}: {err.strerror or shown(err)}") from None
    try:
        model, raw_lengths = load_onnx_structure(path)  # the graph without the weights' bytes
    except OSError as err:
        raise SourceError(f"cannot read {path}: {err.strerror or err}") from None
    except LmscopeError:
        raise
    except Exception as err:  # noqa: BLE001 - protobuf raises DecodeError and friends
        raise FileFormatError(f"{path.name}: not a readable ONNX model ({type(err).__name__})") from None
    graph = model.graph
    if not model.opset_import and not len(graph.node):
        raise FileFormatError(f"{path.name}: not a readable ONNX model (no graph)")
    if len(raw_lengths) != len(graph.initializer):
        raw_lengths = [None] * len(graph.initializer)
    try:
        tensors = tuple(_initializer(t, raw) for t, raw in zip(graph.initializer, raw_lengths, strict=True))
    except FileFormatError as err:
        raise FileFormatError(f"{path.name}: {err}") from None
    inline = sum(info.nbytes for t, info in zip(graph.initializer, tensors) if t.data_location != 1)
    if inline > size:
        raise FileFormatError(f"{path.name}: its initializers claim {inline:,} bytes of data inside a {size:,}-byte file")
    ops = Counter(node.op_type for node in graph.node)
    opsets = {(o.domain or "ai.onnx"): int(o.version) for o in model.opset_import}
    external = sum(1 for t in graph.initializer if t.data_location == 1)
    initializer_names = {t.name for t in graph.initializer}
    facts: dict[str, object] = {
        "format": "onnx",
        "ir_version": int(model.ir_version),
        "opset": opsets.get("ai.onnx"),
        "opsets": opsets,
        "producer": f"{model.producer_name} {model.producer_version}".strip() or None,
        # IR < 4 lists initializers among the inputs too; a runtime feeds only the others
        "inputs": _value_info(v for v in graph.input if v.name not in initializer_names),
        "outputs": _value_info(graph.output),
        "node_count": len(graph.node),
        "op_counts": dict(ops.most_common()),
        "initializer_count": len(tensors),
        "external_initializers": external,
        "file_bytes": size,
    }
    notes: list[str] = []
    if external:
        notes.append(f"{external} initializer(s) live in external data files (sizes from the graph; data not read)")
    stored = StoredTensors(source="onnx", tensors=tensors, notes=tuple(notes))
    config_path = path.parent / "config.json"
    source_notes: list[str] = []
    if config_path.is_file():
        from lmscope.core.sources.local import load_config_files

        try:
            files = load_config_files(path.parent)
            source_notes.append("architecture from the config.json beside the ONNX file")
        except LmscopeError as err:
            from lmscope.core.architecture import ConfigFiles

            files = ConfigFiles(config={})
            source_notes.append(f"config.json beside the ONNX file is unusable: {err}")
    else:
        from lmscope.core.architecture import ConfigFiles

        files = ConfigFiles(config={})
        source_notes.append("no config.json beside the ONNX file: architecture unknown, only the graph is described")
    return ModelSource(
        model_id=path.stem,
        kind="onnx",
        files=files,
        location=str(path),
        stored=stored,
        notes=tuple(source_notes),
        file_facts={k: v for k, v in facts.items() if v is not None},
    )
