"""What a Hub checkpoint really stores, read from its safetensors headers alone.

A safetensors file starts with an 8-byte little-endian header length and a
JSON header naming every tensor's dtype, shape and byte range. Two small
ranged reads per shard (usually one, sized from the index's tensor count) give
the stored parameter count per dtype, per layer, and spot what config-based
counts miss (tied embeddings stored twice, MTP layers, packed INT4) — without
downloading a single weight.

Shards are read concurrently with a bounded pool (a 163-shard DeepSeek-V3 is
163 small requests, ``max_workers`` at a time). Each header is checked before
it is trusted: the claimed length must fit the file and stay under 100 MB,
every tensor's byte range must match its dtype × shape and lie inside the
file; a lying header is a one-line :class:`FileFormatError`.

URLs come from ``huggingface_hub.hf_hub_url`` and requests go through its
shared session (``get_session``), auth headers (``build_hf_headers``) and
error mapping (``hf_raise_for_status``).
"""

from __future__ import annotations

import json
import re
import struct
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from lmscope.core.errors import FileFormatError, HubError
from lmscope.core.hub.client import HubSettings, HubUnreachableError, call, hf, hub_settings, token_arg
from lmscope.core.hub.token import resolve_token
from lmscope.core.sources.base import HubMetadata, StoredTensors, TensorInfo

PROBE_BYTES = 64 * 1024  # first read per shard when its tensor count is unknown
HEADER_BYTES_PER_TENSOR = 192  # a generous estimate of one header entry (name, dtype, shape, offsets)
MIN_PROBE_BYTES = 8 * 1024
MAX_PROBE_BYTES = 1024 * 1024
MAX_HEADER_BYTES = 100_000_000  # refuse a header that claims more than this
SAFETENSORS_INDEX = "model.safetensors.index.json"

# bits per element for every safetensors dtype (sub-byte types are packed)
DTYPE_BITS: dict[str, int] = {
    "BOOL": 8,
    "U8": 8,
    "I8": 8,
    "F8_E4M3": 8,
    "F8_E5M2": 8,
    "F8_E8M0": 8,
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
    "F4": 4,
    "F6_E2M3": 6,
    "F6_E3M2": 6,
}

_LAYER_RE = re.compile(r"(?:^|\.)(?:layers|layer|h|blocks|block|decoder\.layers|encoder\.layers)\.(\d+)(?:\.|$)")


def dtype_nbytes(dtype: str, numel: int) -> int | None:
    """Bytes ``numel`` elements of ``dtype`` take in a safetensors file (None for an unknown dtype)."""
    bits = DTYPE_BITS.get(dtype)
    return None if bits is None else (numel * bits + 7) // 8


@dataclass(frozen=True)
class LayerStorage:
    """What one layer stores: parameters and bytes, per dtype (``layer`` None = not in a numbered layer)."""

    layer: int | None
    params: int
    nbytes: int
    params_by_dtype: dict[str, int] = field(default_factory=dict)

    @property
    def precision(self) -> str:
        """The dtype holding most of this layer's parameters ("mixed" never hides the main one)."""
        if not self.params_by_dtype:
            return "?"
        return max(self.params_by_dtype.items(), key=lambda kv: kv[1])[0]


def layer_index(name: str) -> int | None:
    """The layer number in a tensor name (``model.layers.12.mlp...`` → 12), or None."""
    m = _LAYER_RE.search(name)
    return int(m.group(1)) if m else None


def layer_storage(stored: StoredTensors) -> tuple[LayerStorage, ...]:
    """Per-layer totals (numbered layers in order, then everything else as ``layer=None``)."""
    acc: dict[int | None, list] = {}
    for t in stored.tensors:
        key = layer_index(t.name)
        entry = acc.setdefault(key, [0, 0, {}])
        entry[0] += t.numel
        entry[1] += t.nbytes
        entry[2][t.dtype] = entry[2].get(t.dtype, 0) + t.numel
    keys = sorted(k for k in acc if k is not None) + ([None] if None in acc else [])
    return tuple(LayerStorage(k, acc[k][0], acc[k][1], dict(acc[k][2])) for k in keys)


def bytes_by_dtype(stored: StoredTensors) -> dict[str, int]:
    """Stored bytes per dtype."""
    out: dict[str, int] = {}
    for t in stored.tensors:
        out[t.dtype] = out.get(t.dtype, 0) + t.nbytes
    return out


# ---------------------------------------------------------------------------
# Parsing and checking one header
# ---------------------------------------------------------------------------


def header_length(prefix: bytes, *, filename: str, file_size: int | None) -> int:
    """The JSON header length from the first 8 bytes, checked against the file size and our cap."""
    if len(prefix) < 8:
        raise FileFormatError(f"{filename} is too short to be a safetensors file ({len(prefix)} bytes)")
    (n,) = struct.unpack("<Q", prefix[:8])
    if n > MAX_HEADER_BYTES:
        raise FileFormatError(f"{filename} claims a {n:,}-byte safetensors header (more than {MAX_HEADER_BYTES:,}); refusing it")
    if n < 2:
        raise FileFormatError(f"{filename} has an empty safetensors header")
    if file_size is not None and 8 + n > file_size:
        raise FileFormatError(f"{filename} claims a {n:,}-byte header but the file has only {file_size:,} bytes")
    return n


def parse_header(raw: bytes, *, filename: str, file_size: int | None) -> list[TensorInfo]:
    """Tensors of one safetensors header (JSON bytes), every entry checked; a lie → ``FileFormatError``."""
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise FileFormatError(f"{filename}: the safetensors header is not valid JSON") from exc
    if not isinstance(header, dict):
        raise FileFormatError(f"{filename}: the safetensors header is not a JSON object")
    data_size = None if file_size is None else file_size - 8 - len(raw)
    out: list[TensorInfo] = []
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        try:
            dtype = str(entry["dtype"])
            shape = tuple(int(d) for d in entry["shape"])
            start, end = (int(x) for x in entry["data_offsets"])
        except (KeyError, TypeError, ValueError) as exc:
            raise FileFormatError(f"{filename}: tensor {name!r} has a malformed header entry") from exc
        if any(d < 0 for d in shape) or start < 0 or end < start:
            raise FileFormatError(f"{filename}: tensor {name!r} has a negative shape or byte range")
        numel = 1
        for d in shape:
            numel *= d
        expected = dtype_nbytes(dtype, numel)
        if expected is not None and end - start != expected:
            raise FileFormatError(
                f"{filename}: tensor {name!r} is {dtype}{list(shape)} ({expected:,} bytes) but its header gives {end - start:,} bytes"
            )
        if data_size is not None and end > data_size:
            raise FileFormatError(f"{filename}: tensor {name!r} ends at byte {end:,}, past the end of the file's data ({data_size:,})")
        out.append(TensorInfo(name=name, dtype=dtype, shape=shape, nbytes=end - start))
    return out


# ---------------------------------------------------------------------------
# Remote reads
# ---------------------------------------------------------------------------


def _read_range(url: str, headers: dict, start: int, length: int, timeout: float) -> bytes:
    """At most ``length`` bytes from ``start`` via a Range request (stops reading even if the server ignores Range)."""
    hub = hf()
    session = hub.utils.get_session()
    ranged = {**headers, "Range": f"bytes={start}-{start + length - 1}", "Accept-Encoding": "identity"}
    with session.stream("GET", url, headers=ranged, timeout=timeout, follow_redirects=True) as response:
        hub.utils.hf_raise_for_status(response)
        skip = start if response.status_code == 200 else 0  # Range ignored: the body starts at byte 0
        chunks: list[bytes] = []
        got = 0
        for chunk in response.iter_bytes():
            if skip:
                drop = min(skip, len(chunk))
                chunk, skip = chunk[drop:], skip - drop
            chunks.append(chunk)
            got += len(chunk)
            if got >= length:
                break
    return b"".join(chunks)[:length]


def probe_size(tensor_count: int | None, file_size: int | None) -> int:
    """How many bytes to read first: enough for the whole header in one request, little weight data.

    With the index's tensor count the header size is estimated (count × 192 B +
    1 KiB, between 8 KiB and 1 MiB); without it, 64 KiB. Never more than the file.
    """
    if tensor_count:
        probe = min(MAX_PROBE_BYTES, max(MIN_PROBE_BYTES, tensor_count * HEADER_BYTES_PER_TENSOR + 1024))
    else:
        probe = PROBE_BYTES
    return probe if file_size is None else max(8, min(probe, file_size))


def _read_shard(
    repo_id: str,
    filename: str,
    file_size: int | None,
    *,
    revision: str,
    token: str | None,
    settings: HubSettings,
    tensor_count: int | None = None,
) -> tuple[list[TensorInfo], int]:
    """Tensors of one remote shard and the bytes transferred for it."""
    hub = hf()
    url = hub.hf_hub_url(repo_id, filename, revision=revision, endpoint=settings.endpoint)
    headers = hub.utils.build_hf_headers(token=token_arg(token), library_name="lmscope")

    def fetch(start: int, length: int) -> bytes:
        return call(
            lambda: _read_range(url, headers, start, length, settings.timeout),
            what=f"the header of {filename} in {repo_id}",
            settings=settings,
            repo_id=repo_id,
            filename=filename,
            revision=revision,
            token=token,
        )

    first = fetch(0, probe_size(tensor_count, file_size))
    n = header_length(first, filename=filename, file_size=file_size)
    transferred = len(first)
    if 8 + n <= len(first):
        raw = first[8 : 8 + n]
    else:
        raw = fetch(8, n)
        transferred += len(raw)
        if len(raw) != n:
            raise FileFormatError(f"{filename}: the header is truncated ({len(raw):,} of {n:,} bytes)")
    return parse_header(raw, filename=filename, file_size=file_size), transferred


def shard_names(metadata: HubMetadata, index: dict | None) -> list[str]:
    """The safetensors files holding the weights: the index's shards, else the top-level .safetensors files."""
    if index is not None:
        weight_map = index.get("weight_map")
        if not isinstance(weight_map, dict) or not weight_map:
            raise FileFormatError(f"{SAFETENSORS_INDEX} of {metadata.repo_id} has no weight_map")
        return sorted({str(v) for v in weight_map.values()})
    return sorted(p for p, _ in metadata.files if p.endswith(".safetensors") and "/" not in p)


def remote_safetensors_headers(
    repo_id: str,
    revision: str | None = None,
    token: str | None = None,
    max_workers: int = 8,
    *,
    metadata: HubMetadata | None = None,
    index: dict | None = None,
    settings: HubSettings | None = None,
) -> StoredTensors:
    """Per-tensor dtype and shape for every safetensors shard of ``repo_id``, via ranged header reads only.

    ``metadata``/``index`` (from :func:`lmscope.core.hub.fetch.fetch_model`) save
    the requests that would fetch them again. At most ``max_workers`` shards are
    read at once. Raises ``HubError`` (no safetensors, Hub failures) or
    ``FileFormatError`` (a lying header).
    """
    settings = settings or hub_settings()
    token = resolve_token(token)
    if settings.offline:
        raise HubUnreachableError(f"offline mode: cannot read the remote safetensors headers of {repo_id}")
    if metadata is None:
        from lmscope.core.hub.info import model_metadata

        metadata = model_metadata(repo_id, revision, token, settings=settings)
    sizes = dict(metadata.files)
    if index is None and SAFETENSORS_INDEX in sizes:
        from lmscope.core.hub.fetch import load_json_file

        hub = hf()
        path = call(
            lambda: hub.hf_hub_download(
                repo_id,
                SAFETENSORS_INDEX,
                revision=revision or "main",
                cache_dir=settings.cache_dir,
                endpoint=settings.endpoint,
                token=token_arg(token),
                etag_timeout=settings.timeout,
                library_name="lmscope",
            ),
            what=f"{SAFETENSORS_INDEX} of {repo_id}",
            settings=settings,
            repo_id=repo_id,
            filename=SAFETENSORS_INDEX,
            token=token,
            bounded=True,
        )
        index = load_json_file(path, name=SAFETENSORS_INDEX, repo_id=repo_id)
    shards = shard_names(metadata, index)
    if not shards:
        formats = ", ".join(sorted(metadata.weight_bytes_by_format)) or "none"
        raise HubError(f"{repo_id} has no safetensors weights to read headers from (weight formats: {formats})")
    missing = [s for s in shards if s not in sizes]
    if missing and sizes:
        raise FileFormatError(f"{SAFETENSORS_INDEX} of {repo_id} names {missing[0]}, which the repo does not hold")
    pinned = metadata.sha or revision or "main"
    counts: dict[str, int] = {}
    for shard in (index or {}).get("weight_map", {}).values():
        counts[str(shard)] = counts.get(str(shard), 0) + 1

    def one(name: str) -> tuple[list[TensorInfo], int]:
        return _read_shard(
            repo_id, name, sizes.get(name), revision=pinned, token=token, settings=settings, tensor_count=counts.get(name)
        )

    workers = max(1, min(int(max_workers), len(shards)))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="lmscope-headers") as pool:
        results = list(pool.map(one, shards))
    tensors = tuple(t for found, _ in results for t in found)
    transferred = sum(n for _, n in results)
    notes = [
        f"read the headers of {len(shards)} safetensors file(s) with ranged requests "
        f"({transferred:,} bytes in all); no weight file downloaded"
    ]
    unknown = sorted({t.dtype for t in tensors if t.dtype not in DTYPE_BITS})
    if unknown:
        notes.append(f"unknown safetensors dtype(s) {', '.join(unknown)}: sizes taken from the header's byte ranges")
    return StoredTensors(source="safetensors-header", tensors=tensors, notes=tuple(notes))
