"""Small-cell suppression for figures that leave the supervisor's screen (files, the CHI report).

A count of children below the threshold (`REPORT_SUPPRESS_BELOW`, default 5) is never published:
it is shown as "<5" (`BELOW`). Where published totals would let a reader subtract their way back to
it, more cells are hidden (`COMPLEMENTARY`, shown as "c") until none of the hidden ones can be
recomputed from what is shown. Zero is published: "nobody" is not a small group of children.

- A list with its total (`suppress_list`): the only equation is "the cells add up to the total", so
  hiding one cell alone is never enough; a second one (the smallest) goes with it.
- A table with row, column and grand totals (`suppress_table`): every row and column is an equation.
  Seen as a graph (a node per row and per column, plus one for the totals' row and one for the
  totals' column; an edge per cell, per total, and the grand total), a hidden cell can be
  recomputed exactly when its edge is a bridge of the graph of hidden cells, and it cannot when it
  lies on a cycle of hidden cells (an alternating cycle: add 1 to every other cell and subtract 1
  from the rest, and every published figure stays the same). So hidden cells are added, the
  cheapest first, until no hidden edge is a bridge.

The cost of a cell is its count (hide small figures before large ones); an empty cell is hidden
only when no other will do, as a reader may know elsewhere that it is empty.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from django.conf import settings


class Hidden(StrEnum):
    BELOW = "below"  # under the threshold itself: shown as "<5"
    COMPLEMENTARY = "complementary"  # hidden so that no total gives a hidden cell away: shown as "c"


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


def _primary(value: int, below: int) -> Hidden | None:
    return Hidden.BELOW if 0 < value < below else None


@dataclass(frozen=True)
class SuppressedList:
    cells: list[Hidden | None]
    total: Hidden | None


def suppress_list(
    values: Sequence[int],
    *,
    below: int | None = None,
    keep: frozenset[int] = frozenset(),
    keep_total: bool = False,
) -> SuppressedList:
    """Which of `values` (and their total) to hide: none of the hidden ones follows from the rest.
    `keep` (positions) and `keep_total`: figures published elsewhere too, which a complement must
    not be, or that place would give it away (hidden there only when small themselves)."""
    below = below or threshold()
    cells = [_primary(v, below) for v in values]
    total = _primary(sum(values), below)
    hidden = sum(1 for mark in cells if mark) + (1 if total else 0)
    if hidden == 1:
        # One unknown in "cells add up to the total": hide the next smallest, an empty cell, or
        # else the total.
        free = [i for i, mark in enumerate(cells) if mark is None and i not in keep]
        candidates = sorted((i for i in free if values[i] > 0), key=lambda i: values[i]) or free
        if candidates:
            cells[candidates[0]] = Hidden.COMPLEMENTARY
        elif total is None and not keep_total:
            total = Hidden.COMPLEMENTARY
        else:
            raise ValueError("nothing left to hide with the one small figure")
    return SuppressedList(cells=cells, total=total)


# The table's graph: rows are ("r", key), columns ("c", key); the totals' row and column are
# ("r", TOTAL) and ("c", TOTAL). An edge (row node, column node) is one published figure.
TOTAL = ("total",)
Node = tuple[str, Hashable]
Edge = tuple[Node, Node]


@dataclass(frozen=True)
class SuppressedTable:
    cells: dict[tuple[Hashable, Hashable], Hidden]  # only the hidden ones; keys (row, column)
    row_totals: dict[Hashable, Hidden]
    column_totals: dict[Hashable, Hidden]
    total: Hidden | None


def suppress_table(
    cells: dict[tuple[Hashable, Hashable], int],
    *,
    rows: Sequence[Hashable],
    columns: Sequence[Hashable],
    below: int | None = None,
) -> SuppressedTable:
    """Which cells of a rows-by-columns table (missing cells are 0), which of its row and column
    totals and whether its grand total to hide, so that no hidden figure follows from the rest."""
    below = below or threshold()
    value: dict[Edge, int] = {}
    for r in rows:
        for c in columns:
            value[(("r", r), ("c", c))] = cells.get((r, c), 0)
    for r in rows:
        value[(("r", r), ("c", TOTAL))] = sum(cells.get((r, c), 0) for c in columns)
    for c in columns:
        value[(("r", TOTAL), ("c", c))] = sum(cells.get((r, c), 0) for r in rows)
    value[(("r", TOTAL), ("c", TOTAL))] = sum(cells.values())
    marks: dict[Edge, Hidden] = {e: Hidden.BELOW for e, v in value.items() if _primary(v, below)}
    while True:
        bridges = _bridges(marks)
        if not bridges:
            break
        for bridge in bridges:
            if bridge in _bridges(marks, only=bridge):
                marks[_complement(bridge, marks, value)] = Hidden.COMPLEMENTARY
    table = SuppressedTable(cells={}, row_totals={}, column_totals={}, total=None)
    grand = None
    for ((_r, row), (_c, column)), mark in marks.items():
        if row == TOTAL and column == TOTAL:
            grand = mark
        elif column == TOTAL:
            table.row_totals[row] = mark
        elif row == TOTAL:
            table.column_totals[column] = mark
        else:
            table.cells[(row, column)] = mark
    return SuppressedTable(table.cells, table.row_totals, table.column_totals, grand)


def _adjacency(edges) -> dict[Node, list[tuple[Node, Edge]]]:
    around: dict[Node, list[tuple[Node, Edge]]] = defaultdict(list)
    for edge in edges:
        a, b = edge
        around[a].append((b, edge))
        around[b].append((a, edge))
    return around


def _bridges(marks: dict[Edge, Hidden], *, only: Edge | None = None) -> list[Edge]:
    """The hidden edges on no cycle of hidden edges (Tarjan's bridges, iteratively); with `only`,
    [only] if that edge is one, else []."""
    around = _adjacency(marks)
    if only is not None:
        # Is there another way from one end to the other?
        start, goal = only
        seen, stack = {start}, [start]
        while stack:
            node = stack.pop()
            for other, edge in around[node]:
                if edge != only and other not in seen:
                    if other == goal:
                        return []
                    seen.add(other)
                    stack.append(other)
        return [only]
    order: dict[Node, int] = {}
    low: dict[Node, int] = {}
    found: list[Edge] = []
    for root in around:
        if root in order:
            continue
        order[root] = low[root] = len(order)
        stack = [(root, None, iter(around[root]))]
        while stack:
            node, via, neighbours = stack[-1]
            advanced = False
            for other, edge in neighbours:
                if edge == via:
                    continue
                if other in order:
                    low[node] = min(low[node], order[other])
                else:
                    order[other] = low[other] = len(order)
                    stack.append((other, edge, iter(around[other])))
                    advanced = True
                    break
            if not advanced:
                stack.pop()
                if stack:
                    parent = stack[-1][0]
                    low[parent] = min(low[parent], low[node])
                    if low[node] > order[parent]:
                        found.append(via)
    return sorted(found, key=repr)


def _cost(v: int) -> float:
    return v if v > 0 else float("inf")  # an empty cell last: its emptiness may be known elsewhere


def _complement(bridge: Edge, marks: dict[Edge, Hidden], value: dict[Edge, int]) -> Edge:
    """The cheapest published figure whose hiding puts `bridge` on a cycle of hidden figures; when
    no single one does, the cheapest one next to either end (the next round goes on from there)."""
    around = _adjacency(marks)

    def reach(start: Node) -> set[Node]:
        seen, stack = {start}, [start]
        while stack:
            for other, edge in around[stack.pop()]:
                if edge != bridge and other not in seen:
                    seen.add(other)
                    stack.append(other)
        return seen

    one, other = reach(bridge[0]), reach(bridge[1])
    open_edges = [e for e in value if e not in marks]
    closing = [e for e in open_edges if (e[0] in one and e[1] in other) or (e[0] in other and e[1] in one)]
    if closing:
        return min(closing, key=lambda e: (_cost(value[e]), repr(e)))
    touching = [e for e in open_edges if e[0] in one | other or e[1] in one | other]
    return min(touching or open_edges, key=lambda e: (_cost(value[e]), repr(e)))
