"""Turn whatever the user typed into a :class:`ModelSource`.

One function decides what a model specifier means, so the CLI, the TUI's
"open model" box and the comparison all agree:

1. an existing path: a ``.gguf`` file, an ``.onnx`` file, a ``*.json`` config,
   or a directory (holding config.json, or a single .gguf/.onnx file);
2. a Hub id ``org/name[@revision]`` (or a bare name such as ``gpt2``):
   the local HF cache, then the built-in catalog, then the Hub itself —
   unless ``offline`` (or ``HF_HUB_OFFLINE=1``) forbids the network, in which
   case the error says so.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from lmscope.core.errors import LmscopeError, SourceError
from lmscope.core.redact import redact, shown
from lmscope.core.sources.base import ModelSource

_HUB_ID = re.compile(r"^(?:[A-Za-z0-9][A-Za-z0-9._-]{0,95}/)?[A-Za-z0-9][A-Za-z0-9._-]{0,95}$")
_PATH_HINTS = (".gguf", ".onnx", ".json", ".safetensors")


def offline_requested(offline: bool = False) -> bool:
    """True when the network must not be used: ``--offline`` or HF_HUB_OFFLINE/TRANSFORMERS_OFFLINE set."""
    if offline:
        return True
    for name in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        if os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on"):
            return True
    return False


def split_revision(spec: str) -> tuple[str, str | None]:
    """``"org/name@rev"`` -> ``("org/name", "rev")``; no ``@`` -> revision None."""
    if "@" in spec:
        repo, _, revision = spec.rpartition("@")
        return repo, revision or None
    return spec, None


def _looks_like_path(spec: str) -> bool:
    return (
        spec.startswith(("/", "./", "../", "~", "\\"))
        or spec.lower().endswith(_PATH_HINTS)
        or spec.count("/") > 1  # a Hub id has at most one slash
    )


def resolve(
    spec: str,
    *,
    offline: bool = False,
    token: str | None = None,
    revision: str | None = None,
    headers: bool = True,
) -> ModelSource:
    """Resolve a model specifier (path, Hub id, bare name) to a :class:`ModelSource`.

    ``headers``: for a model fetched from the Hub, also read its safetensors
    headers with ranged requests (the stored-tensor check); False skips them.

    Raises :class:`SourceError` (one line) when nothing matches, saying where
    it looked; file-format problems raise :class:`FileFormatError`.
    """
    spec = (spec or "").strip()
    if not spec:
        raise SourceError("no model given")
    try:
        path = Path(spec).expanduser()
        exists = path.exists()
    except (OSError, RuntimeError, ValueError):  # name too long, unknown ~user, NUL byte
        path, exists = Path(spec), False
    if exists:
        return _resolve_path(path)
    if _looks_like_path(spec):
        raise SourceError(f"no such file or directory: {shown(spec)}")
    repo_id, at_revision = split_revision(spec)
    revision = revision or at_revision
    if not _HUB_ID.match(repo_id) or ".." in repo_id:
        raise SourceError(f"'{shown(spec, 80)}' is neither an existing path nor a Hub id like org/name")
    return _resolve_hub_id(repo_id, revision, offline=offline_requested(offline), token=token, headers=headers)


def _resolve_path(path: Path) -> ModelSource:
    from lmscope.core.sources import local

    try:
        if path.is_dir():
            if (path / "config.json").is_file():
                return local.source_from_folder(path)
            ggufs = sorted(path.glob("*.gguf"))
            onnxs = sorted(path.glob("*.onnx"))
            if len(ggufs) == 1 and not onnxs:
                return _resolve_path(ggufs[0])
            if len(onnxs) == 1 and not ggufs:
                return _resolve_path(onnxs[0])
            if ggufs or onnxs:
                raise SourceError(f"{shown(path)} holds several model files and no config.json; name one of them")
            raise SourceError(f"{shown(path)} has no config.json (nor a .gguf or .onnx file)")
        if not path.is_file():
            # a FIFO, a device, a socket: opening one can block forever or read without end
            raise SourceError(f"{shown(path)}: not a regular file (a pipe, device or socket); lmscope reads files and folders")
        suffix = path.suffix.lower()
        if suffix == ".gguf":
            from lmscope.core.sources.gguf_source import source_from_gguf

            return source_from_gguf(path)
        if suffix == ".onnx":
            from lmscope.core.sources.onnx_source import source_from_onnx

            return source_from_onnx(path)
        if suffix == ".json":
            return local.source_from_config_path(path)
        if suffix == ".safetensors":
            folder = path.parent
            if (folder / "config.json").is_file():
                return local.source_from_folder(folder)
            raise SourceError(
                f"{shown(path.name)}: a safetensors file carries no architecture and its folder has no config.json; "
                f"`lmscope weights {shown(path)}` analyses its tensors"
            )
        legacy = _ggml_kind(path)
        if legacy:
            raise SourceError(
                f"{shown(path.name)}: a GGML file ({legacy}, llama.cpp's format before GGUF, August 2023); "
                "convert it to GGUF with llama.cpp's convert_llama_ggml_to_gguf.py, then run lmscope on the .gguf"
            )
        raise SourceError(f"{shown(path.name)}: not a model file lmscope reads (config.json, .gguf, .onnx, or a folder)")
    except PermissionError:
        raise SourceError(f"cannot read {shown(path)}: permission denied") from None
    except OSError as err:
        raise SourceError(f"cannot read {shown(path)}: {err.strerror or shown(err)}") from None


# llama.cpp's pre-GGUF magics as they appear on disk (little-endian uint32 'ggml', 'ggmf', 'ggjt')
_GGML_MAGICS = {b"lmgg": "unversioned GGML", b"fmgg": "GGMF", b"tjgg": "GGJT"}


def _ggml_kind(path: Path) -> str | None:
    """The legacy GGML container a file is, from its first four bytes (None: not GGML)."""
    try:
        with open(path, "rb") as handle:
            return _GGML_MAGICS.get(handle.read(4))
    except OSError:
        return None


def _resolve_hub_id(repo_id: str, revision: str | None, *, offline: bool, token: str | None, headers: bool) -> ModelSource:
    from lmscope.core.sources.cache import source_from_cache
    from lmscope.core.sources.catalog import find_in_catalog, load_catalog_entry

    cached = source_from_cache(repo_id, revision)
    if cached is not None:
        return cached
    catalog_id = find_in_catalog(repo_id)
    if catalog_id is not None and catalog_id.lower() != repo_id.lower():
        # a short name: the cache may hold the full id
        cached = source_from_cache(catalog_id, revision)
        if cached is not None:
            return cached
    if catalog_id is not None and revision is None:
        return load_catalog_entry(catalog_id)
    if offline:
        where = "not a local path, not in the Hugging Face cache"
        where += " or the built-in catalog" if revision is None else f" at revision {shown(revision, 60)}"
        if catalog_id is not None and revision is not None:
            where += " (the built-in catalog holds only the current revision)"
        raise SourceError(f"{repo_id}: {where}, and offline mode forbids the Hub (--offline or HF_HUB_OFFLINE)")
    return _from_hub(repo_id, revision, token, headers)


def _from_hub(repo_id: str, revision: str | None, token: str | None, headers: bool) -> ModelSource:
    try:
        from lmscope.core.hub.fetch import model_source
    except ImportError:
        raise SourceError(f"{repo_id}: not a local path, not in the cache or the built-in catalog, and the Hub client is unavailable") from None
    try:
        source = model_source(repo_id, revision, token, offline=False, headers=headers)
    except LmscopeError:
        raise
    except Exception as err:  # noqa: BLE001 - map anything unexpected to one line
        raise SourceError(redact(f"{repo_id}: could not fetch from the Hub: {type(err).__name__}: {err}")) from None
    if source.stored is not None and not source.stored.tensors:
        from dataclasses import replace

        source = replace(source, stored=None)
    return source
