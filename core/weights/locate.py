"""Find a model's weight files: a local path, the Hugging Face cache, or (only when asked) the Hub.

Analysing weights needs the weights, which can be tens of gigabytes, so the
Hub is never contacted unless the user passes ``--download``: a Hub id is
first looked up in the local HF cache (``huggingface_hub``'s own resolution of
``refs/<revision>`` to a snapshot folder, respecting ``HF_HUB_CACHE`` /
``HF_HOME``). With ``--download`` the total size of the weight files is
announced first, then only weight files (plus the small index and config)
are fetched with ``snapshot_download(allow_patterns=...)``.
huggingface_hub is imported inside the functions that use it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lmscope.core.errors import HubError, SourceError
from lmscope.core.redact import shown

if TYPE_CHECKING:
    import numpy as np

_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]{0,95}/[\w.-]{1,96}(@[\w./-]{1,200})?$")
SAFETENSORS_PATTERNS = ("*.safetensors", "*.safetensors.index.json")
BIN_PATTERNS = ("pytorch_model*.bin", "pytorch_model.bin.index.json")
SMALL_FILES = ("config.json",)


@dataclass(frozen=True)
class DownloadPlan:
    """What ``--download`` will fetch: patterns, files and their total size."""

    repo_id: str
    revision: str | None
    patterns: tuple[str, ...]
    files: tuple[tuple[str, int], ...]

    @property
    def total_bytes(self) -> int:
        return sum(size for _, size in self.files)


def split_hub_id(spec: str) -> tuple[str, str | None] | None:
    """(repo_id, revision) if ``spec`` looks like ``org/name[@rev]``, else None."""
    if not _HUB_ID.match(spec):
        return None
    repo, _, rev = spec.partition("@")
    return repo, (rev or None)


def locate_weights(spec: str, *, revision: str | None = None, token: str | None = None) -> Path:
    """A local folder or file holding the weights named by ``spec`` (no network).

    ``spec``: a path (file or folder) or a Hub id present in the local HF cache.
    Raises :class:`SourceError` with a hint to ``--download`` otherwise.
    """
    try:
        p = Path(spec).expanduser()
        if p.exists():
            return p
    except (OSError, RuntimeError, ValueError):  # a name too long for the file system, an unknown ~user, a NUL byte
        pass
    parsed = split_hub_id(spec)
    if parsed is None:
        raise SourceError(f"no such file or folder: {shown(spec)}")
    repo_id, rev = parsed
    snapshot = cached_snapshot(repo_id, revision or rev, token=token)
    if snapshot is None or not _has_weights(snapshot):
        raise SourceError(f"{repo_id}: weights are not in the local Hugging Face cache; pass --download to fetch them")
    return snapshot


def cached_snapshot(repo_id: str, revision: str | None = None, token: str | None = None) -> Path | None:
    """The cached snapshot folder of ``repo_id`` (None when not cached); never downloads."""
    from lmscope.core.hub import client

    settings = client.hub_settings(offline=True)
    try:
        path = client.hf().snapshot_download(
            repo_id, revision=revision, local_files_only=True, cache_dir=settings.cache_dir, token=client.token_arg(token)
        )
    except Exception:  # noqa: BLE001 - LocalEntryNotFoundError and friends: not cached
        return None
    return Path(path)


def _has_weights(folder: Path) -> bool:
    return any(folder.glob("*.safetensors")) or any(folder.glob("*.bin")) or any(folder.glob("*.gguf"))


REMOTE_PREFIX = "hf://"  # the file of a tensor that lives on the Hub only (a Ray worker fetches it)


def remote_collection(repo_id: str, revision: str | None = None, token: str | None = None) -> tuple[Any, str]:
    """The tensors of a Hub checkpoint that is not cached here, from its safetensors headers alone.

    For ``--ray``: the driver needs the names, shapes and shards to plan one task
    per shard, never the weights — each worker downloads its own shard into its
    own cache (:func:`lmscope.core.weights.distributed.run_task`). Ranged reads of
    the headers only (a few KB per shard). Returns the collection and the commit
    the headers were read at (the workers fetch that same commit). A tensor's
    ``file`` is ``hf://REPO/SHARD``, never a local path, and reading its data
    here is an error.
    """
    from lmscope.core.hub.headers import remote_safetensors_shards
    from lmscope.core.weights.readers import FLOAT_DTYPES, LazyTensor, WeightsCollection

    commit, shards = remote_safetensors_shards(repo_id, revision, token)

    def not_here(index: Any) -> np.ndarray:
        raise SourceError(f"{repo_id}: the weights are not on this machine (a Ray worker reads them)")

    tensors = []
    files = []
    for shard, found in shards:
        file = f"{REMOTE_PREFIX}{repo_id}/{shard}"
        files.append(file)
        for t in sorted(found, key=lambda t: (t.data_offsets or (0, 0))[0]):
            tensors.append(LazyTensor(t.name, t.dtype, tuple(t.shape), t.nbytes, file, t.dtype in FLOAT_DTYPES, not_here))
    return WeightsCollection("safetensors", tuple(files), tuple(tensors)), commit


def plan_download(repo_id: str, revision: str | None = None, token: str | None = None) -> DownloadPlan:
    """Ask the Hub which weight files ``repo_id`` has and how big they are.

    Prefers safetensors, then PyTorch .bin; a repo holding only GGUF files is
    refused (pick one file and pass its local path) because downloading every
    quantisation would be many times the model size.
    """
    from lmscope.core.hub import client

    settings = client.hub_settings()
    info = client.call(
        lambda: client.api(settings).model_info(repo_id, revision=revision, files_metadata=True, token=client.token_arg(token)),
        what="list the weight files", settings=settings, repo_id=repo_id, revision=revision, token=token,
    )
    siblings = [(s.rfilename, int(s.size or 0)) for s in (info.siblings or [])]
    for patterns in (SAFETENSORS_PATTERNS, BIN_PATTERNS):
        chosen = [(f, s) for f, s in siblings if "/" not in f and any(Path(f).match(pt) for pt in patterns)]
        if any(f.endswith((".safetensors", ".bin")) for f, _ in chosen):
            return DownloadPlan(repo_id, revision, patterns + SMALL_FILES, tuple(chosen))
    if any(f.endswith(".gguf") for f, _ in siblings):
        raise SourceError(f"{repo_id}: holds only GGUF files; download the one you want and pass its path")
    raise SourceError(f"{repo_id}: no safetensors or .bin weights on the Hub")


def download_weights(plan: DownloadPlan, token: str | None = None,
                     progress: Callable[[str], None] | None = None) -> Path:
    """Fetch the files of ``plan`` (one ``hf_hub_download`` each) into the HF cache; return the snapshot folder."""
    from lmscope.core.hub import client

    settings = client.hub_settings()
    if settings.offline:
        raise HubError(f"{plan.repo_id}: cannot download weights in offline mode (HF_HUB_OFFLINE is set)")
    folder: Path | None = None
    files = [f for f, _ in plan.files]
    config_name = "config.json"
    for i, name in enumerate([*files, config_name], 1):
        if progress and name != config_name:
            progress(f"downloading {name} ({i}/{len(files)})")

        def fetch(name: str = name) -> str:
            return str(client.hf().hf_hub_download(
                plan.repo_id, name, revision=plan.revision, cache_dir=settings.cache_dir,
                endpoint=settings.endpoint, token=client.token_arg(token),
            ))

        try:
            path = client.call(
                fetch,
                what=f"download {name}", settings=settings, repo_id=plan.repo_id, filename=name,
                revision=plan.revision, token=token,
            )
        except HubError:
            if name == config_name:  # optional: weights are analysed without it
                continue
            raise
        folder = Path(path).parent
    if folder is None:
        raise HubError(f"{plan.repo_id}: nothing was downloaded")
    return folder
