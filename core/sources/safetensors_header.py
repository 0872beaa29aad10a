"""Read what a local ``.safetensors`` file stores without reading its weights.

A safetensors file starts with an 8-byte little-endian header length and a
JSON header ``{name: {dtype, shape, data_offsets}}``. That header is the
ground truth for the *stored* parameter count (tied embeddings stored twice,
MTP layers, packed INT4 all show up here and nowhere else), so it is read for
every local checkpoint.

Files are untrusted: a header may claim 2^60 bytes or offsets beyond the end
of the file. Every length is checked against the real file size (and a
100 MB cap) *before* anything is allocated, and every tensor's byte range
must lie inside the data section and match its dtype × shape.
"""

from __future__ import annotations

import json
import os
import re
import struct
from pathlib import Path

from lmscope.core.errors import FileFormatError, SourceError
from lmscope.core.sources.base import StoredTensors, TensorInfo

MAX_HEADER_BYTES = 100 * 1024 * 1024
SOURCE_NAME = "safetensors-header"
_DTYPE_NAME = re.compile(r"^[A-Z][A-Z0-9_]{0,15}$")

# Bits per element of every dtype the safetensors format names (F8/F4 variants
# are one byte / half a byte; sub-byte types are packed).
DTYPE_BITS: dict[str, int] = {
    "BOOL": 8,
    "U8": 8,
    "I8": 8,
    "F8_E5M2": 8,
    "F8_E4M3": 8,
    "F8_E8M0": 8,
    "F4": 4,
    "F6_E2M3": 6,
    "F6_E3M2": 6,
    "I16": 16,
    "U16": 16,
    "F16": 16,
    "BF16": 16,
    "I32": 32,
    "U32": 32,
    "F32": 32,
    "I64": 64,
    "U64": 64,
    "F64": 64,
    "C64": 64,
}


def read_safetensors_header(path: str | os.PathLike[str]) -> tuple[TensorInfo, ...]:
    """The tensors one ``.safetensors`` file stores, from its header only.

    Raises :class:`FileFormatError` (one line naming the file) for a
    truncated, oversized or lying header, :class:`SourceError` when the file
    cannot be read.
    """
    path = Path(path)
    label = f"{path.parent.name}/{path.name}" if path.parent.name else path.name
    try:
        with path.open("rb") as handle:
            file_size = os.fstat(handle.fileno()).st_size
            if file_size < 8:
                raise FileFormatError(f"{label}: not a safetensors file (only {file_size} bytes)")
            (header_len,) = struct.unpack("<Q", handle.read(8))
            if header_len > file_size - 8:
                raise FileFormatError(
                    f"{label}: safetensors header claims {header_len:,} bytes but the file has {file_size - 8:,} after the length"
                )
            if header_len > MAX_HEADER_BYTES:
                raise FileFormatError(f"{label}: safetensors header of {header_len:,} bytes exceeds the 100 MB limit")
            raw = handle.read(header_len)
    except OSError as err:
        raise SourceError(f"cannot read {path}: {err.strerror or err}") from None
    if len(raw) != header_len:
        raise FileFormatError(f"{label}: truncated safetensors header")
    return parse_safetensors_header(raw, data_size=file_size - 8 - header_len, name=label)


def parse_safetensors_header(raw: bytes, *, data_size: int | None, name: str) -> tuple[TensorInfo, ...]:
    """Validate and decode a header's JSON bytes into :class:`TensorInfo` records.

    ``data_size`` is the number of bytes after the header (None when unknown,
    e.g. a remote header read without the file size); every tensor's
    ``data_offsets`` must lie within it and span exactly dtype × shape bytes.
    ``__metadata__`` is skipped.
    """
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise FileFormatError(f"{name}: safetensors header is not valid JSON") from None
    if not isinstance(header, dict):
        raise FileFormatError(f"{name}: safetensors header is not a JSON object")
    tensors: list[TensorInfo] = []
    for tensor_name, entry in header.items():
        if tensor_name == "__metadata__":
            continue
        tensors.append(_tensor_info(tensor_name, entry, data_size, name))
    return tuple(tensors)


def _tensor_info(tensor_name: str, entry: object, data_size: int | None, name: str) -> TensorInfo:
    if not isinstance(entry, dict):
        raise FileFormatError(f"{name}: entry {tensor_name!r} is not an object")
    dtype = entry.get("dtype")
    shape = entry.get("shape")
    offsets = entry.get("data_offsets")
    if not isinstance(dtype, str) or not _DTYPE_NAME.match(dtype):
        raise FileFormatError(f"{name}: tensor {tensor_name!r} has an invalid dtype {str(dtype)[:20]!r}")
    if not isinstance(shape, list) or not all(type(d) is int and 0 <= d < 1 << 48 for d in shape) or len(shape) > 16:
        raise FileFormatError(f"{name}: tensor {tensor_name!r} has an invalid shape")
    if (
        not isinstance(offsets, list)
        or len(offsets) != 2
        or not all(type(o) is int for o in offsets)
        or not 0 <= offsets[0] <= offsets[1]
    ):
        raise FileFormatError(f"{name}: tensor {tensor_name!r} has invalid data_offsets")
    begin, end = offsets
    if data_size is not None and end > data_size:
        raise FileFormatError(
            f"{name}: tensor {tensor_name!r} ends at byte {end:,} but the data section has {data_size:,} bytes (truncated or lying file)"
        )
    if dtype not in DTYPE_BITS:  # a dtype newer than this table: trust the byte range
        return TensorInfo(name=tensor_name, dtype=dtype, shape=tuple(shape), nbytes=end - begin)
    numel = 1
    for d in shape:
        numel *= d
    expected_bits = numel * DTYPE_BITS[dtype]
    if (expected_bits + 7) // 8 != end - begin:
        raise FileFormatError(
            f"{name}: tensor {tensor_name!r} spans {end - begin:,} bytes but {dtype} {tuple(shape)} needs {(expected_bits + 7) // 8:,}"
        )
    return TensorInfo(name=tensor_name, dtype=dtype, shape=tuple(shape), nbytes=end - begin)


def read_safetensors_files(paths: list[Path]) -> StoredTensors:
    """Headers of several shards merged into one :class:`StoredTensors`.

    A tensor name appearing in two shards is an error (a checkpoint stores
    each tensor once).
    """
    seen: set[str] = set()
    tensors: list[TensorInfo] = []
    for path in sorted(paths):
        for info in read_safetensors_header(path):
            if info.name in seen:
                raise FileFormatError(f"{path.name}: tensor {info.name!r} is stored in more than one shard")
            seen.add(info.name)
            tensors.append(info)
    notes = (f"read {len(paths)} safetensors header(s)",)
    return StoredTensors(source=SOURCE_NAME, tensors=tuple(tensors), notes=notes)
