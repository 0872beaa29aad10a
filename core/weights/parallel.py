"""Small tensors side by side: daemon worker threads whose results come back in submission order.

Why threads and not processes: the work is numpy — BLAS, LAPACK and large
ufuncs, which release the GIL — on memory-mapped files, so threads share the
maps and nothing is pickled. Why side by side at all: a small matrix (side
below ``spectra.SMALL_K``) is analysed on one BLAS thread, because
multi-threaded LAPACK on a 384×384 problem spends more time synchronising
than computing; a model made of such matrices (all-MiniLM) would otherwise
leave every core but one idle. Running several tensors at once, each on one
BLAS thread, uses the cores without that synchronisation.

Why daemon threads and not ``concurrent.futures``: the interpreter joins a
``ThreadPoolExecutor``'s threads at exit, so a quit or Ctrl-C would wait for
the LAPACK call in progress; a daemon thread is abandoned (the engine's cancel
flag stops it at its next check, see :mod:`.background`).

Results are handed back in the order the jobs were submitted, so a parallel
run yields the same events, in the same order, as a serial one.
"""

from __future__ import annotations

import functools
import queue
import sys
import threading
from collections.abc import Callable, Generator, Iterable
from typing import Any, TypeVar

T = TypeVar("T")

_STOP = object()


class OrderedPool:
    """``workers`` daemon threads running submitted callables; :meth:`result` in submission order."""

    def __init__(self, workers: int, name: str = "lmscope-tensor") -> None:
        self._jobs: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._results: dict[int, tuple[bool, Any]] = {}
        self._ready = threading.Condition()
        self._submitted = 0
        self._threads = [threading.Thread(target=self._work, name=f"{name}-{i}", daemon=True) for i in range(max(1, workers))]
        for thread in self._threads:
            thread.start()

    def _work(self) -> None:
        while True:
            job = self._jobs.get()
            if job is _STOP:
                return
            index, fn = job
            try:
                outcome: tuple[bool, Any] = (True, fn())
            except BaseException as err:  # noqa: BLE001 - handed to whoever asks for this result
                outcome = (False, err)
            with self._ready:
                self._results[index] = outcome
                self._ready.notify_all()

    def submit(self, fn: Callable[[], Any]) -> int:
        """Queue ``fn``; returns its index for :meth:`result`."""
        index = self._submitted
        self._submitted += 1
        self._jobs.put((index, fn))
        return index

    def result(self, index: int) -> Any:
        """Wait for job ``index``; its return value, or its exception raised here."""
        with self._ready:
            while index not in self._results:
                self._ready.wait()
            ok, value = self._results.pop(index)
        if not ok:
            raise value
        return value

    def discard_pending(self) -> None:
        """Drop the jobs no thread has started (the running ones finish; their results are not asked for)."""
        while True:
            try:
                self._jobs.get_nowait()
            except queue.Empty:
                return

    def close(self) -> None:
        """Let the threads end once the queued jobs are done (does not wait for them)."""
        for _ in self._threads:
            self._jobs.put(_STOP)


def ordered_map(fns: Iterable[Callable[[], T]], workers: int, name: str = "lmscope-tensor") -> Generator[T, None, None]:
    """Each ``fn()``'s result, in ``fns``' order, computed on ``workers`` daemon threads.

    Stopping early (a ``break``, an exception, the generator closed) drops the jobs
    no thread has started; the running ones finish in the background.
    """
    pool = OrderedPool(workers, name=name)
    try:
        for index in [pool.submit(fn) for fn in fns]:
            yield pool.result(index)
    finally:
        pool.discard_pending()
        pool.close()


MMAP_THRESHOLD = 32 << 20  # glibc's largest allowed value; a 16 MiB float64 row chunk stays below it
TRIM_THRESHOLD = 64 << 20


@functools.cache
def tune_allocator() -> bool:
    """Keep numpy's 1–16 MiB arrays in malloc's heap instead of fresh mmaps (glibc only; once per process).

    Why: the engine allocates and frees many arrays of that size (float64 row chunks, k×k
    Grams, temporaries). glibc serves each from a new ``mmap`` until its dynamic threshold
    has grown past that size, and every such block is page-faulted in on first touch and
    unmapped on free; page faults take the process's memory-map lock, so two threads doing
    this mostly wait for each other. A fixed threshold keeps the blocks in the (per-thread)
    heaps and reuses them: all-MiniLM's analysis in a fresh process went from 2.2 s to 1.2 s
    on 2 cores, for ~35 MiB more peak RSS. Returns whether it was applied (False off glibc).
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        import ctypes

        libc = ctypes.CDLL(None)
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc (musl has no mallopt): nothing to tune
        return False
    m_trim_threshold, m_mmap_threshold = -1, -3  # glibc's <malloc.h> parameter numbers
    return bool(mallopt(m_mmap_threshold, MMAP_THRESHOLD)) and bool(mallopt(m_trim_threshold, TRIM_THRESHOLD))
