"""Models already in the local Hugging Face cache.

A model someone has downloaded (with lmscope, transformers, vLLM…) is in the
standard HF cache; reading it from there is instant, works offline and is
exactly the revision they have. The lookup uses huggingface_hub's own cache
function (``try_to_load_from_cache``), so HF_HOME / HF_HUB_CACHE are honoured
the same way every other HF tool honours them; the cache folder is computed
from the environment at call time (as the Hub layer does), and huggingface_hub
is imported only when a folder for the repo exists, to keep catalog lookups fast.
"""

from __future__ import annotations

import os
from pathlib import Path

from lmscope.core.sources.base import ModelSource
from lmscope.core.sources.local import load_config_files, stored_tensors_in


def cache_dir() -> Path:
    """The HF hub cache folder for the current environment (HF_HUB_CACHE, HF_HOME, XDG_CACHE_HOME)."""
    try:
        from lmscope.core.hub.client import default_cache_dir

        return Path(default_cache_dir())
    except ImportError:  # the Hub layer is optional for this lookup
        if os.environ.get("HF_HUB_CACHE"):
            return Path(os.environ["HF_HUB_CACHE"]).expanduser()
        home = os.environ.get("HF_HOME") or str(Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "huggingface")
        return Path(home).expanduser() / "hub"


def cached_snapshot(repo_id: str, revision: str | None = None) -> Path | None:
    """The snapshot folder holding ``config.json`` for ``repo_id`` at ``revision``, or None."""
    folder = cache_dir()
    if not (folder / ("models--" + repo_id.replace("/", "--"))).is_dir():
        return None  # not cached: skip importing huggingface_hub
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:  # pragma: no cover - huggingface_hub is a dependency
        return None
    try:
        found = try_to_load_from_cache(repo_id, "config.json", cache_dir=str(folder), revision=revision)
    except (ValueError, OSError):  # invalid repo id / unreadable cache
        return None
    if not isinstance(found, str):
        return None
    return Path(found).parent


def source_from_cache(repo_id: str, revision: str | None = None) -> ModelSource | None:
    """A :class:`ModelSource` from the HF cache, or None when the repo is not cached."""
    snapshot = cached_snapshot(repo_id, revision)
    if snapshot is None:
        return None
    files = load_config_files(snapshot)
    stored, notes = stored_tensors_in(snapshot, files.safetensors_index)
    return ModelSource(
        model_id=repo_id,
        kind="cache",
        files=files,
        location=str(snapshot),
        revision=snapshot.name,
        stored=stored,
        notes=(f"read from the local Hugging Face cache (commit {snapshot.name[:12]})", *notes),
    )
