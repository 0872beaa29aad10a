"""Fetch the small files that describe a Hub model — never its weights.

lmscope needs config.json, the tokenizer files, generation/quantization
configs and the safetensors index; each is a few KB (tokenizer.json can be
tens of MB, so it is size-capped). They go into the standard Hugging Face
cache with ``hf_hub_download``, so transformers, vLLM and a later offline run
all find them.

One ``model_info`` request first gives the file list with sizes: only files
that exist are requested (no 404 round trips), oversized ones are skipped
before downloading, and the metadata comes for free. When the Hub cannot be
reached (timeout, connection refused, rate limit beyond our budget) the cached
copy is used with a note; offline mode (``--offline``/``HF_HUB_OFFLINE=1``)
goes to the cache directly and says so.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from lmscope.core.architecture import ConfigFiles
from lmscope.core.errors import ConfigError, FileFormatError, HubError
from lmscope.core.hub.client import (
    HubRateLimitError,
    HubSettings,
    HubUnreachableError,
    cached_file,
    call,
    hf,
    hub_settings,
    token_arg,
)
from lmscope.core.hub.info import model_metadata
from lmscope.core.hub.token import resolve_token
from lmscope.core.redact import redact
from lmscope.core.sources.base import HubMetadata, ModelSource
from lmscope.core.sources.bounded_json import MAX_INDEX_MEMORY, MAX_JSON_MEMORY, load_bounded

CONFIG = "config.json"
TOKENIZER_CONFIG = "tokenizer_config.json"
TOKENIZER_JSON = "tokenizer.json"
GENERATION_CONFIG = "generation_config.json"
QUANT_CONFIGS = ("quantize_config.json", "quant_config.json", "hf_quant_config.json")
SAFETENSORS_INDEX = "model.safetensors.index.json"
WANTED = (CONFIG, TOKENIZER_CONFIG, TOKENIZER_JSON, GENERATION_CONFIG, *QUANT_CONFIGS, SAFETENSORS_INDEX)

MAX_TOKENIZER_BYTES = 50_000_000  # tokenizer.json above this is skipped (with a note)
MAX_INDEX_BYTES = 64 * 1024 * 1024  # a 1000-shard index is a few MB
MAX_JSON_BYTES = 16 * 1024 * 1024  # config/tokenizer_config/generation/quant configs
DOWNLOAD_WORKERS = 4


@dataclass(frozen=True)
class HubFetch:
    """The result of :func:`fetch_model`: parsed files, Hub metadata, where they are, and what to tell the user."""

    repo_id: str
    files: ConfigFiles
    metadata: HubMetadata | None
    location: str | None  # the cache snapshot folder holding the files
    revision: str | None  # the commit sha when known
    notes: tuple[str, ...] = ()
    from_cache_only: bool = False

    @property
    def note(self) -> str:
        return " ".join(self.notes)


def size_cap(name: str) -> int:
    """The largest size lmscope reads for the description file ``name``."""
    if name == TOKENIZER_JSON:
        return MAX_TOKENIZER_BYTES
    if name.endswith(".index.json"):
        return MAX_INDEX_BYTES
    return MAX_JSON_BYTES


def load_json_file(path: str, *, name: str, repo_id: str, cap: int | None = None) -> dict:
    """A JSON object from ``path``, size-checked before reading; malformed → one-line ``ConfigError``."""
    cap = size_cap(name) if cap is None else cap
    try:
        size = os.path.getsize(path)
        if size > cap:
            raise ConfigError(f"{name} of {repo_id} is {size:,} bytes, more than the {cap:,} lmscope reads")
        with open(path, "rb") as fh:
            raw = fh.read(cap + 1)
    except OSError as exc:
        raise ConfigError(redact(f"cannot read {name} of {repo_id}: {exc.strerror or exc}")) from exc
    if len(raw) > cap:
        raise ConfigError(f"{name} of {repo_id} is more than the {cap:,} bytes lmscope reads")
    budget = MAX_INDEX_MEMORY if name.endswith(".index.json") else MAX_JSON_MEMORY
    data = load_bounded(raw, name=f"{name} of {repo_id}", budget=budget)  # structure measured first: no memory bombs
    if not isinstance(data, dict):
        raise ConfigError(f"{name} of {repo_id} is not a JSON object (found {type(data).__name__})")
    return data


def parse_config_files(paths: dict[str, str], *, repo_id: str) -> ConfigFiles:
    """Build :class:`ConfigFiles` from ``{file name: local path}`` (config.json required)."""
    if CONFIG not in paths:
        raise ConfigError(f"{repo_id} has no config.json")
    loaded = {
        name: load_json_file(path, name=name, repo_id=repo_id) for name, path in paths.items() if name != TOKENIZER_JSON
    }
    quant_name = next((q for q in QUANT_CONFIGS if q in loaded), None)
    extra = {name: data for name, data in loaded.items() if name in QUANT_CONFIGS and name != quant_name}
    return ConfigFiles(
        config=loaded[CONFIG],
        tokenizer_config=loaded.get(TOKENIZER_CONFIG),
        tokenizer_json_path=paths.get(TOKENIZER_JSON),
        generation_config=loaded.get(GENERATION_CONFIG),
        quantize_config=loaded.get(quant_name) if quant_name else None,
        safetensors_index=loaded.get(SAFETENSORS_INDEX),
        extra=extra,
    )


def _from_cache(repo_id: str, revision: str | None, settings: HubSettings) -> dict[str, str]:
    out: dict[str, str] = {}
    for name in WANTED:
        path = cached_file(repo_id, name, revision=revision, settings=settings)
        if path is None:
            continue
        if name == TOKENIZER_JSON and os.path.getsize(path) > MAX_TOKENIZER_BYTES:
            continue
        out[name] = path
    return out


def _cache_result(
    repo_id: str,
    revision: str | None,
    settings: HubSettings,
    note: str,
    error: HubError,
    metadata: HubMetadata | None = None,
) -> HubFetch:
    paths = _from_cache(repo_id, revision, settings)
    if CONFIG not in paths:
        raise type(error)(f"{error} — and {repo_id} is not in the local Hugging Face cache ({settings.cache_dir})")
    files = parse_config_files(paths, repo_id=repo_id)
    location = os.path.dirname(paths[CONFIG])
    sha = os.path.basename(location) or None
    return HubFetch(repo_id, files, metadata, location, sha, (note,), from_cache_only=True)


def download_file(repo_id: str, name: str, *, revision: str | None, token: str | None, settings: HubSettings) -> str:
    """Local path of ``name`` from ``repo_id`` (``revision`` or main) via ``hf_hub_download`` into the HF cache.

    Retries and error mapping by :func:`~lmscope.core.hub.client.call`, each attempt time-bounded.
    """
    hub = hf()
    return call(
        lambda: hub.hf_hub_download(
            repo_id,
            name,
            revision=revision or "main",
            cache_dir=settings.cache_dir,
            endpoint=settings.endpoint,
            token=token_arg(token),
            etag_timeout=settings.timeout,
            library_name="lmscope",
        ),
        what=f"{name} of {repo_id}",
        settings=settings,
        repo_id=repo_id,
        filename=name,
        revision=revision,
        token=token,
        bounded=True,
    )


def fetch_model(
    repo_id: str,
    revision: str | None = None,
    token: str | None = None,
    offline: bool = False,
    *,
    settings: HubSettings | None = None,
) -> HubFetch:
    """Description files of ``repo_id`` (cache first when offline), its Hub metadata and notes. No weights."""
    settings = settings or hub_settings(offline=offline)
    token = resolve_token(token)
    if settings.offline:
        err = HubUnreachableError(f"offline mode (--offline or HF_HUB_OFFLINE=1): cannot download {repo_id}")
        return _cache_result(repo_id, revision, settings, "offline mode: read from the local Hugging Face cache", err)
    try:
        meta = model_metadata(repo_id, revision, token, settings=settings)
    except (HubUnreachableError, HubRateLimitError) as exc:
        return _cache_result(repo_id, revision, settings, f"the Hub could not be used ({exc}); using the cached copy", exc)
    sizes = dict(meta.files)
    if CONFIG not in sizes:
        formats = ", ".join(sorted(meta.weight_bytes_by_format)) or "no known weight files"
        raise HubError(
            f"{repo_id} has no config.json at its top level ({formats}); pass a local .gguf/.onnx file or a folder instead"
        )
    notes: list[str] = []
    wanted: list[str] = []
    for name in WANTED:
        if name not in sizes:
            continue
        size = sizes[name]
        if size is not None and size > size_cap(name):
            notes.append(f"{name} skipped: {size:,} bytes is more than the {size_cap(name):,} lmscope reads")
            continue
        wanted.append(name)
    pinned = meta.sha or revision

    def get(name: str) -> str:
        if pinned:
            cached = cached_file(repo_id, name, revision=pinned, settings=settings)
            if cached is not None:
                return cached
        return download_file(repo_id, name, revision=revision, token=token, settings=settings)

    try:
        with ThreadPoolExecutor(max_workers=max(1, min(DOWNLOAD_WORKERS, len(wanted)))) as pool:
            paths = dict(zip(wanted, pool.map(get, wanted)))
    except (HubUnreachableError, HubRateLimitError) as exc:  # the Hub went away between the two steps
        note = f"downloading from the Hub failed ({exc}); using the cached copy"
        return _cache_result(repo_id, revision, settings, note, exc, meta)
    files = parse_config_files(paths, repo_id=repo_id)
    location = os.path.dirname(paths[CONFIG])
    return HubFetch(repo_id, files, meta, location, meta.sha, tuple(notes))


def fetch_config_files(
    repo_id: str,
    revision: str | None = None,
    token: str | None = None,
    offline: bool = False,
) -> tuple[ConfigFiles, HubMetadata | None, str]:
    """``(files, metadata, note)`` for a Hub model: its description files (never weights) via the HF cache.

    ``metadata`` is None when the files came from the cache only (offline or
    the Hub unreachable); ``note`` says so ("" when there is nothing to say).
    Raises one-line ``HubError``/``ConfigError`` subclasses.
    """
    result = fetch_model(repo_id, revision, token, offline)
    return result.files, result.metadata, result.note


def model_source(
    repo_id: str,
    revision: str | None = None,
    token: str | None = None,
    offline: bool = False,
    *,
    headers: bool = False,
    max_workers: int = 8,
) -> ModelSource:
    """A ``ModelSource(kind="hub")`` for ``repo_id``; with ``headers=True`` also the remote safetensors headers.

    A failed header scan (no safetensors, unreachable) is a note, not an error:
    the description files are enough for every estimate.
    """
    result = fetch_model(repo_id, revision, token, offline)
    notes = list(result.notes)
    stored = None
    if headers and result.metadata is not None:
        from lmscope.core.hub.headers import remote_safetensors_headers

        try:
            stored = remote_safetensors_headers(
                repo_id,
                revision,
                token,
                max_workers=max_workers,
                metadata=result.metadata,
                index=result.files.safetensors_index,
            )
        except (HubError, FileFormatError) as exc:
            notes.append(f"safetensors headers not read: {exc}")
    return ModelSource(
        model_id=repo_id,
        kind="hub",
        files=result.files,
        location=result.location,
        revision=result.revision,
        metadata=result.metadata,
        stored=stored,
        notes=tuple(notes),
    )
