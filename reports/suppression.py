"""Small-cell suppression for figures that leave the supervisor's screen (files, the CHI report).

A count of children below the threshold (`REPORT_SUPPRESS_BELOW`, default 5) is never published:
it reads "<5" (`BELOW`). Other figures are hidden too (`COMPLEMENTARY`, "c") until no hidden
small count can be worked out from what is published. Zero is published: "nobody" is not a small
group of children.

Every shared figure is a list with its total (one grouping, or the pairs of two groupings with the
period's total: no subtotals, which would add equations across the list). What a reader of the
file knows, and this module assumes they know:
- a published count is exact; "<5" is 1 to 4; "c" is 0 or at least 5 (never 1 to 4: those read
  "<5"); the cells add up to the total;
- in a list whose total itself is below the threshold, every cell reads "<5" (0 to 4 then): with
  published zeros, a total of 4 over four "<5" cells would make each 1.

A hidden figure is protected when at least two of its values are consistent with everything the
list publishes (it cannot be recomputed): `protected` checks it by interval arithmetic, and
complements are added, the smallest count first, until every hidden figure is. A complement may
not be a figure published elsewhere as well (`keep`, `keep_total`): hiding it here would change
nothing there.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from math import inf

from django.conf import settings


class Hidden(StrEnum):
    BELOW = "below"  # under the threshold itself: shown as "<5"
    COMPLEMENTARY = "complementary"  # hidden so that no total gives a small one away: shown as "c"


COMPLEMENTARY_MARK = "c"


def threshold() -> int:
    return settings.REPORT_SUPPRESS_BELOW


def shown(value: int | None, hidden: Hidden | None, *, below: int | None = None) -> str:
    """A figure as a shared file writes it: the count, "<5" or "c"."""
    if hidden is Hidden.BELOW:
        return f"<{below or threshold()}"
    if hidden is Hidden.COMPLEMENTARY:
        return COMPLEMENTARY_MARK
    return "" if value is None else str(value)


@dataclass(frozen=True)
class SuppressedList:
    cells: list[Hidden | None]
    total: Hidden | None
    # The small counts could not be protected without hiding a figure published elsewhere
    # (`keep`, `keep_total`): the caller must hide that figure everywhere, or withhold the list.
    stuck: bool = False


def suppress_list(
    values: Sequence[int],
    *,
    below: int | None = None,
    keep: frozenset[int] = frozenset(),
    keep_total: bool = False,
    hide: frozenset[int] = frozenset(),
    hide_total: bool = False,
) -> SuppressedList:
    """Which of `values` (and their total) to hide so that no hidden figure can be worked out.
    `hide`, `hide_total`: figures hidden elsewhere, to hide here too (and protect likewise)."""
    below = below or threshold()
    total = sum(values)
    if 0 < total < below:
        return SuppressedList(cells=[Hidden.BELOW] * len(values), total=Hidden.BELOW)
    cells: list[Hidden | None] = [
        Hidden.BELOW if 0 < v < below else (Hidden.COMPLEMENTARY if i in hide else None)
        for i, v in enumerate(values)
    ]
    total_mark = Hidden.COMPLEMENTARY if hide_total and total else None
    while not protected(values, cells, total_mark, below=below):
        free = [i for i, mark in enumerate(cells) if mark is None and i not in keep]
        nonzero = sorted((i for i in free if values[i] > 0), key=lambda i: (values[i], i))
        if nonzero:
            cells[nonzero[0]] = Hidden.COMPLEMENTARY
        elif total_mark is None and not keep_total:
            total_mark = Hidden.COMPLEMENTARY
        elif free:
            cells[free[0]] = Hidden.COMPLEMENTARY  # an empty cell: "c" may be 0
        else:
            return SuppressedList(cells=cells, total=total_mark, stuck=True)
    return SuppressedList(cells=cells, total=total_mark)


# --- what a reader can work out ----------------------------------------------------------------------

Intervals = list[tuple[float, float]]  # a union of closed integer intervals, the last may end at inf


def _domain(mark: Hidden | None, value: int, below: int) -> Intervals:
    if mark is Hidden.BELOW:
        return [(1, below - 1)]
    if mark is Hidden.COMPLEMENTARY:
        return [(0, 0), (below, inf)]
    return [(value, value)]


def _add(a: Intervals, b: Intervals) -> Intervals:
    return _merge([(x0 + y0, x1 + y1) for x0, x1 in a for y0, y1 in b])


def _merge(parts: Intervals) -> Intervals:
    merged: Intervals = []
    for low, high in sorted(parts):
        if merged and low <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], high))
        else:
            merged.append((low, high))
    return merged


def _neg(a: Intervals) -> Intervals:
    return _merge([(-high, -low) for low, high in a])


def _cut(a: Intervals, b: Intervals) -> Intervals:
    return [(max(x0, y0), min(x1, y1)) for x0, x1 in a for y0, y1 in b if max(x0, y0) <= min(x1, y1)]


def _at_least_two(a: Intervals) -> bool:
    return sum(min(high - low + 1, 2) for low, high in a) >= 2


def possible(
    values: Sequence[int],
    cells: Sequence[Hidden | None],
    total: Hidden | None,
    position: int | None,
    *,
    below: int,
) -> Intervals:
    """The values of the figure at `position` (None: the total) that the published list allows."""
    domains = [_domain(mark, value, below) for value, mark in zip(values, cells, strict=True)]
    whole = _domain(total, sum(values), below)
    if position is None:
        sums: Intervals = [(0, 0)]
        for domain in domains:
            sums = _add(sums, domain)
        return _cut(whole, sums)
    rest: Intervals = [(0, 0)]
    for i, domain in enumerate(domains):
        if i != position:
            rest = _add(rest, domain)
    return _cut(domains[position], _add(whole, _neg(rest)))


def protected(
    values: Sequence[int], cells: Sequence[Hidden | None], total: Hidden | None, *, below: int
) -> bool:
    """Whether every hidden figure of the list (cells and total) has at least two values the
    published list allows: none can be worked out."""
    hidden = [i for i, mark in enumerate(cells) if mark] + ([None] if total else [])
    return all(_at_least_two(possible(values, cells, total, i, below=below)) for i in hidden)
