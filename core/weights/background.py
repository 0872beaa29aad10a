"""Run the weights engine in a daemon thread so that cancel and quit never wait for LAPACK.

A long eigensolver or SVD call cannot be interrupted: it holds its thread until
it returns (seconds to minutes for a large matrix). If the consumer — the CLI's
main thread, the TUI's worker — ran the engine itself, Ctrl-C would only be
seen after the call, and the app's exit would wait for its executor thread.
So the engine runs in a *daemon* thread of its own and hands its events over a
queue; the consumer polls the queue with a short timeout and checks its own
stop condition between polls. On a stop it sets the engine's cancel flag (the
engine checks it between row chunks and between tensors) and returns at once;
the daemon thread finishes the call it is in and ends by itself, and a process
that exits meanwhile does not wait for it (daemon threads are not joined).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from typing import Any

POLL_SECONDS = 0.05


class BackgroundEvents:
    """Iterate over ``make_events()`` produced in a daemon thread; stop early without waiting for it.

    ``cancel`` is the engine's flag (``WeightsOptions.cancel``): it is set when
    the consumer stops early, so the abandoned thread stops at its next check.
    Exceptions raised by the generator (including a bad input before the first
    event) are re-raised in the consumer.
    """

    def __init__(self, make_events: Callable[[], Iterator[Any]], cancel: threading.Event, name: str = "lmscope-weights") -> None:
        self.cancel = cancel
        self._queue: queue.Queue[tuple[str, Any]] = queue.Queue()
        self._make = make_events
        self.thread = threading.Thread(target=self._produce, name=name, daemon=True)
        self.thread.start()

    def _produce(self) -> None:
        try:
            for event in self._make():
                self._queue.put(("event", event))
                if self.cancel.is_set() and getattr(event, "summary", None) is not None:
                    break
        except BaseException as err:  # noqa: BLE001 - handed to the consumer, which decides
            self._queue.put(("error", err))
            return
        self._queue.put(("done", None))

    def events(self, stop: Callable[[], bool] | None = None, poll: float = POLL_SECONDS) -> Iterator[Any]:
        """The events as they come; returns early (setting ``cancel``) as soon as ``stop()`` is true."""
        while True:
            if stop is not None and stop():
                self.cancel.set()
                return
            try:
                kind, payload = self._queue.get(timeout=poll)
            except queue.Empty:
                continue
            if kind == "event":
                yield payload
            elif kind == "done":
                return
            else:
                raise payload
