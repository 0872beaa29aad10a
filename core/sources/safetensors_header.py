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

This module is the one owner of the safetensors format in lmscope: the local
source, the remote header reader (``core/hub/headers.py``, ranged reads) and
the weights engine's memory-mapped reader (``core/weights/readers.py``) all
use its dtype table, header-length check and entry validation.
"""

from __future__ import annotations

import os
import re
import struct
from pathlib import Path

from lmscope.core.errors import FileFormatError, SourceError
from lmscope.core.redact import shown
from lmscope.core.sources.base import StoredTensors, TensorInfo
from lmscope.core.sources.bounded_json import load_bounded

MAX_HEADER_BYTES = 100_000_000  # safetensors' own limit (MAX_HEADER_SIZE in the reference implementation)
# A header is {name: {dtype, shape, data_offsets}} (depth 3) plus a flat __metadata__: its parse may
# build this much at most (bounded_json's estimate) — a 100 MB header of "[{},{},...]" would be 2.5 GB.
MAX_HEADER_MEMORY = 512 * 1024 * 1024
MAX_DIMS = 16
MAX_OFFSET = 1 << 56  # 64 PiB: an offset past this is a lie whatever the file (and would print as hundreds of digits)
MAX_BITS_PER_ELEMENT = 256  # an unknown dtype wider than this (or narrower than 1 bit) is a lie
MAX_DIM = 1 << 48
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


def dtype_nbytes(dtype: str, numel: int) -> int | None:
    """Bytes ``numel`` elements of ``dtype`` take in a safetensors file (None for an unknown dtype)."""
    bits = DTYPE_BITS.get(dtype)
    return None if bits is None else (numel * bits + 7) // 8


def header_length(prefix: bytes, *, filename: str, file_size: int | None) -> int:
    """The JSON header length from a file's first 8 bytes, checked before anything is allocated.

    Refuses a length over :data:`MAX_HEADER_BYTES`, an empty header, and
    (when ``file_size`` is known) a header longer than the file.
    """
    if len(prefix) < 8:
        raise FileFormatError(f"{filename} is too short to be a safetensors file ({len(prefix)} bytes)")
    (n,) = struct.unpack("<Q", prefix[:8])
    if n > MAX_HEADER_BYTES:
        raise FileFormatError(f"{filename} claims a {n:,}-byte safetensors header (more than {MAX_HEADER_BYTES:,}); refusing it")
    if n < 2:
        raise FileFormatError(f"{filename} has an empty safetensors header")
    if file_size is not None and 8 + n > file_size:
        raise FileFormatError(
            f"{filename}: truncated safetensors file (the header claims {n:,} bytes but the file has only {file_size:,} bytes)"
        )
    return n


def read_header_file(path: str | os.PathLike[str], *, filename: str | None = None) -> tuple[tuple[TensorInfo, ...], int]:
    """The tensors of a local ``.safetensors`` file and the byte offset where its data section starts.

    ``filename`` names the file in messages (default: its name). Every
    :class:`TensorInfo` carries its ``data_offsets`` (relative to the data
    section). Raises :class:`FileFormatError` (one line naming the file) for a
    truncated, oversized or lying header, :class:`SourceError` when the file
    cannot be read.
    """
    path = Path(path)
    filename = filename or path.name
    try:
        with path.open("rb") as handle:
            file_size = os.fstat(handle.fileno()).st_size
            n = header_length(handle.read(8), filename=filename, file_size=file_size)
            raw = handle.read(n)
    except OSError as err:
        raise SourceError(f"cannot read {path}: {err.strerror or err}") from None
    if len(raw) != n:
        raise FileFormatError(f"{filename}: the safetensors header is truncated ({len(raw):,} of {n:,} bytes)")
    return parse_safetensors_header(raw, filename=filename, file_size=file_size), 8 + n


def read_safetensors_header(path: str | os.PathLike[str]) -> tuple[TensorInfo, ...]:
    """The tensors one ``.safetensors`` file stores, from its header only (messages name ``folder/file``)."""
    path = Path(path)
    label = f"{path.parent.name}/{path.name}" if path.parent.name else path.name
    return read_header_file(path, filename=label)[0]


def parse_safetensors_header(raw: bytes, *, filename: str, file_size: int | None) -> tuple[TensorInfo, ...]:
    """Validate and decode a header's JSON bytes into :class:`TensorInfo` records (with ``data_offsets``).

    ``file_size`` is the whole file's size (None when unknown, e.g. a remote
    header read without it); every tensor's ``data_offsets`` must then lie
    within the data section after the header. Every tensor of a known dtype
    must span exactly dtype × shape bytes; a dtype newer than
    :data:`DTYPE_BITS` is trusted by its byte range. ``__metadata__`` is skipped.
    """
    try:
        header = load_bounded(raw, name="header", error=FileFormatError, budget=MAX_HEADER_MEMORY, max_depth=8)
    except FileFormatError as err:
        # "header is not valid JSON" / "holds N JSON values ..." / "nested more than 8 levels"
        raise FileFormatError(f"{filename}: the safetensors {err}") from None
    if not isinstance(header, dict):
        raise FileFormatError(f"{filename}: the safetensors header is not a JSON object")
    data_size = None if file_size is None else file_size - 8 - len(raw)
    tensors: list[TensorInfo] = []
    for tensor_name, entry in header.items():
        if tensor_name == "__metadata__":
            continue
        tensors.append(_tensor_info(tensor_name, entry, data_size, filename))
    return tuple(tensors)


def _tensor_info(tensor_name: str, entry: object, data_size: int | None, name: str) -> TensorInfo:
    if not isinstance(entry, dict):
        raise FileFormatError(f"{name}: tensor '{shown(tensor_name, 80)}' has a malformed header entry (not an object)")
    dtype = entry.get("dtype")
    shape = entry.get("shape")
    offsets = entry.get("data_offsets")
    if not isinstance(dtype, str) or not _DTYPE_NAME.match(dtype):
        raise FileFormatError(f"{name}: tensor '{shown(tensor_name, 80)}' has an invalid dtype {str(dtype)[:20]!r}")
    if not isinstance(shape, list) or len(shape) > MAX_DIMS or not all(type(d) is int for d in shape):
        raise FileFormatError(f"{name}: tensor '{shown(tensor_name, 80)}' has an invalid shape")
    if any(d < 0 for d in shape):
        raise FileFormatError(f"{name}: tensor '{shown(tensor_name, 80)}' has a negative shape {shown(shape, 80)}")
    if any(d >= MAX_DIM for d in shape):
        raise FileFormatError(f"{name}: tensor '{shown(tensor_name, 80)}' has an invalid shape (a dimension of 2^48 or more)")
    if not isinstance(offsets, list) or len(offsets) != 2 or not all(type(o) is int for o in offsets):
        raise FileFormatError(f"{name}: tensor '{shown(tensor_name, 80)}' has invalid data_offsets")
    begin, end = offsets
    if not 0 <= begin <= end or end >= MAX_OFFSET:
        raise FileFormatError(f"{name}: tensor '{shown(tensor_name, 80)}' has invalid data_offsets {shown(offsets, 80)} (a negative or reversed byte range)")
    numel = 1
    for d in shape:
        numel *= d
    expected = dtype_nbytes(dtype, numel)  # None: a dtype newer than this table, trusted by its byte range
    if expected is not None and end - begin != expected:
        raise FileFormatError(
            f"{name}: tensor '{shown(tensor_name, 80)}' is {dtype}{shown(shape, 80)} ({expected:,} bytes) but its header gives {end - begin:,} bytes"
        )
    if expected is None and not numel <= 8 * (end - begin) <= MAX_BITS_PER_ELEMENT * numel:
        # an unknown dtype is trusted by its byte range only within 1..256 bits an element:
        # never 10^28 elements in zero bytes
        raise FileFormatError(
            f"{name}: tensor '{shown(tensor_name, 80)}' of unknown dtype {dtype} claims {numel:,} elements "
            f"in {end - begin:,} bytes; refusing it"
        )
    if data_size is not None and end > data_size:
        raise FileFormatError(
            f"{name}: tensor '{shown(tensor_name, 80)}' ends at byte {end:,}, past the end of the file's data "
            f"({data_size:,} bytes; truncated or lying file)"
        )
    return TensorInfo(name=tensor_name, dtype=dtype, shape=tuple(shape), nbytes=end - begin, data_offsets=(begin, end))


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
