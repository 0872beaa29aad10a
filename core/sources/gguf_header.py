"""The GGUF binary header reader (llama.cpp files): metadata and tensor table, bounded.

Why a small reader of our own instead of ``gguf.GGUFReader``: the file is untrusted, so every
count, string length and array length is checked against the bytes that remain in the file
*before* anything is allocated — a lying file costs an error line, not the machine's memory.
Only the block sizes of the quantization types come from the ``gguf`` package (llama.cpp's own
table). Kept beside ``safetensors_header.py``: both read a weights file's header and nothing else.
"""

from __future__ import annotations

import mmap
import os
import struct
from dataclasses import dataclass
from pathlib import Path

from lmscope.core.errors import FileFormatError, SourceError
from lmscope.core.redact import shown
from lmscope.core.sources.base import TensorInfo

MAGIC = b"GGUF"


MAX_STRING_BYTES = 16 * 1024 * 1024


MAX_DIMS = 8


KEEP_ARRAY_ITEMS = 64  # longer arrays keep only their length (token lists are 100k+ long)


DEFAULT_ALIGNMENT = 32


# Far beyond any real file (llama.cpp writes ~40 metadata keys; DeepSeek-V3 has ~1,000 tensors), and
# what keeps the tables small: 10^7 tiny entries fit in a 100 MB file but not in memory as Python objects.
MAX_METADATA_ENTRIES = 65_536


MAX_TENSORS = 200_000


MAX_KEPT_STRING = 1024 * 1024  # a longer metadata string is skipped (kept as its length): a chat template is ~10 KB


# GGUF value type -> (struct format, size); 8 = string, 9 = array
_SCALARS: dict[int, tuple[str, int]] = {
    0: ("<B", 1),
    1: ("<b", 1),
    2: ("<H", 2),
    3: ("<h", 2),
    4: ("<I", 4),
    5: ("<i", 4),
    6: ("<f", 4),
    7: ("<?", 1),
    10: ("<Q", 8),
    11: ("<q", 8),
    12: ("<d", 8),
}


_STRING, _ARRAY = 8, 9


@dataclass(frozen=True)
class GGUFArray:
    """A long metadata array, kept as its length and element type only."""

    count: int
    item_type: int


@dataclass(frozen=True)
class GGUFLongString:
    """A metadata string longer than :data:`MAX_KEPT_STRING`, kept as its length only."""

    length: int


@dataclass(frozen=True)
class GGUFHeader:
    """What a GGUF file says about itself (metadata and tensor table, no data)."""

    version: int
    metadata: dict[str, object]
    tensors: tuple[TensorInfo, ...]
    alignment: int
    data_offset: int
    file_size: int


class _Cursor:
    """Bounds-checked little-endian reads over a memory-mapped file."""

    def __init__(self, buf: mmap.mmap | bytes, name: str) -> None:
        self.buf = buf
        self.pos = 0
        self.size = len(buf)
        self.name = name

    def fail(self, what: str) -> FileFormatError:
        return FileFormatError(f"{self.name}: {what} (truncated or corrupt GGUF file)")

    def remaining(self) -> int:
        return self.size - self.pos

    def take(self, n: int, what: str) -> bytes:
        if n < 0 or n > self.remaining():
            raise self.fail(f"{what} needs {n:,} bytes but only {self.remaining():,} remain")
        out = self.buf[self.pos : self.pos + n]
        self.pos += n
        return bytes(out)

    def scalar(self, fmt: str, size: int, what: str) -> int | float | bool:
        return struct.unpack(fmt, self.take(size, what))[0]

    def u32(self, what: str) -> int:
        return int(self.scalar("<I", 4, what))

    def u64(self, what: str) -> int:
        return int(self.scalar("<Q", 8, what))

    def string(self, what: str) -> str:
        length = self.u64(what + " length")
        if length > MAX_STRING_BYTES:
            raise self.fail(f"{what} claims {length:,} bytes")
        return self.take(length, what).decode("utf-8", errors="replace")


def _skip_strings(cur: _Cursor, count: int, key: str) -> None:
    """Skip ``count`` length-prefixed strings (token lists: hundreds of thousands) without copying them."""
    unpack = struct.Struct("<Q").unpack_from
    buf, pos, size = cur.buf, cur.pos, cur.size
    for _ in range(count):
        if pos + 8 > size:
            cur.pos = pos
            raise cur.fail(f"{key} is cut short")
        length = unpack(buf, pos)[0]
        pos += 8 + length
        if pos > size:
            cur.pos = size
            raise cur.fail(f"a string in {key} claims {length:,} bytes, more than remain")
    cur.pos = pos


def _value(cur: _Cursor, vtype: int, key: str, depth: int = 0) -> object:
    if vtype in _SCALARS:
        fmt, size = _SCALARS[vtype]
        return cur.scalar(fmt, size, key)
    if vtype == _STRING:
        if depth == 0:
            length = cur.u64(key + " length")
            if length > MAX_KEPT_STRING:
                if length > cur.remaining():
                    raise cur.fail(f"'{shown(key, 80)}' claims {length:,} bytes")
                cur.pos += length
                return GGUFLongString(length)
            cur.pos -= 8
        return cur.string(key)
    if vtype != _ARRAY:
        raise cur.fail(f"metadata '{shown(key, 80)}' has unknown value type {vtype}")
    if depth > 2:
        raise cur.fail(f"metadata '{shown(key, 80)}' nests arrays too deeply")
    item_type = cur.u32(key + " item type")
    count = cur.u64(key + " count")
    min_item = _SCALARS[item_type][1] if item_type in _SCALARS else 8  # strings/arrays need ≥ 8 bytes each
    if item_type not in _SCALARS and item_type not in (_STRING, _ARRAY):
        raise cur.fail(f"metadata '{shown(key, 80)}' has unknown array item type {item_type}")
    if count * min_item > cur.remaining():
        raise cur.fail(f"metadata '{shown(key, 80)}' claims {count:,} items, more than the file can hold")
    if count > KEEP_ARRAY_ITEMS:
        if item_type in _SCALARS:
            cur.pos += count * min_item
        elif item_type == _STRING:
            _skip_strings(cur, count, key)
        else:
            for _ in range(count):
                _value(cur, _ARRAY, key, depth + 1)
        return GGUFArray(count, item_type)
    return [_value(cur, item_type, key, depth + 1) for _ in range(count)]


def _quant_sizes() -> dict[int, tuple[str, int, int]]:
    """ggml type id -> (name, block size, bytes per block), from llama.cpp's table in ``gguf``."""
    from gguf.constants import GGML_QUANT_SIZES

    return {int(t): (t.name, block, size) for t, (block, size) in GGML_QUANT_SIZES.items()}


def read_gguf_header(path: str | os.PathLike[str]) -> GGUFHeader:
    """Parse a GGUF file's metadata and tensor table with every size checked first."""
    path = Path(path)
    try:
        with path.open("rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            if size < 24:
                raise FileFormatError(f"{path.name}: too small to be a GGUF file ({size} bytes)")
            with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as buf:
                return _parse(buf, path.name, size)
    except OSError as err:
        raise SourceError(f"cannot read {path}: {err.strerror or err}") from None


def _parse(buf: mmap.mmap, name: str, file_size: int) -> GGUFHeader:
    cur = _Cursor(buf, name)
    if cur.take(4, "magic") != MAGIC:
        raise FileFormatError(f"{name}: not a GGUF file (bad magic)")
    version = cur.u32("version")
    if version not in (2, 3):
        raise FileFormatError(f"{name}: GGUF version {version} is not supported (2 and 3 are)")
    tensor_count = cur.u64("tensor count")
    kv_count = cur.u64("metadata count")
    # each metadata pair needs ≥ 8 (key length) + 4 (type) + 1 bytes; each tensor ≥ 8 + 4 + 4 + 8
    if kv_count * 13 > cur.remaining() or kv_count > MAX_METADATA_ENTRIES:
        raise cur.fail(f"header claims {kv_count:,} metadata entries")
    if tensor_count * 24 > cur.remaining() or tensor_count > MAX_TENSORS:
        raise cur.fail(f"header claims {tensor_count:,} tensors")
    metadata: dict[str, object] = {}
    for _ in range(kv_count):
        key = cur.string("metadata key")
        vtype = cur.u32(f"type of '{shown(key, 80)}'")
        metadata[key] = _value(cur, vtype, key)
    sizes = _quant_sizes()
    raw_tensors = []
    for _ in range(tensor_count):
        tname = cur.string("tensor name")
        n_dims = cur.u32(f"dimension count of '{shown(tname, 80)}'")
        if not 0 < n_dims <= MAX_DIMS:
            raise cur.fail(f"tensor '{shown(tname, 80)}' has {n_dims} dimensions")
        dims = [cur.u64(f"shape of '{shown(tname, 80)}'") for _ in range(n_dims)]
        ttype = cur.u32(f"type of '{shown(tname, 80)}'")
        offset = cur.u64(f"offset of '{shown(tname, 80)}'")
        if ttype not in sizes:
            raise cur.fail(f"tensor '{shown(tname, 80)}' has unknown ggml type {ttype}")
        raw_tensors.append((tname, dims, ttype, offset))
    alignment = metadata.get("general.alignment", DEFAULT_ALIGNMENT)
    if not isinstance(alignment, int) or alignment <= 0 or alignment & (alignment - 1):
        raise cur.fail(f"general.alignment {alignment!r} is not a power of two")
    data_offset = -(-cur.pos // alignment) * alignment
    tensors = []
    for tname, dims, ttype, offset in raw_tensors:
        type_name, block, block_bytes = sizes[ttype]
        numel = 1
        for d in dims:
            numel *= d
        if numel > 1 << 50 or dims[0] % block:
            raise cur.fail(f"tensor '{shown(tname, 80)}' has an impossible shape {tuple(dims)} for {type_name}")
        nbytes = numel // block * block_bytes
        if data_offset + offset + nbytes > file_size:
            raise cur.fail(f"tensor '{shown(tname, 80)}' ends beyond the end of the file")
        # GGUF lists dimensions innermost first; show them in row-major (PyTorch) order
        tensors.append(TensorInfo(name=tname, dtype=type_name, shape=tuple(reversed(dims)), nbytes=nbytes))
    return GGUFHeader(version, metadata, tuple(tensors), alignment, data_offset, file_size)
