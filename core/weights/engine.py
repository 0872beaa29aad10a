"""The streaming weights analysis: one event per tensor, a summary at the end, cancellable.

:func:`analyze_weights` is a generator so that every consumer — the CLI's rich
progress bar, the TUI's worker thread, a test — sees results as they come and
can stop early. It checks ``options.cancel`` (a :class:`threading.Event`)
between tensors and between the experts of a stacked tensor; after a cancel it
still yields the summary (``cancelled=True``) of what was done.

Memory: a tensor is never loaded whole. Element statistics and the Gram matrix
are accumulated over float64 row chunks of a memory map (see
:mod:`.readers`), so the resident set is a few chunks plus the k×k Gram (plus
the float64 matrix itself only when a matrix needs the direct-SVD route).
"""

from __future__ import annotations

import contextlib
import dataclasses
import fnmatch
import functools
import os
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from lmscope.core.errors import SourceError
from lmscope.core.weights import classify
from lmscope.core.weights import device as devices
from lmscope.core.weights.kmeans import calinski_harabasz, kmeans, prepare, sample_rows
from lmscope.core.weights.parallel import ordered_map, tune_allocator
from lmscope.core.weights.powerlaw import fit_power_law
from lmscope.core.weights.readers import WEIGHT_SUFFIXES, LazyTensor, WeightsCollection, open_weights
from lmscope.core.weights.records import (
    EmbeddingClusters,
    ExecutorInfo,
    KindSummary,
    Resume,
    SpectrumStats,
    TensorStats,
    WeightsEvent,
    WeightsOptions,
    WeightsSummary,
)
from lmscope.core.weights.report import ordered
from lmscope.core.weights.spectra import (
    CHUNK_ELEMENTS,
    EPS32,
    SMALL_K,
    ChunkSource,
    blas_threads_for,
    can_limit_blas,
    single_blas_phase,
)
from lmscope.core.weights.stats import element_stats

EXPERT_KINDS = ("experts", "shared_experts")
TOKEN_EMBEDDING = ("word_embeddings", "embed_tokens", "wte.", "token_embd", "tok_embeddings", "shared.weight")
NORM_QUANTILES = (0.0, 0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99, 1.0)
NORM_BINS = 40  # histogram of embedding row norms (the weights report's picture)
REPRESENTATIVES = 10  # rows named per embedding cluster (cluster_representatives.json)
KMEANS_THREADS = 4  # candidate k run side by side (11 candidates by default; results identical to one thread)
TENSOR_THREADS = 8  # small tensors analysed side by side, one BLAS thread each (see _local_batches)
LIGHT_BYTES = 256 << 20  # float64 size up to which a small-sided tensor runs beside others


def analyze_weights(path_or_source: Any, options: WeightsOptions | None = None,
                    resume: Resume | None = None) -> Iterator[WeightsEvent]:
    """Analyse a checkpoint tensor by tensor; yield a :class:`WeightsEvent` per tensor, then the summary.

    ``path_or_source``: a weights file or folder, a :class:`WeightsCollection`,
    a ``ModelSource`` with a local ``location``, or a Hub id already in the
    local HF cache. Raises :class:`~lmscope.core.errors.LmscopeError`
    subclasses (before the first event) for unreadable inputs. With
    ``options.ray`` set the tensors are analysed by Ray tasks, one per shard
    (:mod:`.distributed`); the events and the report are the same.

    ``resume``: the records of a cancelled run of the same selection. They are
    kept as they are (not re-analysed); the events count them as done (the
    first event's index follows them) and the summary covers every tensor.
    """
    opts = options or WeightsOptions()
    collection, label, commit = _collection(path_or_source, opts)
    selected = select_tensors(collection, opts)
    if opts.skip:
        skip = set(opts.skip)
        selected = [t for t in selected if t.name not in skip]
    wanted = {t.name for t in selected}
    earlier = [r for r in (resume.results if resume else ()) if r.name in wanted]
    done_names = {r.name for r in earlier}
    todo = [t for t in selected if t.name not in done_names]
    total = len(selected)
    bytes_total = sum(t.nbytes for t in selected)
    start = time.perf_counter()
    created_at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    results: list[TensorStats] = list(earlier)
    bytes_before = bytes_done = sum(r.nbytes for r in earlier)
    clusters: list[EmbeddingClusters] = [c for c in (resume.clusters if resume else ()) if c.name in done_names]
    seconds_before = resume.seconds if resume else 0.0
    notes: list[str] = []
    if earlier:
        notes.append(f"resumed after a cancel: {len(earlier)} tensor(s) kept from the earlier run")
    cancelled = False
    if opts.ray is not None:
        from lmscope.core.weights import distributed

        repo_id, revision = _hub_identity(path_or_source, label, opts)
        address = distributed.connect(distributed.resolve_address(opts.ray))
        tasks = distributed.plan_tasks(todo, repo_id, commit or revision, endpoint=_endpoint() if repo_id else None)
        executor = ExecutorInfo(name="ray", address=address, tasks=len(tasks))
        device_label = f"ray workers ({opts.device})"
        batches: Iterable[_Batch] = _ray_batches(tasks, todo, opts, notes)
    else:
        device = devices.select_device(opts.device) if opts.spectra else "cpu"
        executor = ExecutorInfo()
        device_label = devices.describe(device)
        batches = _local_batches(todo, device, opts)
    for batch in batches:
        clusters.extend(batch.clusters)
        for stats in batch.results:
            results.append(stats)
            bytes_done += stats.nbytes
            elapsed = time.perf_counter() - start
            rate_bytes = bytes_done - bytes_before  # this run's pace: the earlier run's time is not in ``elapsed``
            eta = elapsed / rate_bytes * (bytes_total - bytes_done) if rate_bytes > 0 else None
            mine = tuple(c for c in batch.clusters if c.name == stats.name)
            yield WeightsEvent(len(results), total, bytes_done, bytes_total, seconds_before + elapsed, eta,
                               result=stats, clusters=mine)
        if batch.cancelled:
            cancelled = True
            break
    if isinstance(batches, _RayBatches):
        executor = dataclasses.replace(executor, failed_tasks=batches.failed, cancelled_tasks=batches.cancelled_tasks)
        device_label = _ray_devices(results) or device_label
    if cancelled:
        notes.append(f"cancelled after {len(results)} of {total} tensors")
    elapsed = seconds_before + time.perf_counter() - start
    repo_id, revision = _hub_identity(path_or_source, label, opts)
    summary = WeightsSummary(
        model=label,
        files=collection.files,
        format=collection.format,
        tensors_total=total,
        tensors_done=len(results),
        bytes_total=bytes_total,
        bytes_done=bytes_done,
        params_done=sum(r.numel for r in results if r.kind != "buffer"),
        seconds=elapsed,
        cancelled=cancelled,
        device=device_label,
        by_kind=summarize_by_kind(ordered(results)),  # report order: the same sums whatever the arrival order
        embeddings=tuple(sorted(clusters, key=lambda c: c.name)),
        notes=tuple(notes),
        model_id=repo_id or "",
        revision=revision,
        created_at=created_at,
        tol=opts.tol,
        executor=executor,
        buffers_done=sum(1 for r in results if r.kind == "buffer"),
    )
    yield WeightsEvent(len(results), total, bytes_done, bytes_total, elapsed, 0.0, summary=summary)


@dataclass(frozen=True)
class _Batch:
    """Records that arrived together (one tensor locally, one task on Ray)."""

    results: tuple[TensorStats, ...] = ()
    clusters: tuple[EmbeddingClusters, ...] = ()
    cancelled: bool = False


def _local_batches(selected: list[LazyTensor], device: str, opts: WeightsOptions) -> Iterator[_Batch]:
    """The tensors in file order, one batch each; runs of small tensors side by side on the CPU cores.

    A large matrix (side ≥ ``SMALL_K``) runs alone, its BLAS on every core; a
    run of consecutive small tensors (vectors, matrices of side < ``SMALL_K``,
    of at most ``LIGHT_BYTES`` in float64) runs on up to ``TENSOR_THREADS``
    daemon threads with one BLAS thread each (:mod:`.parallel`). The batches
    come back in file order either way, so the events are those of a serial run.
    """
    workers = _tensor_workers(device)
    tune_allocator()
    i = 0
    while i < len(selected):
        if workers > 1 and _light(selected[i]):
            j = i
            while j < len(selected) and _light(selected[j]):
                j += 1
            batches = _parallel_batches(selected[i:j], device, opts, workers)
            i = j
        else:
            batches = iter([_one_batch(selected[i], device, opts)])
            i += 1
        for batch in batches:
            yield batch
            if batch.cancelled:
                return


def _one_batch(tensor: LazyTensor, device: str, opts: WeightsOptions) -> _Batch:
    """One tensor's statistics, spectra and (for a token embedding) clusters; a cancelled batch if stopped."""
    if _cancelled(opts):
        return _Batch(cancelled=True)
    try:
        stats, partial = analyze_tensor(tensor, device, opts)
    except Cancelled:  # stopped between two row chunks: this tensor is not recorded
        return _Batch(cancelled=True)
    found: tuple[EmbeddingClusters, ...] = ()
    if opts.embeddings and _is_token_embedding(tensor, stats) and not _cancelled(opts):
        found = (embedding_clusters(tensor, opts),)
    return _Batch((stats,), found, cancelled=partial)


def _parallel_batches(run: list[LazyTensor], device: str, opts: WeightsOptions, workers: int) -> Iterator[_Batch]:
    """:func:`_one_batch` of each tensor of ``run`` on ``workers`` threads, in ``run``'s order."""
    jobs = (functools.partial(_one_batch, t, device, opts) for t in run)
    # closed on any early stop (a cancel, an error, the consumer gone): the queued tensors are dropped
    with single_blas_phase(), contextlib.closing(ordered_map(jobs, min(workers, len(run)))) as batches:
        for batch in batches:
            if _cancelled(opts) and not batch.cancelled:  # as in a serial run: after a cancel only
                batch = _Batch(cancelled=True)  # the tensor it cut short (experts done so far) is reported
            yield batch
            if batch.cancelled:
                return


def _tensor_workers(device: str) -> int:
    """How many small tensors run at once: one per CPU (at most ``TENSOR_THREADS``) on the CPU path,
    when BLAS can be held to one thread each; one on CUDA (the GPU is the shared resource there)."""
    if device != "cpu" or not can_limit_blas():
        return 1
    return max(1, min(TENSOR_THREADS, _cpus()))


def _light(t: LazyTensor) -> bool:
    """A tensor that runs on one BLAS thread anyway: no matrix side ≥ SMALL_K (the spectra would use
    every core) and at most LIGHT_BYTES in float64 (the direct-SVD route holds it whole, once per thread)."""
    shape = t.shape
    if t.numel * 8 > LIGHT_BYTES:
        return False
    if len(shape) >= 2 and min(shape[-2:]) >= SMALL_K:
        return False
    return True


class _RayBatches:
    """Task results as batches, plus the counts the summary records (failed and cancelled tasks)."""

    def __init__(self, tasks: list[Any], opts: WeightsOptions, notes: list[str]) -> None:
        self.tasks = tasks
        self.opts = opts
        self.notes = notes
        self.failed = 0
        self.cancelled_tasks = 0

    def __iter__(self) -> Iterator[_Batch]:
        from lmscope.core.weights import distributed

        for item in distributed.execute(self.tasks, self.opts):
            if isinstance(item, int):
                self.cancelled_tasks = item
                self.notes.append(f"cancelled {item} pending Ray task(s)")
                yield _Batch(cancelled=True)
                return
            if isinstance(item, distributed.TaskFailure):
                self.failed += 1
                self.notes.append(f"{item.task.filename}: {len(item.task.names)} tensor(s) not analysed — "
                                  f"the task failed twice ({item.error})")
                continue
            yield _Batch(item.results, item.clusters)


def _ray_batches(tasks: list[Any], selected: list[LazyTensor], opts: WeightsOptions, notes: list[str]) -> _RayBatches:
    return _RayBatches(tasks, opts, notes)


def _ray_devices(results: list[TensorStats]) -> str:
    used = sorted({s.device for r in results for s in r.spectra})
    return f"ray workers ({', '.join(used)})" if used else ""


def _hub_identity(obj: Any, label: str, opts: WeightsOptions) -> tuple[str | None, str | None]:
    """(model id, revision) when the model is known by a Hub id (for records and for Ray workers)."""
    from lmscope.core.weights.locate import split_hub_id

    model_id = getattr(obj, "model_id", None)
    revision = getattr(obj, "revision", None)
    if model_id and split_hub_id(str(model_id)):
        return str(model_id), revision or opts.revision
    if isinstance(obj, str) and not Path(obj).expanduser().exists():
        parsed = split_hub_id(obj)
        if parsed:
            return parsed[0], parsed[1] or opts.revision
    return (opts.model_id or None), opts.revision


def _cancelled(opts: WeightsOptions) -> bool:
    return opts.cancel is not None and opts.cancel.is_set()


class Cancelled(BaseException):
    """Raised between two row chunks when the cancel flag is set (caught by the engine).

    A BaseException so that no ``except Exception`` fallback (the CUDA → CPU
    retry) mistakes a cancel for a device failure.
    """


def checked(chunks: ChunkSource, opts: WeightsOptions) -> ChunkSource:
    """``chunks`` with a cancel check before each chunk: a long tensor stops within one chunk (~16 MiB).

    Only the LAPACK calls between the passes (eigensolver, SVD) cannot be
    interrupted; a consumer that must not wait for them runs the engine in a
    daemon thread (:mod:`.background`).
    """
    if opts.cancel is None:
        return chunks
    flag = opts.cancel

    def gen() -> Iterator[np.ndarray]:
        for c in chunks():
            if flag.is_set():
                raise Cancelled
            yield c

    return gen


def _collection(obj: Any, opts: WeightsOptions | None = None) -> tuple[WeightsCollection, str, str | None]:
    """Open what the caller handed over: a collection, a path or Hub id, or a ModelSource.

    Also returns the Hub commit when the tensors were listed from the Hub's
    headers: with ``opts.ray`` set, a Hub id that is not in the local cache is
    listed remotely (ranged header reads, no weights) and each Ray worker
    downloads its own shard of that commit.
    """
    from lmscope.core.weights.locate import locate_weights, remote_collection, split_hub_id

    if isinstance(obj, WeightsCollection):
        return obj, obj.files[0] if obj.files else "weights", None
    if isinstance(obj, (str, os.PathLike)):
        spec = os.fspath(obj)
        try:
            return open_weights(locate_weights(spec)), spec, None
        except SourceError:
            hub = split_hub_id(spec) if opts is not None and opts.ray is not None else None
            if hub is None:
                raise
        collection, commit = remote_collection(hub[0], hub[1] or opts.revision)  # type: ignore[union-attr]
        return collection, spec, commit
    model_id = str(getattr(obj, "model_id", "") or "")
    location = getattr(obj, "location", None)
    if location:
        p = Path(location)
        if p.is_file() and not p.name.lower().endswith(WEIGHT_SUFFIXES + (".index.json",)):
            p = p.parent  # a config.json source: its folder holds the weights, if any
        return open_weights(p), model_id or str(p), None
    if model_id:
        return _collection(model_id if not getattr(obj, "revision", None) else f"{model_id}@{obj.revision}", opts)
    raise SourceError(f"cannot analyse weights of {type(obj).__name__}: no path or model id")


def _endpoint() -> str:
    """The Hub endpoint this process uses (HF_ENDPOINT, a mirror): Ray workers fetch shards from the same one."""
    from lmscope.core.hub.client import hub_settings

    return hub_settings().endpoint


def select_tensors(collection: WeightsCollection, opts: WeightsOptions) -> list[LazyTensor]:
    """The tensors kept by the name globs, the kind filter and ``max_tensors``, in file order."""
    out = []
    for t in collection.tensors:
        if opts.tensors and not any(fnmatch.fnmatchcase(t.name, g) for g in opts.tensors):
            continue
        if opts.kinds and not classify.kind_matches(classify.module_kind(t.name), opts.kinds):
            continue
        out.append(t)
        if opts.max_tensors is not None and len(out) >= opts.max_tensors:
            break
    return out


# ---------------------------------------------------------------- one tensor
def _leading_chunks(t: LazyTensor) -> ChunkSource:
    """Float64 chunks of a tensor along its leading axis (any rank), each ≲ CHUNK_ELEMENTS.

    A slice of the leading axis that is itself too big (one expert of a stacked
    tensor) is split again along its own leading axis.
    """
    shape = t.shape
    if not shape:
        return lambda: iter([t[()].reshape(1)])
    inner = 1
    for d in shape[1:]:
        inner *= d
    if inner > CHUNK_ELEMENTS and len(shape) >= 3:
        def nested() -> Iterator[np.ndarray]:
            for i in range(shape[0]):
                yield from _leading_chunks(t.expert(i))()

        return nested
    rows = max(1, CHUNK_ELEMENTS // max(1, inner))

    def chunks() -> Iterator[np.ndarray]:
        for a in range(0, shape[0], rows):
            yield t[a : a + rows]

    return chunks


def matrix_chunks(t: LazyTensor) -> tuple[ChunkSource, tuple[int, int]]:
    """Row chunks of the *oriented* matrix (longer side first) and that shape.

    A tall matrix is read in row blocks; a wide one in column blocks (each
    transposed), except GGUF block-quantised data, which can only be cut
    along rows and is therefore dequantised whole before slicing.
    """
    m, n = t.shape
    if m >= n:
        rows = max(1, CHUNK_ELEMENTS // max(1, n))

        def tall() -> Iterator[np.ndarray]:
            for a in range(0, m, rows):
                yield t[a : a + rows]

        return tall, (m, n)
    cols = max(1, CHUNK_ELEMENTS // max(1, m))
    if t.file.endswith(".gguf") and t.dtype not in ("F32", "F16", "BF16", "F64"):
        def wide_whole() -> Iterator[np.ndarray]:
            whole = t[:]
            for a in range(0, n, cols):
                yield np.ascontiguousarray(whole[:, a : a + cols].T)

        return wide_whole, (n, m)

    def wide() -> Iterator[np.ndarray]:
        for a in range(0, n, cols):
            yield np.ascontiguousarray(t[(slice(None), slice(a, a + cols))].T)

    return wide, (n, m)


def analyze_tensor(t: LazyTensor, device: str, opts: WeightsOptions) -> tuple[TensorStats, bool]:
    """Statistics (and spectra) of one tensor; the flag says a cancel cut it short."""
    t0 = time.perf_counter()
    kind = classify.module_kind(t.name)
    es = element_stats(checked(_leading_chunks(t), opts))
    spectra: list[SpectrumStats] = []
    notes: list[str] = []
    partial = False
    finite = bool(np.isfinite(es.mean) and np.isfinite(es.std) and np.isfinite(es.sum_squares))
    if opts.spectra:
        if not finite and len(t.shape) >= 2:
            notes.append("non-finite values (NaN/inf): no spectrum")
        elif not t.floating:
            if len(t.shape) >= 2:
                notes.append(f"{t.dtype} storage (packed or integer data): no spectrum")
        elif len(t.shape) == 2 and min(t.shape) >= 1:
            sp, note = spectrum_of(t, device, opts)
            spectra.append(sp)
            if note:
                notes.append(note)
        elif len(t.shape) == 3 and kind in EXPERT_KINDS:
            for e in range(t.shape[0]):
                if _cancelled(opts):
                    notes.append(f"cancelled after {e} of {t.shape[0]} experts")
                    partial = True
                    break
                try:
                    sp, note = spectrum_of(t.expert(e), device, opts, expert=e)
                except Cancelled:
                    notes.append(f"cancelled after {e} of {t.shape[0]} experts")
                    partial = True
                    break
                spectra.append(sp)
                if note:
                    notes.append(f"expert {e}: {note}")
        elif len(t.shape) >= 3:
            notes.append(f"{len(t.shape)}-D tensor that is not a stacked expert tensor: no spectrum")
    stats = TensorStats(
        name=t.name,
        kind=kind,
        layer=classify.layer_index(t.name),
        shape=tuple(int(d) for d in t.shape),
        dtype=t.dtype,
        numel=t.numel,
        nbytes=t.nbytes,
        mean=es.mean,
        std=es.std,
        min=es.min,
        max=es.max,
        mean_abs=es.mean_abs,
        zero_fraction=es.zero_fraction,
        near_zero_fraction=es.near_zero_fraction,
        spectra=tuple(spectra),
        file=Path(t.file).name,
        seconds=time.perf_counter() - t0,
        notes=tuple(notes),
        expert=classify.expert_index(t.name),
    )
    return stats, partial


def spectrum_of(t: LazyTensor, device: str, opts: WeightsOptions, expert: int | None = None) -> tuple[SpectrumStats, str | None]:
    """The :class:`SpectrumStats` of a 2-D lazy tensor on ``device`` (CPU fallback note)."""
    chunks, shape = matrix_chunks(t)
    sv, note = devices.singular_values_on(device, checked(chunks, opts), shape, opts.tol)
    used = "cpu" if (device == "cpu" or note) else "cuda"
    m, n = t.shape
    return spectrum_stats(sv.values, m, n, sv.method, used, expert=expert, keep=opts.keep_singular_values), note


def spectrum_stats(sigma: np.ndarray, m: int, n: int, method: str, device: str = "cpu",
                   expert: int | None = None, keep: bool = False) -> SpectrumStats:
    """Rank, energy, norm, conditioning and power-law facts from singular values (descending)."""
    s = np.asarray(sigma, dtype=np.float64)
    k = int(min(m, n))
    smax = float(s[0]) if s.size else 0.0
    smin = float(s[-1]) if s.size else 0.0
    energy = s * s
    cum = np.cumsum(energy)
    total = float(cum[-1]) if cum.size else 0.0
    if total > 0.0:
        r90 = int(np.searchsorted(cum, 0.90 * total, side="left")) + 1
        r99 = int(np.searchsorted(cum, 0.99 * total, side="left")) + 1
    else:
        r90 = r99 = 0
    numerical = int(np.count_nonzero(s > smax * max(m, n) * EPS32)) if smax > 0 else 0
    fit = fit_power_law(energy)
    return SpectrumStats(
        rows=int(m),
        cols=int(n),
        design_rank=k,
        numerical_rank=numerical,
        rank_90=min(r90, k),
        rank_99=min(r99, k),
        stable_rank=total / (smax * smax) if smax > 0 else 0.0,
        spectral_norm=smax,
        min_singular_value=smin,
        condition_number=smax / smin if smin > 0 else float("inf"),
        alpha=fit.alpha if fit else None,
        xmin=fit.xmin if fit else None,
        ks_distance=fit.ks_distance if fit else None,
        alpha_tail=fit.tail if fit else 0,
        method=method,
        device=device,
        expert=expert,
        singular_values=tuple(float(v) for v in s) if keep else (),
    )


# ---------------------------------------------------------------- embeddings
def _is_token_embedding(t: LazyTensor, stats: TensorStats) -> bool:
    return (stats.kind == "embedding" and len(t.shape) == 2 and t.floating and t.shape[0] >= 4
            and any(p in t.name for p in TOKEN_EMBEDDING))


def embedding_clusters(t: LazyTensor, opts: WeightsOptions) -> EmbeddingClusters:
    """k-means (k = 2..K chosen by Calinski–Harabasz) on a seeded row sample, plus row-norm quantiles."""
    rows = t.shape[0]
    norms = np.concatenate([np.linalg.norm(c, axis=1) for c in _leading_chunks(t)()])
    idx = sample_rows(rows, opts.kmeans_sample_rows, opts.seed)
    x = t[idx] if idx.size < rows else t[:]
    pre = prepare(x)
    x = pre.x

    def one(k: int) -> tuple[Any, float] | None:
        if _cancelled(opts):
            return None
        res = kmeans(x, k, seed=opts.seed, max_iter=50, prepared=pre)
        return res, calinski_harabasz(x, res.labels)

    candidates = list(range(2, min(opts.kmeans_max_k, x.shape[0] - 1) + 1))
    # Small BLAS problems: one BLAS thread each (on a busy machine two threads spin and are ~10× slower),
    # and the candidates k side by side on the cores instead (numpy releases the GIL in BLAS and the
    # big ufuncs). Each k is seeded on its own, so the results do not depend on the order they finish.
    with blas_threads_for(0):
        workers = min(KMEANS_THREADS, _cpus(), len(candidates))
        if workers > 1:  # daemon threads (parallel.py): a quit never waits for a k in progress
            runs = list(ordered_map((functools.partial(one, k) for k in candidates), workers, name="lmscope-kmeans"))
        else:
            runs = [one(k) for k in candidates]
    best_k, best_score, best = 0, -np.inf, None
    scores = []
    for k, run in zip(candidates, runs, strict=True):
        if run is None:  # cancelled before this k started
            break
        res, score = run
        scores.append((k, float(score)))
        if score > best_score:
            best_k, best_score, best = k, score, res
    sizes = tuple(int(v) for v in np.bincount(best.labels, minlength=best_k)) if best is not None else ()
    counts, edges = np.histogram(norms, bins=NORM_BINS)
    return EmbeddingClusters(
        name=t.name,
        rows=rows,
        sample_rows=int(x.shape[0]),
        seed=opts.seed,
        best_k=best_k,
        scores=tuple(scores),
        cluster_sizes=sizes,
        inertia=float(best.inertia) if best is not None else 0.0,
        norm_quantiles=tuple((q, float(np.quantile(norms, q))) for q in NORM_QUANTILES),
        norm_bin_edges=tuple(float(e) for e in edges),
        norm_counts=tuple(int(c) for c in counts),
        representatives=_representatives(x, idx, best) if best is not None else (),
    )


def _cpus() -> int:
    """CPUs this process may run on (the affinity mask where the OS has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - macOS, Windows
        return os.cpu_count() or 1


def _representatives(x: np.ndarray, idx: np.ndarray, res: Any, per_cluster: int = REPRESENTATIVES) -> tuple[tuple[int, ...], ...]:
    """Per cluster, the original row indices of the sample rows nearest its centroid (ties: lower row first)."""
    x = np.asarray(x, dtype=np.float64)
    dist = ((x - res.centroids[res.labels]) ** 2).sum(axis=1)
    out = []
    for j in range(res.centroids.shape[0]):
        members = np.flatnonzero(res.labels == j)
        order = members[np.lexsort((idx[members], dist[members]))][:per_cluster]
        out.append(tuple(int(idx[i]) for i in order))
    return tuple(out)


# ---------------------------------------------------------------- summary
def summarize_by_kind(results: list[TensorStats]) -> tuple[KindSummary, ...]:
    """Per-module-kind aggregates, in :data:`classify.KINDS` order."""
    groups: dict[str, list[TensorStats]] = {}
    for r in results:
        groups.setdefault(r.kind, []).append(r)
    order = list(classify.KINDS)
    out = []
    for kind in sorted(groups, key=lambda k: order.index(k) if k in order else len(order)):
        rs = groups[kind]
        params = sum(r.numel for r in rs)
        sq = sum(r.numel * r.std * r.std for r in rs)
        spectra = [s for r in rs for s in r.spectra]
        alphas = [s.alpha for s in spectra if s.alpha is not None]
        out.append(KindSummary(
            kind=kind,
            tensors=len(rs),
            params=params,
            nbytes=sum(r.nbytes for r in rs),
            mean_abs=sum(r.numel * r.mean_abs for r in rs) / params if params else 0.0,
            std=float(np.sqrt(sq / params)) if params else 0.0,
            matrices=len(spectra),
            mean_alpha=float(np.mean(alphas)) if alphas else None,
            mean_stable_rank=float(np.mean([s.stable_rank for s in spectra])) if spectra else None,
            mean_rank_ratio=float(np.mean([s.numerical_rank / s.design_rank for s in spectra if s.design_rank])) if spectra else None,
            mean_rank_90_ratio=float(np.mean([s.rank_90 / s.design_rank for s in spectra if s.design_rank])) if spectra else None,
        ))
    return tuple(out)
