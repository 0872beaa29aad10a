"""The weights engine on a Ray cluster: one task per shard, results streamed back as tasks finish.

A 671 B checkpoint (163 shards, ~1.3 TB, ~47 000 expert matrices) takes most of
a day on one machine; its shards are independent, so the natural unit of work
is a shard (or, for a shard above ``MAX_TASK_BYTES``, a group of its tensors).
Each task opens its shard *itself* — from the path the driver saw when that
path exists on the worker (a shared file system), otherwise from the Hub
through ``huggingface_hub`` into the worker's own cache — so no tensor ever
travels through the driver; only the records (a few KB per tensor) come back.

The driver submits every task, then waits for whichever finishes first
(``ray.wait``) and hands its records to the engine, which turns them into the
same progress events (tensor i/N, bytes, ETA) as a local run; the report is
merged by tensor name (the report orders rows itself), so it equals a local
run's. Cancel: the engine's flag is checked between waits (every 0.2 s), and
every pending task is cancelled with ``ray.cancel(force=True)``. A task that
raises is retried once by Ray (``max_retries=1, retry_exceptions=True``); if it
fails again its shard is reported in the summary's notes and the other shards'
results are kept.

``ray`` is an optional extra (``pip install 'lmscope[ray]'``) and is imported
only here, only when a Ray run is asked for.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lmscope.core.errors import LmscopeError
from lmscope.core.weights.readers import LazyTensor
from lmscope.core.weights.records import EmbeddingClusters, TensorStats, WeightsOptions

MAX_TASK_BYTES = 4 << 30  # a shard above this is split into tensor groups of at most this size
WAIT_SECONDS = 0.2  # how often the driver looks at the cancel flag while tasks run
# Test seam: a folder where ``NAME.fail`` (an integer) makes the task of shard NAME raise that many
# times, and ``NAME.sleep`` (seconds) makes it sleep first. Set only by tests (driver side).
FAULT_DIR: str | None = None


class RayUnavailable(LmscopeError):
    """``--ray`` was asked for but ray is not installed (or the cluster cannot be reached)."""


@dataclass(frozen=True)
class ShardTask:
    """One unit of work: some tensors of one file, and where a worker can find that file."""

    file: str  # the path on the driver (used when the worker sees the same path)
    filename: str  # the file's name in its Hub repository
    names: tuple[str, ...]
    nbytes: int
    repo_id: str | None = None
    revision: str | None = None
    endpoint: str | None = None  # the driver's Hub endpoint (HF_ENDPOINT, a mirror); the token stays each worker's own


@dataclass(frozen=True)
class TaskResult:
    """What one task sends back: records only, never tensors."""

    task: ShardTask
    results: tuple[TensorStats, ...]
    clusters: tuple[EmbeddingClusters, ...]
    host: str
    source: str  # "path" or "hub"


@dataclass(frozen=True)
class TaskFailure:
    """A task that failed twice (the first try and Ray's one retry)."""

    task: ShardTask
    error: str


def ray_available() -> bool:
    """True when ``import ray`` would work (checked without importing it)."""
    import importlib.util

    return importlib.util.find_spec("ray") is not None


def plan_tasks(selected: Sequence[LazyTensor], repo_id: str | None = None, revision: str | None = None,
               max_task_bytes: int = MAX_TASK_BYTES, endpoint: str | None = None) -> list[ShardTask]:
    """One task per file holding selected tensors; files above ``max_task_bytes`` split into tensor groups."""
    by_file: dict[str, list[LazyTensor]] = {}
    for t in selected:
        by_file.setdefault(t.file, []).append(t)
    tasks: list[ShardTask] = []
    for file, tensors in by_file.items():
        group: list[LazyTensor] = []
        size = 0
        for t in tensors:
            if group and size + t.nbytes > max_task_bytes:
                tasks.append(_task(file, group, size, repo_id, revision, endpoint))
                group, size = [], 0
            group.append(t)
            size += t.nbytes
        if group:
            tasks.append(_task(file, group, size, repo_id, revision, endpoint))
    return tasks


def _task(file: str, group: list[LazyTensor], size: int, repo_id: str | None, revision: str | None,
          endpoint: str | None = None) -> ShardTask:
    return ShardTask(file=file, filename=Path(file).name, names=tuple(t.name for t in group), nbytes=size,
                     repo_id=repo_id, revision=revision, endpoint=endpoint)


def resolve_address(requested: str | None) -> str:
    """``--ray [ADDRESS]`` → what ``ray.init`` gets: as given, else ``RAY_ADDRESS``, else "local"."""
    if requested:
        return requested
    return os.environ.get("RAY_ADDRESS") or "local"


def run_task(task: ShardTask, options: WeightsOptions, fault_dir: str | None = None) -> TaskResult:
    """Analyse the tensors of one task on this worker (runs inside a Ray worker process)."""
    import socket

    from lmscope.core.weights import device as devices
    from lmscope.core.weights import engine
    from lmscope.core.weights.readers import open_weights

    if fault_dir:
        _inject_fault(fault_dir, task.filename)
    path, source = _open_path(task)
    collection = open_weights(path)
    by_name = {t.name: t for t in collection.tensors}
    missing = [n for n in task.names if n not in by_name]
    if missing:
        raise LmscopeError(f"{task.filename}: {len(missing)} tensor(s) not found on this worker, e.g. {missing[0]}")
    device = devices.select_device(options.device) if options.spectra else "cpu"
    results, clusters = [], []
    for name in task.names:
        t = by_name[name]
        stats, _ = engine.analyze_tensor(t, device, options)
        results.append(stats)
        if options.embeddings and engine._is_token_embedding(t, stats):
            clusters.append(engine.embedding_clusters(t, options))
    return TaskResult(task=task, results=tuple(results), clusters=tuple(clusters), host=socket.gethostname(), source=source)


def _open_path(task: ShardTask) -> tuple[str, str]:
    """The shard on this worker: the driver's path if visible here, else the Hub file in this worker's cache."""
    if not task.file.startswith("hf://") and os.path.exists(task.file):
        return task.file, "path"
    if not task.repo_id:
        raise LmscopeError(f"{task.file} is not visible on this worker and the model has no Hub id to fetch it from")
    from huggingface_hub import hf_hub_download

    # into this worker's own HF cache (HF_HOME / HF_HUB_CACHE of the worker), with its own token
    kwargs: dict[str, Any] = {"revision": task.revision}
    if task.endpoint:
        kwargs["endpoint"] = task.endpoint
    return hf_hub_download(task.repo_id, task.filename, **kwargs), "hub"


def _inject_fault(folder: str, filename: str) -> None:
    base = Path(folder) / filename
    sleep = base.with_name(filename + ".sleep")
    if sleep.exists():
        time.sleep(float(sleep.read_text()))
    fail = base.with_name(filename + ".fail")
    if fail.exists():
        left = int(fail.read_text() or 0)
        if left > 0:
            fail.write_text(str(left - 1))
            raise RuntimeError(f"injected fault in {filename}")


def connect(address: str, num_cpus: int | None = None) -> str:
    """Start or attach to Ray (once per process); the address actually in use, in words."""
    try:
        import ray
    except ImportError:
        raise RayUnavailable("--ray needs ray: pip install 'lmscope[ray]'") from None
    if ray.is_initialized():
        return _current_address(ray, address)
    kwargs: dict[str, Any] = {"ignore_reinit_error": True, "log_to_driver": False, "configure_logging": False}
    if address == "local":
        kwargs.update(address="local", include_dashboard=False)
        if num_cpus is not None:
            kwargs["num_cpus"] = num_cpus
    else:
        kwargs["address"] = address
    try:
        ray.init(**kwargs)
    except Exception as err:  # noqa: BLE001 - any connection failure is a one-line user error
        raise RayUnavailable(f"cannot reach the Ray cluster at {address!r}: {str(err).splitlines()[0] if str(err) else type(err).__name__}") from None
    return _current_address(ray, address)


def _current_address(ray: Any, requested: str) -> str:
    try:
        return str(ray.get_runtime_context().gcs_address)
    except Exception:  # noqa: BLE001 - client mode has no GCS address to report
        return requested


def execute(tasks: Sequence[ShardTask], options: WeightsOptions) -> Iterator[TaskResult | TaskFailure | int]:
    """Submit every task and yield each result (or failure) as it finishes.

    Yields, at the end, the number of tasks cancelled (an int) when the cancel
    flag stopped the run, so the engine can record it.
    """
    import ray

    remote_opts: dict[str, Any] = {"max_retries": 1, "retry_exceptions": True, "num_cpus": 1}
    if options.device == "cuda":
        remote_opts["num_gpus"] = 1
    fn: Any = ray.remote(**remote_opts)(run_task)  # ray's stubs type remote() for one-argument functions
    wire = dataclasses.replace(options, cancel=None)  # an Event cannot be pickled; workers do not need it
    refs = {fn.remote(task, wire, FAULT_DIR): task for task in tasks}
    pending = list(refs)
    cancel = options.cancel
    while pending:
        if cancel is not None and cancel.is_set():
            for ref in pending:
                ray.cancel(ref, force=True)
            yield len(pending)
            return
        done, pending = ray.wait(pending, num_returns=1, timeout=WAIT_SECONDS)
        for ref in done:
            try:
                yield ray.get(ref)
            except Exception as err:  # noqa: BLE001 - one shard's failure must not lose the others
                yield TaskFailure(refs[ref], _error_line(err))


def _error_line(err: BaseException) -> str:
    cause = getattr(err, "cause", None) or err
    text = str(cause).strip().splitlines()
    return f"{type(cause).__name__}: {text[-1] if text else ''}".rstrip(": ")
