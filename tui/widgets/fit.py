"""How many of a table's leading columns fit whole in the width there is.

A DataTable wider than its widget scrolls sideways and shows its last
visible column cut ("mean" half gone at 80 columns). Screens whose later
columns are secondary (search, weights) show only the columns that fit
whole; exports and detail lines keep every field.
"""

from __future__ import annotations

from collections.abc import Sequence


def columns_that_fit(widths: Sequence[int], room: int, *, padding: int = 1, keep: int = 2) -> int:
    """The number of leading columns of ``widths`` (content cells) that fit ``room`` cells; at least ``keep``."""
    used = 0
    for shown, width in enumerate(widths):
        used += width + 2 * padding
        if used > room:
            return max(shown, min(keep, len(widths)))
    return len(widths)
