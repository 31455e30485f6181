"""The helpline's reports, read from the roll-ups (reports.models), never from the raw tables: a
year of a national helpline is a few thousand roll-up rows, whatever its millions of contacts.

Every period is the helpline's own: `date_from` and `date_to` are dates on its clock, both included;
days, hours of the day and weekdays are its own (reports.rollups)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from django.db import transaction
from django.db.models import F, Sum
from django.db.models.functions import ExtractIsoWeekDay
from django.utils.translation import get_language_info
from django.utils.translation import gettext as _
from rest_framework.exceptions import NotFound

from cases.models import Category
from helpline import labels, policy
from helpline.audit import audit_record
from helpline.models import Helpline, User
from helpline.vocabulary import AuditAction, PolicyAction

from .chi import chi_figures, chi_mapping
from .models import ContactDay, ContactHour, ContactTraitDay
from .suppression import threshold

# What a contacts report groups by: the roll-up's expression, and the vocabulary of its labels
# (helpline.labels; None: a number, or a language named in the reader's language).
CONTACT_GROUPS = {
    "channel": (F("channel"), "channel"),
    "direction": (F("direction"), "direction"),
    "call_type": (F("call_type"), "call_type"),
    "language": (F("language"), None),
    "day": (F("day"), None),
    "hour_of_day": (F("hour"), None),
    "day_of_week": (ExtractIsoWeekDay("day"), None),
}
MAX_DAYS = 366 * 5  # the longest period one report covers


@dataclass(frozen=True)
class ContactFilters:
    date_from: date
    date_to: date
    by: tuple[str, ...] = ()
    channel: tuple[str, ...] = ()
    call_type: tuple[str, ...] = ()
    file: str = ""  # "csv" or "xlsx" when the report is downloaded as a file (on record)


def report_helpline(*, user: User) -> Helpline:
    """The helpline whose numbers the caller reads: their own, if the policy lets them (404)."""
    helpline = Helpline.objects.filter(pk=user.helpline_id).first()
    if helpline is None or not policy.can(user, PolicyAction.REPORT_VIEW, helpline):
        raise NotFound()
    return helpline


def contact_report(*, user: User, filters: ContactFilters) -> dict:
    """Contacts of the caller's helpline in the period, grouped by `filters.by` (in that order; no
    grouping: the period's total), with each group's label in the reader's language, how many ended
    and their mean length (handle time, seconds). The read is on record."""
    helpline = report_helpline(user=user)
    # Days unless the hour of the day is asked for: a year is then 24 times fewer rows.
    rollup = ContactHour if "hour_of_day" in filters.by else ContactDay
    rows = rollup.objects.filter(helpline=helpline, day__gte=filters.date_from, day__lte=filters.date_to)
    if filters.channel:
        rows = rows.filter(channel__in=filters.channel)
    if filters.call_type:
        rows = rows.filter(call_type__in=[("" if c == "unclassified" else c) for c in filters.call_type])
    groups = {name: CONTACT_GROUPS[name][0] for name in filters.by}
    sums = {"contacts": Sum("contacts"), "ended": Sum("ended"), "handle_seconds": Sum("handle_seconds")}
    grouped = rows.annotate(**{f"g_{name}": expr for name, expr in groups.items()}).values(
        *(f"g_{name}" for name in groups)
    )
    totals = rows.aggregate(**sums)
    counted = (
        list(grouped.annotate(**sums).order_by(*(f"g_{name}" for name in groups))) if groups else [totals]
    )
    reader = labels.labeller(helpline)
    result = {
        "helpline": helpline.code,
        "timezone": helpline.timezone,
        "date_from": filters.date_from,
        "date_to": filters.date_to,
        "by": list(filters.by),
        "rows": [_row(row, filters.by, reader) for row in counted if row["contacts"]],
        "total": _figures(totals),
    }
    record_report_read(
        user=user,
        helpline=helpline,
        report="contacts",
        file=filters.file,
        date_from=filters.date_from.isoformat(),
        date_to=filters.date_to.isoformat(),
        by=list(filters.by),
        channel=list(filters.channel),
        call_type=list(filters.call_type),
    )
    return result


def record_report_read(*, user: User, helpline: Helpline, report: str, file: str = "", **query) -> None:
    """A report read on record (`report.read`): which report, its query, and the file format when
    it was downloaded to share."""
    with transaction.atomic():
        audit_record(
            actor=user,
            action=AuditAction.REPORT_READ,
            obj=helpline,
            extra={"report": report, **query, **({"file": file} if file else {})},
        )


def _figures(sums: dict) -> dict:
    contacts, ended, seconds = sums["contacts"] or 0, sums["ended"] or 0, sums["handle_seconds"] or 0.0
    return {
        "contacts": contacts,
        "ended": ended,
        "handle_seconds_mean": round(seconds / ended, 1) if ended else None,
        "handle_seconds": seconds,  # for the shared file's subtotals (reports.sharing); not in the JSON
    }


def _row(row: dict, by: tuple[str, ...], reader: labels.Labeller) -> dict:
    answer: dict = {}
    for name in by:
        value = row[f"g_{name}"]
        vocabulary = CONTACT_GROUPS[name][1]
        if name == "call_type" and value == "":
            answer[name] = "unclassified"
            answer[f"{name}_label"] = str(_("Not classified"))
        elif vocabulary is not None:
            answer[name] = value
            default = (labels.vocabulary_choices(vocabulary) or {}).get(value, value)
            answer[f"{name}_label"] = reader.label(vocabulary, value, default)
        elif name == "language":
            answer[name] = value
            answer[f"{name}_label"] = _language_name(value)
        else:
            answer[name] = value
    answer.update(_figures(row))
    return answer


def _language_name(code: str) -> str:
    if not code:
        return str(_("Recorded by staff"))  # contacts staff recorded carry no language
    try:
        return str(get_language_info(code)["name_translated"])
    except KeyError:
        return code


def chi_report(*, user: User, year: int, file: str = "") -> dict:
    """Child Helpline International's figures for the caller's helpline's year (on its clock),
    suppressed (reports.chi), from the day roll-up. The read is on record."""
    helpline = report_helpline(user=user)
    year_of = {"helpline": helpline, "day__gte": date(year, 1, 1), "day__lte": date(year, 12, 31)}
    types_rows = (
        ContactDay.objects.filter(**year_of, direction="inbound")
        .values_list("call_type", "channel")
        .annotate(contacts=Sum("contacts"))
        .order_by()
    )
    trait_rows = (
        ContactTraitDay.objects.filter(**year_of)
        .values_list("call_type", "trait", "value")
        .annotate(contacts=Sum("contacts"))
        .order_by()
    )
    parent_of = dict(Category.objects.filter(helpline=helpline).values_list("code", "parent_code"))
    mapping = chi_mapping()
    result = {
        "helpline": helpline.code,
        "year": year,
        "timezone": helpline.timezone,
        "mapping_version": mapping.version,
        "framework": mapping.framework,
        "suppressed_below": threshold(),
        "figures": chi_figures(types_rows, trait_rows, parent_of=parent_of),
    }
    record_report_read(user=user, helpline=helpline, report="chi", file=file, year=year)
    return result
