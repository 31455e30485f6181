"""Small-cell suppression (reports.suppression): every count under the threshold is hidden, and no
hidden figure can be recomputed exactly from the published ones and the totals. Checked here by
linear algebra (exact fractions) on random tables, independently of the graph argument the module
uses: a hidden figure is recomputable exactly when every solution of the table's equations agrees
on it."""

from __future__ import annotations

from fractions import Fraction

import hypothesis
from hypothesis import strategies as st

from reports.suppression import TOTAL, Hidden, shown, suppress_list, suppress_table

BELOW = 5


def determined(equations: list[dict], hidden: list) -> set:
    """The hidden variables fixed by the equations (each {variable: coefficient}; the published
    values only move the right-hand side, which does not change which variables are fixed)."""
    index = {v: i for i, v in enumerate(hidden)}
    rows = [[Fraction(0)] * len(hidden) for _ in equations]
    for row, equation in zip(rows, equations, strict=True):
        for variable, coefficient in equation.items():
            if variable in index:
                row[index[variable]] += coefficient
    pivots: list[int] = []
    r = 0
    for column in range(len(hidden)):
        pivot = next((i for i in range(r, len(rows)) if rows[i][column] != 0), None)
        if pivot is None:
            continue
        rows[r], rows[pivot] = rows[pivot], rows[r]
        lead = rows[r][column]
        rows[r] = [x / lead for x in rows[r]]
        for i in range(len(rows)):
            if i != r and rows[i][column] != 0:
                factor = rows[i][column]
                rows[i] = [a - factor * b for a, b in zip(rows[i], rows[r], strict=True)]
        pivots.append(column)
        r += 1
    free = [c for c in range(len(hidden)) if c not in pivots]
    fixed = set()
    for row_number, column in enumerate(pivots):
        if all(rows[row_number][f] == 0 for f in free):
            fixed.add(hidden[column])
    return fixed


def table_equations(rows: list, columns: list) -> list[dict]:
    equations = []
    for r in rows:
        equations.append({**{("cell", r, c): 1 for c in columns}, ("row", r): -1})
    for c in columns:
        equations.append({**{("cell", r, c): 1 for r in rows}, ("column", c): -1})
    equations.append({**{("row", r): 1 for r in rows}, ("total",): -1})
    equations.append({**{("column", c): 1 for c in columns}, ("total",): -1})
    return equations


tables = st.integers(1, 6).flatmap(
    lambda n_rows: st.integers(1, 5).flatmap(
        lambda n_columns: st.lists(
            st.lists(
                st.sampled_from([0, 0, 1, 2, 3, 4, 5, 6, 9, 14, 40]), min_size=n_columns, max_size=n_columns
            ),
            min_size=n_rows,
            max_size=n_rows,
        )
    )
)


@hypothesis.settings(max_examples=300, deadline=None)
@hypothesis.given(tables)
def test_no_hidden_cell_of_a_table_follows_from_its_totals(grid):
    rows, columns = list(range(len(grid))), [f"c{j}" for j in range(len(grid[0]))]
    cells = {(r, c): grid[r][j] for r in rows for j, c in enumerate(columns) if grid[r][j]}
    result = suppress_table(cells, rows=rows, columns=columns, below=BELOW)

    hidden = [("cell", r, c) for (r, c) in result.cells]
    hidden += [("row", r) for r in result.row_totals] + [("column", c) for c in result.column_totals]
    hidden += [("total",)] if result.total else []
    assert determined(table_equations(rows, columns), hidden) == set()

    # Every count under the threshold is hidden as such, and nothing at or above it is.
    values = {("cell", r, c): grid[r][j] for r in rows for j, c in enumerate(columns)}
    values |= {("row", r): sum(grid[r]) for r in rows}
    values |= {("column", c): sum(grid[r][j] for r in rows) for j, c in enumerate(columns)}
    values[("total",)] = sum(map(sum, grid))
    marks = {("cell", r, c): m for (r, c), m in result.cells.items()}
    marks |= {("row", r): m for r, m in result.row_totals.items()}
    marks |= {("column", c): m for c, m in result.column_totals.items()}
    if result.total:
        marks[("total",)] = result.total
    for figure, value in values.items():
        assert (marks.get(figure) is Hidden.BELOW) == (0 < value < BELOW), figure


@hypothesis.settings(max_examples=200, deadline=None)
@hypothesis.given(st.lists(st.sampled_from([0, 1, 3, 4, 5, 7, 12, 60]), min_size=1, max_size=8))
def test_no_hidden_figure_of_a_list_follows_from_its_total(values):
    result = suppress_list(values, below=BELOW)
    hidden = [i for i, mark in enumerate(result.cells) if mark] + (["total"] if result.total else [])
    equation = {**{i: 1 for i in range(len(values))}, "total": -1}
    assert determined([equation], hidden) == set()
    for value, mark in zip(values, result.cells, strict=True):
        assert (mark is Hidden.BELOW) == (0 < value < BELOW)
    assert (result.total is Hidden.BELOW) == (0 < sum(values) < BELOW)


def test_a_single_small_cell_takes_the_next_smallest_with_it():
    result = suppress_list([3, 40, 12, 0], below=BELOW)
    assert result.cells == [Hidden.BELOW, None, Hidden.COMPLEMENTARY, None]
    assert result.total is None
    assert [shown(v, m, below=BELOW) for v, m in zip([3, 40, 12, 0], result.cells, strict=True)] == [
        "<5",
        "40",
        "c",
        "0",
    ]


def test_a_lone_small_cell_in_a_row_hides_a_rectangle():
    # 2 in the middle: its row and its column each need a second hidden cell, and those two need
    # a fourth where their row and column cross, so that +1/-1 around the rectangle changes nothing.
    grid = {("a", "x"): 20, ("a", "y"): 30, ("b", "x"): 40, ("b", "y"): 2, ("c", "x"): 50, ("c", "y"): 60}
    result = suppress_table(grid, rows=["a", "b", "c"], columns=["x", "y"], below=BELOW)
    assert result.cells == {
        ("b", "y"): Hidden.BELOW,
        ("b", "x"): Hidden.COMPLEMENTARY,
        ("a", "y"): Hidden.COMPLEMENTARY,
        ("a", "x"): Hidden.COMPLEMENTARY,
    }
    assert result.row_totals == {} and result.column_totals == {} and result.total is None
    assert TOTAL not in result.row_totals
