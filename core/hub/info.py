"""What the Hub says about one repo, without downloading anything.

One ``model_info`` request (with ``blobs=true`` for file sizes) gives the
author, popularity, licence, gating, the commit sha, every file with its size
— from which we total the weight bytes per format (safetensors, gguf, bin,
...) — and the Hub's own safetensors parameter totals (a second opinion to set
beside our counts).
"""

from __future__ import annotations

from datetime import datetime

from lmscope.core.hub.client import HubSettings, api, call, hub_settings, token_arg
from lmscope.core.hub.token import resolve_token
from lmscope.core.sources.base import HubMetadata

# file suffix → weight format; checked longest first
WEIGHT_SUFFIXES: tuple[tuple[str, str], ...] = (
    (".safetensors", "safetensors"),
    (".gguf", "gguf"),
    (".onnx_data", "onnx"),
    (".onnx", "onnx"),
    (".bin", "bin"),
    (".pth", "pt"),
    (".pt", "pt"),
    (".ckpt", "ckpt"),
    (".h5", "h5"),
    (".msgpack", "flax"),
    (".npz", "npz"),
    (".nemo", "nemo"),
    (".mlmodel", "coreml"),
    (".tflite", "tflite"),
)
# files with a weight suffix that are not model weights
NOT_WEIGHTS = ("training_args.bin", "optimizer.pt", "optimizer.bin", "scheduler.pt", "scaler.pt", "rng_state")


def weight_format(path: str) -> str | None:
    """The weight format of a repo file by its name ("safetensors", "gguf", "bin", ...), or None."""
    name = path.rsplit("/", 1)[-1].lower()
    if name.startswith(NOT_WEIGHTS) or "/.git" in path:
        return None
    for suffix, fmt in WEIGHT_SUFFIXES:
        if name.endswith(suffix):
            return fmt
    return None


def weight_bytes_by_format(files: tuple[tuple[str, int | None], ...]) -> dict[str, int]:
    """Total bytes per weight format over ``(path, size)`` pairs (unknown sizes skipped)."""
    out: dict[str, int] = {}
    for path, size in files:
        fmt = weight_format(path)
        if fmt and size is not None:
            out[fmt] = out.get(fmt, 0) + int(size)
    return out


def license_of(tags: list[str] | tuple[str, ...] | None, card_data: object = None) -> str | None:
    """The licence from a ``license:...`` tag, else from the model card's metadata."""
    for tag in tags or ():
        if isinstance(tag, str) and tag.startswith("license:"):
            return tag.split(":", 1)[1] or None
    if card_data is None:
        return None
    value = card_data.get("license") if isinstance(card_data, dict) else getattr(card_data, "license", None)
    if isinstance(value, list):
        value = value[0] if value else None
    return str(value) if value else None


def iso_time(value: object) -> str | None:
    """ISO 8601 text for a datetime the library parsed (UTC as ``Z``), None for None."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    return str(value)


def metadata_from_info(info: object) -> HubMetadata:
    """Turn a ``huggingface_hub`` ``ModelInfo`` into our :class:`HubMetadata`."""
    siblings = getattr(info, "siblings", None) or []
    files: list[tuple[str, int | None]] = []
    for s in siblings:
        size = getattr(s, "size", None)
        lfs = getattr(s, "lfs", None)
        if size is None and lfs is not None:
            size = getattr(lfs, "size", None)
        files.append((s.rfilename, int(size) if size is not None else None))
    st = getattr(info, "safetensors", None)
    st_params = dict(getattr(st, "parameters", None) or {}) if st is not None else {}
    tags = tuple(getattr(info, "tags", None) or ())
    repo_id = getattr(info, "id", "")
    author = getattr(info, "author", None) or (repo_id.split("/")[0] if "/" in repo_id else None)
    return HubMetadata(
        repo_id=repo_id,
        sha=getattr(info, "sha", None),
        author=author,
        downloads=getattr(info, "downloads", None),
        likes=getattr(info, "likes", None),
        license=license_of(tags, getattr(info, "card_data", None)),
        gated=getattr(info, "gated", None),
        private=getattr(info, "private", None),
        last_modified=iso_time(getattr(info, "last_modified", None)),
        created_at=iso_time(getattr(info, "created_at", None)),
        pipeline_tag=getattr(info, "pipeline_tag", None),
        library_name=getattr(info, "library_name", None),
        tags=tags,
        files=tuple(files),
        weight_bytes_by_format=weight_bytes_by_format(tuple(files)),
        safetensors_total=int(st.total) if st is not None and getattr(st, "total", None) is not None else None,
        safetensors_params_by_dtype={str(k): int(v) for k, v in st_params.items()},
    )


def model_metadata(
    repo_id: str,
    revision: str | None = None,
    token: str | None = None,
    *,
    settings: HubSettings | None = None,
) -> HubMetadata:
    """Everything the Hub says about ``repo_id`` (one request; no file downloaded).

    Raises a one-line ``HubError`` subclass (gated, not found, rate limited,
    unreachable) on failure.
    """
    settings = settings or hub_settings()
    token = resolve_token(token)
    if settings.offline:
        from lmscope.core.hub.client import HubUnreachableError

        raise HubUnreachableError(f"offline mode (--offline or HF_HUB_OFFLINE=1): cannot ask the Hub about {repo_id}")
    hub = api(settings)
    info = call(
        lambda: hub.model_info(
            repo_id, revision=revision, files_metadata=True, timeout=settings.timeout, token=token_arg(token)
        ),
        what=f"the metadata of {repo_id}",
        settings=settings,
        repo_id=repo_id,
        revision=revision,
        token=token,
    )
    return metadata_from_info(info)
