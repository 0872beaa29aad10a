"""Lazy, one-tensor-at-a-time access to stored weights: safetensors, GGUF, PyTorch .bin.

Every reader lists its tensors from metadata alone and hands out a
:class:`LazyTensor` per tensor: indexing its leading axis reads (and upcasts to
float64) just that slice from a memory map. The engine walks a matrix in row
chunks and a stacked expert tensor one expert at a time, so the resident set
is one chunk plus the Gram matrix, never the model.

safetensors is read through our own bounded header parser
(:mod:`lmscope.core.sources.safetensors_header`, shared with the other readers) plus ``numpy.memmap``
rather than ``safe_open``: safetensors' numpy framework cannot represent
bfloat16 (and torch is an optional dependency here), and we must validate the
header against the file size before trusting any offset anyway. Tests check our
values against ``safe_open`` itself. bf16 is widened exactly (the 16 bits become
the top half of a float32); FP8 (E4M3FN, E5M2) through a 256-entry table.

GGUF tensors are dequantised with ``gguf.quants.dequantize`` slice by slice;
.bin checkpoints go through ``torch.load(weights_only=True, mmap=True)`` (torch
imported only here).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from lmscope.core.errors import FileFormatError, SourceError
from lmscope.core.sources.base import TensorInfo
from lmscope.core.sources.safetensors_header import read_header_file

_ST_DTYPES: dict[str, str] = {
    # name -> numpy storage dtype (sizes and validation: core.sources.safetensors_header)
    "F64": "<f8",
    "F32": "<f4",
    "F16": "<f2",
    "BF16": "<u2",
    "F8_E4M3": "u1",
    "F8_E5M2": "u1",
    "F8_E8M0": "u1",
    "I64": "<i8",
    "I32": "<i4",
    "I16": "<i2",
    "I8": "i1",
    "U8": "u1",
    "U16": "<u2",
    "U32": "<u4",
    "U64": "<u8",
    "BOOL": "u1",
}
FLOAT_DTYPES = frozenset({"F64", "F32", "F16", "BF16", "F8_E4M3", "F8_E5M2", "F8_E8M0"})


@dataclass(frozen=True)
class LazyTensor:
    """A stored tensor that reads itself slice by slice.

    ``self[i]`` / ``self[a:b]`` index the leading axis and return float64.
    ``floating`` is False for integer/bool storage (packed quantized weights,
    indices), which get element statistics but no spectrum.
    """

    name: str
    dtype: str
    shape: tuple[int, ...]
    nbytes: int
    file: str
    floating: bool
    _read: Callable[[Any], np.ndarray]

    @property
    def numel(self) -> int:
        return math.prod(self.shape)  # 1 for a scalar's empty shape

    def __getitem__(self, index: Any) -> np.ndarray:
        return np.asarray(self._read(index), dtype=np.float64)

    def expert(self, e: int) -> LazyTensor:
        """The 2-D slice ``[e]`` of a stacked 3-D tensor, still lazy."""
        read = self._read
        per = self.nbytes // max(1, self.shape[0])

        def sub(index: Any) -> np.ndarray:
            return read((e, *index) if isinstance(index, tuple) else (e, index))

        return LazyTensor(f"{self.name}[{e}]", self.dtype, self.shape[1:], per, self.file, self.floating, sub)


@dataclass(frozen=True)
class WeightsCollection:
    """All tensors of one checkpoint (possibly several files), in file order."""

    format: str  # "safetensors" | "gguf" | "bin"
    files: tuple[str, ...]
    tensors: tuple[LazyTensor, ...]

    @property
    def total_bytes(self) -> int:
        return sum(t.nbytes for t in self.tensors)


# ---------------------------------------------------------------- conversions
def _bf16_to_f32(raw: np.ndarray) -> np.ndarray:
    return (np.asarray(raw, dtype=np.uint16).astype(np.uint32) << 16).view(np.float32)


def _fp8_table(exp_bits: int, man_bits: int, bias: int, ieee_special: bool) -> np.ndarray:
    out = np.empty(256, dtype=np.float32)
    for b in range(256):
        sign = -1.0 if b & 0x80 else 1.0
        e = (b >> man_bits) & ((1 << exp_bits) - 1)
        m = b & ((1 << man_bits) - 1)
        if ieee_special and e == (1 << exp_bits) - 1:
            out[b] = sign * np.inf if m == 0 else np.nan
        elif not ieee_special and e == (1 << exp_bits) - 1 and m == (1 << man_bits) - 1:
            out[b] = np.nan  # E4M3FN: only S.1111.111 is NaN, no infinities
        elif e == 0:
            out[b] = sign * (m / (1 << man_bits)) * 2.0 ** (1 - bias)
        else:
            out[b] = sign * (1 + m / (1 << man_bits)) * 2.0 ** (e - bias)
    return out


_FP8_E4M3 = _fp8_table(4, 3, 7, ieee_special=False)
_FP8_E5M2 = _fp8_table(5, 2, 15, ieee_special=True)
# E8M0 (MX block scales): a bare biased exponent, 2^(b−127); 0xFF is NaN
_FP8_E8M0 = np.array([np.nan if b == 0xFF else 2.0 ** (b - 127) for b in range(256)], dtype=np.float32)


def _converter(dtype: str) -> Callable[[np.ndarray], np.ndarray]:
    if dtype == "BF16":
        return _bf16_to_f32
    if dtype == "F8_E4M3":
        return lambda raw: _FP8_E4M3[np.asarray(raw)]
    if dtype == "F8_E5M2":
        return lambda raw: _FP8_E5M2[np.asarray(raw)]
    if dtype == "F8_E8M0":
        return lambda raw: _FP8_E8M0[np.asarray(raw)]
    return np.asarray


# ---------------------------------------------------------------- safetensors
def read_safetensors_header(path: str | os.PathLike[str]) -> tuple[tuple[TensorInfo, ...], int]:
    """The tensors of a safetensors file (each with its ``data_offsets``) and the offset where data starts.

    The shared parser checks the 8-byte length against the file size *before*
    reading the header, and every tensor's offsets against its dtype, shape and
    the file size; this reader also refuses dtypes it cannot map to numpy.
    Raises :class:`FileFormatError` (one line) on any inconsistency.
    """
    p = Path(path)
    tensors, data_start = read_header_file(p)
    for t in tensors:
        if t.dtype not in _ST_DTYPES:
            from lmscope.core.redact import shown

            raise FileFormatError(f"{p.name}: tensor '{shown(t.name, 80)}' has unknown dtype {t.dtype!r}")
    return tensors, data_start


def _offset(offsets: tuple[int, int] | None) -> int:
    """A tensor's first byte within the data section (read_safetensors_header has checked every entry has one)."""
    if offsets is None:  # pragma: no cover - the header reader refuses such an entry
        raise FileFormatError("a safetensors entry without data_offsets")
    return offsets[0]


def _safetensors_tensors(path: Path, only: set[str] | None = None) -> list[LazyTensor]:
    infos, start = read_safetensors_header(path)
    entries = sorted((t for t in infos if only is None or t.name in only), key=lambda t: _offset(t.data_offsets))
    out = []
    for t in entries:
        np_dtype = _ST_DTYPES[t.dtype]
        out.append(LazyTensor(t.name, t.dtype, t.shape, t.nbytes, str(path), t.dtype in FLOAT_DTYPES,
                              _memmap_reader(str(path), start + _offset(t.data_offsets), np_dtype, t.shape,
                                             _converter(t.dtype))))
    return out


def _memmap_reader(path: str, offset: int, np_dtype: str, shape: tuple[int, ...],
                   convert: Callable[[np.ndarray], np.ndarray]) -> Callable[[Any], np.ndarray]:
    def read(index: Any) -> np.ndarray:
        if 0 in shape:
            return np.zeros(shape, dtype=np.float64)[index]
        mm: np.ndarray = np.memmap(path, dtype=np.dtype(np_dtype), mode="r", offset=offset, shape=shape or (1,))
        if not shape:
            mm = mm.reshape(())
        return np.array(convert(mm[index]), dtype=np.float64)

    return read


# ---------------------------------------------------------------- GGUF
def _gguf_tensors(path: Path) -> list[LazyTensor]:
    try:
        import gguf
    except ImportError:  # pragma: no cover - gguf is a runtime dependency
        raise SourceError("reading GGUF needs the gguf package (pip install gguf)") from None
    from lmscope.core.sources.gguf_header import read_gguf_header

    read_gguf_header(path)  # bounded validation first: counts, lengths and offsets vs the file size
    try:
        reader = gguf.GGUFReader(str(path))
    except Exception as err:  # noqa: BLE001 - any parse failure is a bad file
        raise FileFormatError(f"{path.name}: not a readable GGUF file ({err.__class__.__name__}: {str(err)[:120]})") from None
    out = []
    for t in reader.tensors:
        shape = tuple(int(d) for d in reversed(t.shape.tolist()))
        qtype = t.tensor_type
        data = t.data
        floating = qtype.name not in ("I8", "I16", "I32", "I64")

        def read(index: Any, data: Any = data, qtype: Any = qtype, shape: tuple[int, ...] = shape) -> np.ndarray:
            sub = data[index]
            if qtype.name in ("F32", "F16", "F64", "I8", "I16", "I32", "I64"):
                return np.asarray(sub, dtype=np.float64)
            if qtype.name == "BF16":
                return _bf16_to_f32(np.asarray(sub).view(np.uint16)).astype(np.float64)
            return np.asarray(gguf.quants.dequantize(np.asarray(sub), qtype), dtype=np.float64)

        out.append(LazyTensor(t.name, qtype.name, shape, int(t.n_bytes), str(path), floating, read))
    return out


# ---------------------------------------------------------------- PyTorch .bin
def _bin_tensors(path: Path) -> list[LazyTensor]:
    try:
        import torch
    except ImportError:
        raise SourceError("reading .bin checkpoints needs torch (from a clone: pip install '.[torch]')") from None
    try:
        try:
            state = torch.load(str(path), map_location="cpu", weights_only=True, mmap=True)
        except RuntimeError:  # legacy (non-zip) format cannot be memory-mapped
            state = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - unpickling errors of every kind
        raise FileFormatError(f"{path.name}: not a readable PyTorch checkpoint ({err.__class__.__name__})") from None
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise FileFormatError(f"{path.name}: PyTorch checkpoint does not hold a state dict")
    out = []
    for name, t in state.items():
        if not isinstance(t, torch.Tensor):
            continue
        dtype = str(t.dtype).replace("torch.", "")
        floating = t.is_floating_point()

        def read(index: Any, t: Any = t) -> np.ndarray:
            return t[index].to(torch.float64).numpy()

        out.append(LazyTensor(name, dtype, tuple(t.shape), t.numel() * t.element_size(), str(path), floating, read))
    return out


# ---------------------------------------------------------------- entry point
WEIGHT_SUFFIXES = (".safetensors", ".gguf", ".bin", ".pt", ".pth")


def open_weights(path: str | os.PathLike[str]) -> WeightsCollection:
    """Every tensor of the checkpoint at ``path`` (a weights file or a folder).

    A folder is read as: a safetensors index (``*.safetensors.index.json``) →
    its shards; else every ``*.safetensors``; else a .bin index or ``*.bin``;
    else a single ``*.gguf``. Raises :class:`SourceError` when nothing is found.
    """
    from lmscope.core.redact import shown

    p = Path(path)
    try:
        if not p.exists():
            raise SourceError(f"no such file or folder: {shown(p)}")
        if p.is_file():
            return _open_file(p)
        if not p.is_dir():
            raise SourceError(f"{shown(p)}: not a regular file (a pipe, device or socket); give a weights file or a folder")
        return _open_folder(p)
    except PermissionError:
        raise SourceError(f"cannot read {shown(p)}: permission denied") from None
    except OSError as err:  # a name too long for the file system, an I/O error
        raise SourceError(f"cannot read {shown(p)}: {err.strerror or shown(err)}") from None


def _open_file(p: Path) -> WeightsCollection:
    name = p.name.lower()
    if name.endswith(".index.json"):
        return _open_index(p)
    if name.endswith(".safetensors"):
        return WeightsCollection("safetensors", (str(p),), tuple(_safetensors_tensors(p)))
    if name.endswith(".gguf"):
        return WeightsCollection("gguf", (str(p),), tuple(_gguf_tensors(p)))
    if name.endswith((".bin", ".pt", ".pth")):
        return WeightsCollection("bin", (str(p),), tuple(_bin_tensors(p)))
    raise SourceError(f"{p.name}: not a weights file (expected .safetensors, .gguf or .bin)")


MAX_INDEX_BYTES = 64 * 1024 * 1024  # the same cap as a report's (core.sources.local); a 1000-shard index is a few MB
MAX_INDEX_ENTRIES = 1_000_000  # tensors one index may name (DeepSeek-V3, 671 B parameters, names ~92,000)
MAX_SHARDS = 100_000


def read_index(index: Path) -> dict[str, str]:
    """The ``weight_map`` of a ``*.index.json`` (tensor name -> shard file), bounded in bytes, structure and entries.

    Raises :class:`FileFormatError` (one line) for an oversized, deeply nested,
    malformed or implausibly long index, and for a shard name that leaves the folder.
    """
    from lmscope.core.redact import shown
    from lmscope.core.sources.bounded_json import MAX_INDEX_MEMORY, load_bounded

    name = shown(index.name)
    try:
        size = index.stat().st_size
        if size > MAX_INDEX_BYTES:
            raise FileFormatError(f"{name} is {size:,} bytes, more than the {MAX_INDEX_BYTES // (1024 * 1024)} MB allowed for an index")
        with index.open("rb") as handle:
            raw = handle.read(MAX_INDEX_BYTES + 1)
    except OSError as err:
        raise SourceError(f"cannot read {shown(index)}: {err.strerror or shown(err)}") from None
    if len(raw) > MAX_INDEX_BYTES:
        raise FileFormatError(f"{name} is more than the {MAX_INDEX_BYTES // (1024 * 1024)} MB allowed for an index")
    data = load_bounded(raw, name=name, error=FileFormatError, max_depth=16, budget=MAX_INDEX_MEMORY)
    weight_map = data.get("weight_map") if isinstance(data, dict) else None
    if not isinstance(weight_map, dict):
        raise FileFormatError(f"{name}: not a valid weights index (no weight_map)")
    if len(weight_map) > MAX_INDEX_ENTRIES:
        raise FileFormatError(f"{name} names {len(weight_map):,} tensors, more than the {MAX_INDEX_ENTRIES:,} any checkpoint has; refusing it")
    for fname in weight_map.values():
        if not isinstance(fname, str) or not fname or "/" in fname or "\\" in fname or fname.startswith(".") or len(fname) > 255:
            raise FileFormatError(f"{name}: weight_map names an unsafe file '{shown(fname, 60)}'")
    return weight_map


def _open_index(index: Path) -> WeightsCollection:
    weight_map = read_index(index)
    by_file: dict[str, set[str]] = {}
    for tname, fname in weight_map.items():
        by_file.setdefault(fname, set()).add(tname)
    if len(by_file) > MAX_SHARDS:
        raise FileFormatError(f"{index.name} names {len(by_file):,} shard files; refusing it")
    is_st = index.name.endswith(".safetensors.index.json")
    tensors: list[LazyTensor] = []
    files = []
    for fname in sorted(by_file):
        shard = index.parent / fname
        if not shard.is_file():
            raise SourceError(f"{index.name}: shard {fname} is missing")  # fname: checked safe and <= 255 chars
        files.append(str(shard))
        if is_st:
            found = _safetensors_tensors(shard, by_file[fname])
        else:
            found = [t for t in _bin_tensors(shard) if t.name in by_file[fname]]
        missing = by_file[fname] - {t.name for t in found}
        if missing:
            from lmscope.core.redact import shown

            example = shown(min(missing), 80)
            raise FileFormatError(f"{fname}: index lists {len(missing):,} tensor(s) the shard does not hold, e.g. '{example}'")
        tensors.extend(found)
    return WeightsCollection("safetensors" if is_st else "bin", tuple(files), tuple(tensors))


def _files(d: Path, pattern: str) -> list[Path]:
    """Regular files in ``d`` matching ``pattern``, sorted (a FIFO named like a weights file would block a read)."""
    return sorted(p for p in d.glob(pattern) if p.is_file())


def _open_folder(d: Path) -> WeightsCollection:
    for pattern in ("*.safetensors.index.json",):
        idx = _files(d, pattern)
        if idx:
            return _open_index(idx[0])
    st = _files(d, "*.safetensors")
    if st:
        tensors: list[LazyTensor] = []
        for f in st:
            tensors.extend(_safetensors_tensors(f))
        return WeightsCollection("safetensors", tuple(map(str, st)), tuple(tensors))
    idx = _files(d, "*.bin.index.json")
    if idx:
        return _open_index(idx[0])
    bins = _files(d, "*.bin")
    if bins:
        tensors = []
        for f in bins:
            tensors.extend(_bin_tensors(f))
        return WeightsCollection("bin", tuple(map(str, bins)), tuple(tensors))
    ggufs = _files(d, "*.gguf")
    if len(ggufs) == 1:
        return _open_file(ggufs[0])
    if len(ggufs) > 1:
        raise SourceError(f"{d}: holds {len(ggufs)} GGUF files; pass one of them")
    raise SourceError(f"{d}: no weights found (*.safetensors, *.bin or *.gguf)")
