"""A report as it leaves the supervisor's screen: a table with small cells suppressed
(reports.suppression), ready for a file (reports.files). The JSON the supervisor reads on screen
keeps every figure; whatever is written to a file goes through here.

A suppressed count hides what is computed from it too: its mean handle time. A mean is shown only
where at least `below` contacts ended, so that no file gives the length of one child's call."""

from __future__ import annotations

from django.utils.translation import gettext as _

from .files import Table
from .suppression import Hidden, shown, suppress_list, threshold


def contact_report_table(report: dict, *, below: int | None = None) -> Table:
    """The contacts report (reports.selectors.contact_report) as a shareable table: a row per group
    (with two groupings, per pair) and the period's total. No subtotals: each would be one more
    equation over the hidden cells (reports.suppression)."""
    below = below or threshold()
    by: list[str] = report["by"]
    header = [column for name in by for column in (name, f"{name}_label")]
    header += ["contacts", "handle_seconds_mean"]
    figures = [row["contacts"] for row in report["rows"]]
    marks = suppress_list(figures, below=below)
    rows = [
        _line(_groups(row, by), row, mark, below)
        for row, mark in zip(report["rows"], marks.cells, strict=True)
    ]
    rows.append(_line(_total_groups(len(by)), report["total"], marks.total, below))
    return Table(header=header, rows=rows, about=_about(report, below))


def _about(report: dict, below: int) -> list[tuple[str, str]]:
    """What a period's file says about itself (the XLSX's second sheet)."""
    return [
        (_("Helpline"), report["helpline"]),
        (_("Time zone"), report["timezone"]),
        (_("From"), report["date_from"].isoformat()),
        (_("To"), report["date_to"].isoformat()),
        (
            _("Small counts"),
            _("Counts below %(below)d are shown as <%(below)d; c: hidden so that no total reveals them.")
            % {"below": below},
        ),
    ]


def _groups(row: dict, by: list[str]) -> list[object]:
    return [
        value for name in by for value in (_plain(row[name]), row.get(f"{name}_label", _plain(row[name])))
    ]


def _total_groups(groups: int) -> list[object]:
    return ["total", str(_("Total"))] * groups


def _plain(value: object) -> object:
    return value.isoformat() if hasattr(value, "isoformat") else value


def _line(groups: list[object], figures: dict, mark: Hidden | None, below: int) -> list[object]:
    contacts = shown(figures["contacts"], mark, below=below) if mark else figures["contacts"]
    mean = None
    if mark is None and figures["ended"] >= below:
        mean = round(figures["handle_seconds"] / figures["ended"], 1)
    return [*groups, contacts, mean]


def chi_report_table(report: dict) -> Table:
    """The CHI report (reports.selectors.chi_report, already suppressed) as the file a helpline
    submits: what it is first (section `about`: the helpline, the year, the mapping's version),
    then every figure, one per row."""
    about = [
        ("helpline", report["helpline"]),
        ("year", str(report["year"])),
        ("timezone", report["timezone"]),
        ("mapping_version", report["mapping_version"]),
        ("framework", report["framework"]),
        (
            "suppressed_below",
            f"counts below {report['suppressed_below']} read <{report['suppressed_below']}; "
            "c: hidden so that no total reveals them",
        ),
    ]
    rows: list[list[object]] = [["about", code, "", value] for code, value in about]
    for figure in report["figures"]:
        value: object = figure.count if figure.shown == str(figure.count) else figure.shown
        rows.append([figure.section, figure.code, figure.label, value])
    return Table(header=["section", "code", "label", "figure"], rows=rows)


def case_report_table(report: dict, *, below: int | None = None) -> Table:
    """The cases report (reports.cases_report) as a shareable table: a row per group and the
    period's total, cases opened and closed each suppressed as a list of its own (two columns, two
    separate sums). The open cases now stay on the screen."""
    below = below or threshold()
    by: list[str] = report["by"]
    columns = ("opened", "closed")
    header = [column for name in by for column in (name, f"{name}_label")] + list(columns)
    marks = {
        column: suppress_list([row[column] for row in report["rows"]], below=below) for column in columns
    }

    def figure(value: int, mark: Hidden | None) -> object:
        return shown(value, mark, below=below) if mark else value

    rows = [
        [*_groups(row, by), *(figure(row[c], marks[c].cells[i]) for c in columns)]
        for i, row in enumerate(report["rows"])
    ]
    rows.append([*_total_groups(len(by)), *(figure(report["total"][c], marks[c].total) for c in columns)])
    return Table(header=header, rows=rows, about=_about(report, below))
