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
file; a lying header is a one-line :class:`FileFormatError`. The format itself
(dtype table, length check, entry validation) lives in
:mod:`lmscope.core.sources.safetensors_header`.

URLs come from ``huggingface_hub.hf_hub_url`` and requests go through its
shared session (``get_session``), auth headers (``build_hf_headers``) and
error mapping (``hf_raise_for_status``).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from lmscope.core.errors import FileFormatError, HubError
from lmscope.core.hub.client import HubSettings, HubUnreachableError, call, hf, hub_settings, token_arg
from lmscope.core.hub.token import resolve_token
from lmscope.core.sources.base import HubMetadata, StoredTensors, TensorInfo
from lmscope.core.sources.safetensors_header import DTYPE_BITS, SOURCE_NAME, header_length, parse_safetensors_header
from lmscope.core.tensor_names import layer_index

PROBE_BYTES = 64 * 1024  # first read per shard when its tensor count is unknown
HEADER_BYTES_PER_TENSOR = 192  # a generous estimate of one header entry (name, dtype, shape, offsets)
MIN_PROBE_BYTES = 8 * 1024
MAX_PROBE_BYTES = 1024 * 1024
SAFETENSORS_INDEX = "model.safetensors.index.json"


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
            raise FileFormatError(f"{filename}: the safetensors header is truncated ({len(raw):,} of {n:,} bytes)")
    return list(parse_safetensors_header(raw, filename=filename, file_size=file_size)), transferred


def shard_names(metadata: HubMetadata, index: dict | None) -> list[str]:
    """The safetensors files holding the weights: the index's shards, else the top-level .safetensors files."""
    if index is not None:
        weight_map = index.get("weight_map")
        if not isinstance(weight_map, dict) or not weight_map:
            raise FileFormatError(f"{SAFETENSORS_INDEX} of {metadata.repo_id} has no weight_map")
        return sorted({str(v) for v in weight_map.values()})
    return sorted(p for p, _ in metadata.files if p.endswith(".safetensors") and "/" not in p)


def remote_safetensors_shards(
    repo_id: str, revision: str | None = None, token: str | None = None, max_workers: int = 8,
) -> tuple[str, list[tuple[str, list[TensorInfo]]]]:
    """(commit, [(shard file name, its tensors)]) for ``repo_id``'s safetensors: headers only, no weights.

    What a distributed run needs on its driver: which tensor lives in which file
    of which commit, so that each worker can fetch its own shard of the same
    commit (``--ray`` on a Hub model that is not in the local cache).
    """
    shards, results, pinned = _shard_headers(repo_id, revision, token, max_workers)
    return pinned, [(shard, found) for shard, (found, _) in zip(shards, results)]


def _shard_headers(
    repo_id: str,
    revision: str | None,
    token: str | None,
    max_workers: int,
    *,
    metadata: HubMetadata | None = None,
    index: dict | None = None,
    settings: HubSettings | None = None,
) -> tuple[list[str], list[tuple[list[TensorInfo], int]], str]:
    """The shard names, per shard (tensors, bytes transferred), and the commit they were read at."""
    settings = settings or hub_settings()
    token = resolve_token(token)
    if settings.offline:
        raise HubUnreachableError(f"offline mode: cannot read the remote safetensors headers of {repo_id}")
    if metadata is None:
        from lmscope.core.hub.info import model_metadata

        metadata = model_metadata(repo_id, revision, token, settings=settings)
    sizes = dict(metadata.files)
    if index is None and SAFETENSORS_INDEX in sizes:
        from lmscope.core.hub.fetch import download_file, load_json_file

        path = download_file(repo_id, SAFETENSORS_INDEX, revision=revision, token=token, settings=settings)
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
    return shards, results, pinned


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
    shards, results, _ = _shard_headers(repo_id, revision, token, max_workers, metadata=metadata, index=index, settings=settings)
    tensors = tuple(t for found, _ in results for t in found)
    transferred = sum(n for _, n in results)
    notes = [
        f"read the headers of {len(shards)} safetensors file(s) with ranged requests "
        f"({transferred:,} bytes in all); no weight file downloaded"
    ]
    unknown = sorted({t.dtype for t in tensors if t.dtype not in DTYPE_BITS})
    if unknown:
        notes.append(f"unknown safetensors dtype(s) {', '.join(unknown)}: sizes taken from the header's byte ranges")
    return StoredTensors(source=SOURCE_NAME, tensors=tensors, notes=tuple(notes))
