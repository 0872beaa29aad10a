"""Blocking calls a thread worker can walk away from, so that quitting never waits for them.

Textual runs thread workers in asyncio's default executor, and ``asyncio.run``
joins that executor's threads when the app exits: a worker blocked in a long
call — the Hub on a slow network (timeouts and retries add up to tens of
seconds), the exact engine importing torch and building a large model on the
meta device — would hold the exit until the call returns. :func:`abandonable`
runs the call in a daemon thread of its own (daemon threads are never joined
at exit) and waits for it in the worker, checking the worker's own
``cancelled_event`` between short waits. Textual sets that event when the app
closes (and when a newer worker of an exclusive group replaces this one), so a
cancelled worker returns at once and leaves the call to finish alone; whatever
it returns then is dropped. The weights run does the same with a stream of
events (``core.weights.background.BackgroundEvents``).

Only for calls that write nothing: a call abandoned at exit is cut off when the
interpreter ends (the export dialog's folder writer is not one of them).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")
POLL_SECONDS = 0.05


class Abandoned(Exception):
    """The worker was cancelled (the app is closing, or a newer request replaced it) before the call returned."""


def abandonable(call: Callable[[], T], *, name: str = "lmscope-call", poll: float = POLL_SECONDS) -> T:
    """``call()``'s result (or its exception), from a daemon thread; :class:`Abandoned` once the worker is cancelled.

    Must run inside a Textual thread worker (it reads ``get_current_worker().cancelled_event``).
    """
    from textual.worker import get_current_worker

    cancelled = get_current_worker().cancelled_event
    done = threading.Event()
    results: list[T] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            results.append(call())
        except BaseException as err:  # noqa: BLE001 - handed to the worker, which decides
            errors.append(err)
        finally:
            done.set()

    threading.Thread(target=run, name=name, daemon=True).start()
    while not done.wait(poll):
        if cancelled.is_set():
            raise Abandoned
    if errors:
        raise errors[0]
    return results[0]
