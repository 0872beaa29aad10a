"""Solved limits: the largest context at a batch, the largest batch at a context.

Both come from :func:`lmscope.core.plan.memory.plan_memory`, which is
monotone non-decreasing in each argument, so the answer is found by
exponential search for a failing bound and then bisection — about
2·log₂(answer) evaluations, never a scan. By construction ``fits`` holds at
the answer and fails one step beyond (tests walk both edges).
"""

from __future__ import annotations

from collections.abc import Callable

from lmscope.core.plan.request import MAX_SIZE


def largest_fitting(fits: Callable[[int], bool], limit: int = MAX_SIZE) -> int | None:
    """The largest n in [1, limit] with ``fits(n)``, for a monotone (true…true, false…false) predicate.

    None when ``fits(1)`` is false; ``limit`` when it still fits there.
    """
    if not fits(1):
        return None
    lo, hi = 1, 2
    while hi <= limit and fits(hi):  # exponential search: lo fits, hi does not (or passes the limit)
        lo, hi = hi, hi * 2
    if hi > limit:
        if fits(limit):
            return limit
        hi = limit
    while hi - lo > 1:  # invariant: fits(lo), not fits(hi)
        mid = (lo + hi) // 2
        if fits(mid):
            lo = mid
        else:
            hi = mid
    return lo
