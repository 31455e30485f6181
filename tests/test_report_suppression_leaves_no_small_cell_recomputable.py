"""Small-cell suppression (reports.suppression): every count under the threshold is hidden, and no
hidden figure can be worked out from what the list publishes, by a reader who knows that "<5" is
1 to 4, that "c" is 0 or at least 5, that zeros are published and that the cells add up to the
total. Checked here by brute force over whole numbers (independently of the module's interval
arithmetic) on random lists, and on the cases a review found leaking when only exact linear
algebra was checked."""

from __future__ import annotations

import hypothesis
import pytest
from hypothesis import strategies as st

from reports.chi import chi_figures
from reports.suppression import Hidden, shown, suppress_list

BELOW = 5


def domain(mark, value: int, *, all_small: bool, bound: int) -> list[int]:
    if mark is Hidden.BELOW:
        return list(range(0 if all_small else 1, BELOW))
    if mark is Hidden.COMPLEMENTARY:
        return [0, *range(BELOW, bound + 1)]
    return [value]


def possible(values, cells, total, position) -> set[int]:
    """Every value of the figure at `position` (None: the total) for which whole numbers exist for
    the other figures, each in what its mark allows, adding up."""
    bound = sum(values) + 3 * BELOW
    all_small = total is Hidden.BELOW
    domains = [domain(m, v, all_small=all_small, bound=bound) for v, m in zip(values, cells, strict=True)]
    total_domain = set(domain(total, sum(values), all_small=False, bound=bound))
    found = set()
    positions = range(len(values)) if position is None else [position]
    for p in positions:
        others = {0}
        for i, d in enumerate(domains):
            if i != p:
                others = {s + x for s in others for x in d if s + x <= bound}
        for v in domains[p]:
            sums = {v + s for s in others}
            if position is None:
                found |= sums & total_domain
            elif sums & total_domain:
                found.add(v)
    return found


def assert_safe(values, result):
    for i, (value, mark) in enumerate(zip(values, result.cells, strict=True)):
        if result.total is Hidden.BELOW:
            assert mark is Hidden.BELOW  # a list whose total is small reads "<5" throughout
        else:
            assert (mark is Hidden.BELOW) == (0 < value < BELOW), (i, value, mark)
        if mark:
            assert len(possible(values, result.cells, result.total, i)) >= 2, (values, result, i)
    if result.total:
        assert len(possible(values, result.cells, result.total, None)) >= 2, (values, result)


counts = st.sampled_from([0, 0, 1, 1, 2, 3, 4, 4, 5, 6, 9, 14, 40])


@hypothesis.settings(max_examples=400, deadline=None)
@hypothesis.given(st.lists(counts, min_size=1, max_size=6))
def test_no_hidden_figure_can_be_worked_out(values):
    assert_safe(values, suppress_list(values, below=BELOW))


@hypothesis.settings(max_examples=300, deadline=None)
@hypothesis.given(st.lists(counts, min_size=1, max_size=6), st.booleans())
def test_figures_published_elsewhere_are_never_the_complement(values, keep_first):
    keep = frozenset({0}) if keep_first else frozenset()
    result = suppress_list(values, below=BELOW, keep=keep, keep_total=True)
    if result.stuck:
        return  # the caller hides the kept figure everywhere (the CHI test below)
    assert_safe(values, result)
    if sum(values) >= BELOW:
        assert result.total is None
        if keep_first and values[0] >= BELOW:
            assert result.cells[0] is None


@pytest.mark.parametrize(
    "values",
    [
        [300, 200, 1, 1],  # two small ones adding up to 2 would each be 1
        [3, 200, 0],  # an empty cell as the only complement: "c" is not 1-4, so it is 0
        [100, 5, 1, 0],  # the 5 and the 1 as the hidden pair: 6 is only 1 + 5
        [4, 4, 4, 4, 4, 4, 4],  # all at the threshold's edge: the total is hidden too
        [1, 1, 1, 1],  # a total of 4: every cell "<5", zeros too
    ],
)
def test_what_a_review_found_leaking_is_protected(values):
    assert_safe(values, suppress_list(values, below=BELOW))


def test_a_single_small_cell_takes_the_next_smallest_with_it():
    result = suppress_list([3, 40, 12, 0], below=BELOW)
    assert result.cells == [Hidden.BELOW, None, Hidden.COMPLEMENTARY, None]
    assert result.total is None
    written = [shown(v, m, below=BELOW) for v, m in zip([3, 40, 12, 0], result.cells, strict=True)]
    assert written == ["<5", "40", "c", "0"]


def test_a_shared_figure_that_cannot_stay_published_is_hidden_everywhere():
    # Seven counselling contacts... times four: every age band 4, every other list one large cell.
    # The age list cannot protect its small counts while the counselling figure is published
    # (each would be 4), so the counselling figure is hidden in every list that prints it.
    ages = [("child", "age", str(age), 4) for age in (0, 8, 11, 14, 16, 20)]
    traits = [*ages, ("child", "age_range", "unknown", 4), ("child", "gender", "unknown", 28)]
    figures = {
        (f.section, f.code): f.shown
        for f in chi_figures([("child", "voice", 28)], traits, parent_of={}, below=BELOW)
    }
    assert figures[("contact_types", "counselling")] == "c"
    for section in ("channel", "age", "gender"):
        assert figures[(section, "counselling")] == "c", section
    assert {figures[("age", band)] for band in ("0-6", "7-9", "10-12", "13-15", "16-17", "18+")} == {"<5"}
    assert figures[("channel", "telephone")] == "c" and figures[("gender", "unknown")] == "c"
    for section in ("contact_types", "channel", "age", "gender"):
        items = [(code, value) for (s, code), value in figures.items() if s == section]
        assert not any(value == "28" for _code, value in items), section
