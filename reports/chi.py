"""Child Helpline International's annual report: a year's inbound contacts in CHI's terms, from the
day roll-ups (reports.models.ContactDay, ContactTraitDay) through the mapping in `data/chi-mapping.yaml`
(versioned data: its version is printed in every file).

What is counted (docs/reports.md, "The CHI report"):
- every inbound contact that started in the year on the helpline's clock, by contact type:
  counselling (a child, or someone about a child), each non-counselling type, and unclassified;
- counselling contacts by channel, by the child's age band and by gender (their case's child);
- reasons for contact of counselling contacts: a contact counts once under each of its case's
  categories, as the CHI subcategory each maps to (a contact with two reasons counts under both:
  reasons are mentions, and a category's figure is the sum of its subcategories'; two of a case's
  categories that map to one CHI subcategory count twice there, which only a helpline's own
  categories under one parent can do).

Everything here leaves the supervisor's screen (it is submitted), so every figure is suppressed
(reports.suppression); a figure published in two places (the counselling contacts are also the
total of the channel, age and gender lists) is never chosen as a complement, so that the other
place cannot give it away."""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import yaml

from .suppression import Hidden, SuppressedList, shown, suppress_list

MAPPING_FILE = Path(__file__).parent / "data" / "chi-mapping.yaml"
UNKNOWN = "unknown"
OTHER = "other"
NOT_A_REASON = object()  # a non-counselling reason: counted nowhere


@dataclass(frozen=True)
class Mapping:
    version: str
    framework: str
    counselling: frozenset[str]
    non_counselling: dict[str, tuple[str, str]]  # our call type -> (CHI type, label)
    channels: dict[str, tuple[str, str]]
    age_bands: list[tuple[str, str, int | None, int | None]]  # (CHI band, label, from, to)
    age_ranges: dict[str, str]  # our age range -> CHI band, where the range lies inside one
    genders: dict[str, tuple[str, str]]
    reasons: dict[str, tuple[str, dict[str, tuple[str, str]]]]  # CHI category -> (label, ours -> sub)
    parents: dict[str, str]  # our top-level category -> CHI category (a helpline's own: "other")
    not_reasons: frozenset[str]

    def age_band(self, age: int | None, age_range: str) -> str:
        if age is not None:
            for band, _label, low, high in self.age_bands:
                if low is not None and age >= low and (high is None or age <= high):
                    return band
        return self.age_ranges.get(age_range, UNKNOWN)

    def reasons_of(self, codes: Iterable[str], parent_of: dict[str, str]) -> tuple[set[tuple[str, str]], int]:
        """The (CHI category, subcategory) pairs these categories map to, and how many of them map
        to nothing (a helpline's own category whose parent CHI does not know)."""
        pairs: set[tuple[str, str]] = set()
        unmapped = 0
        for code in codes:
            found = self._reason(code, parent_of)
            if found is NOT_A_REASON:
                continue
            if found is None:
                unmapped += 1
            else:
                pairs.add(found)
        return pairs, unmapped

    def _reason(self, code: str, parent_of: dict[str, str]) -> tuple[str, str] | object | None:
        """A category's CHI pair: its own, its nearest mapped ancestor's (a helpline's own category
        under one of ours counts with it; under a top-level one, as that CHI category's "other"),
        NOT_A_REASON for non-counselling reasons, or None when nothing maps."""
        seen: set[str] = set()
        while code and code not in seen:
            seen.add(code)
            if code in self.not_reasons:
                return NOT_A_REASON
            if code in self._subcategory:
                return self._subcategory[code]
            if code in self.parents:
                return (self.parents[code], OTHER)
            code = parent_of.get(code, "")
        return None

    @functools.cached_property
    def _subcategory(self) -> dict[str, tuple[str, str]]:
        return {
            ours: (category, sub)
            for category, (_l, subs) in self.reasons.items()
            for ours, (sub, _) in subs.items()
        }


@functools.cache
def chi_mapping() -> Mapping:
    data = yaml.safe_load(MAPPING_FILE.read_text(encoding="utf-8"))
    types = data["contact_types"]

    def pairs(section: dict) -> dict[str, tuple[str, str]]:
        return {ours: (theirs["chi"], theirs["label"]) for ours, theirs in section.items()}

    return Mapping(
        version=str(data["version"]),
        framework=data["framework"],
        counselling=frozenset(types["counselling"]),
        non_counselling=pairs(types["non_counselling"]),
        channels=pairs(data["channels"]),
        age_bands=[(b["chi"], b["label"], b.get("from"), b.get("to")) for b in data["age_bands"]],
        age_ranges=dict(data["age_ranges"]),
        genders=pairs(data["genders"]),
        reasons={chi: (c["label"], pairs(c["subcategories"])) for chi, c in data["reasons"].items()},
        parents=dict(data["parents"]),
        not_reasons=frozenset(data["not_reasons"]),
    )


@dataclass(frozen=True)
class Figure:
    section: str
    code: str
    label: str
    count: int
    shown: str  # as the file writes it: the count, "<5" or "c"


def chi_figures(
    types_rows: Iterable[tuple],
    trait_rows: Iterable[tuple],
    *,
    parent_of: dict[str, str],
    below: int | None = None,
) -> list[Figure]:
    """The year's figures, suppressed, from roll-up rows summed over the year: the inbound
    contacts' (call_type, channel, contacts) and their child's (call_type, trait, value, contacts)."""
    mapping = chi_mapping()
    types: Counter[str] = Counter()
    non_counselling: Counter[str] = Counter()
    channels: Counter[str] = Counter()
    ages: Counter[str] = Counter()
    genders: Counter[str] = Counter()
    reasons: Counter[tuple[str, str]] = Counter()
    unmapped = 0
    for call_type, channel, contacts in types_rows:
        if call_type in mapping.counselling:
            types["counselling"] += contacts
            channels[mapping.channels.get(channel, (OTHER, ""))[0]] += contacts
        elif call_type in mapping.non_counselling:
            types["non_counselling"] += contacts
            non_counselling[mapping.non_counselling[call_type][0]] += contacts
        else:
            types["unclassified"] += contacts
    for call_type, trait, value, contacts in trait_rows:
        if call_type not in mapping.counselling:
            continue
        if trait == "age":
            ages[mapping.age_band(int(value), "")] += contacts
        elif trait == "age_range":
            ages[mapping.age_band(None, value)] += contacts
        elif trait == "gender":
            genders[mapping.genders.get(value, (UNKNOWN, ""))[0]] += contacts
        elif trait == "category":
            pairs, lost = mapping.reasons_of([value], parent_of)
            for pair in pairs:
                reasons[pair] += contacts
            unmapped += lost * contacts

    lists = [
        Section("contact_types", [
            ("counselling", "Counselling contacts"),
            ("non_counselling", "Non-counselling contacts"),
            ("unclassified", "Not classified"),
        ], types, "total", "All contacts"),
        Section("non_counselling", _unique(mapping.non_counselling.values()), non_counselling,
                "non_counselling", "Non-counselling contacts", shares="non_counselling"),
        Section("channel", _unique(mapping.channels.values()), channels,
                "counselling", "Counselling contacts", shares="counselling"),
        Section("age", [(band, label) for band, label, _f, _t in mapping.age_bands], ages,
                "counselling", "Counselling contacts", shares="counselling"),
        Section("gender", _unique(mapping.genders.values()), genders,
                "counselling", "Counselling contacts", shares="counselling"),
    ]  # fmt: skip
    for category, (label, subcategories) in mapping.reasons.items():
        counts = Counter({sub: n for (cat, sub), n in reasons.items() if cat == category})
        items = [*_unique(subcategories.values()), (OTHER, "Other")]
        lists.append(Section(f"reason:{category}", items, counts, category, label))
    lists.append(Section("reasons_unmapped", [], Counter(), "unmapped", "Reasons not in CHI's framework"))
    figures = _suppressed(lists, below=below, unmapped=unmapped)
    return figures


@dataclass(frozen=True)
class Section:
    name: str
    items: list[tuple[str, str]]
    counts: Counter
    total_code: str
    total_label: str
    shares: str = ""  # its total is this figure of `contact_types` (published there too)


# The figures of `contact_types` that other lists publish as their totals.
SHARED = {"counselling": 0, "non_counselling": 1}


def _suppressed(lists: list[Section], *, below: int | None, unmapped: int) -> list[Figure]:
    """Suppresses every list so that a figure published in two places is hidden in both or in
    neither: first with the shared figures published; a list that cannot protect its small counts
    without hiding its shared total has that figure hidden everywhere in the next round; a list
    that cannot even then is withheld whole."""
    hidden_shared: set[str] = set()
    for _round in range(len(SHARED) + 1):
        figures: list[Figure] = []
        stuck: set[str] = set()
        for section in lists:
            values = [section.counts.get(code, 0) for code, _label in section.items]
            total = unmapped if section.name == "reasons_unmapped" else sum(values)
            if section.name == "reasons_unmapped":
                mark = suppress_list([unmapped], below=below).total
                figures.append(Figure(section.name, section.total_code, section.total_label, total,
                                      shown(total, mark, below=below)))  # fmt: skip
                continue
            if section.name == "contact_types":
                marks = suppress_list(
                    values,
                    below=below,
                    keep=frozenset(i for name, i in SHARED.items() if name not in hidden_shared),
                    hide=frozenset(i for name, i in SHARED.items() if name in hidden_shared),
                )
                if marks.stuck:
                    stuck |= set(SHARED) - hidden_shared
            else:
                shared_hidden = section.shares in hidden_shared
                marks = suppress_list(
                    values,
                    below=below,
                    keep_total=bool(section.shares) and not shared_hidden,
                    hide_total=shared_hidden,
                )
                if marks.stuck and section.shares and not shared_hidden:
                    stuck.add(section.shares)
                elif marks.stuck:  # withheld whole
                    marks = SuppressedList(
                        cells=[Hidden.COMPLEMENTARY] * len(values), total=Hidden.COMPLEMENTARY
                    )
            for (code, label), value, mark in zip(section.items, values, marks.cells, strict=True):
                figures.append(Figure(section.name, code, label, value, shown(value, mark, below=below)))
            figures.append(Figure(section.name, section.total_code, section.total_label, total,
                                  shown(total, marks.total, below=below)))  # fmt: skip
        if not stuck - hidden_shared:
            return figures
        hidden_shared |= stuck
    return figures


def _unique(pairs: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    seen: dict[str, str] = {}
    for code, label in pairs:
        seen.setdefault(code, label)
    return list(seen.items())
