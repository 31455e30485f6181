"""Every read of exports: the exports a caller may see, the one they may download, and the rows an
export holds, each in the caller's scope (helpline.policy decides; outside it: 404)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.db.models import Q, QuerySet
from rest_framework.exceptions import NotFound

from helpline import policy
from helpline.audit import audit_record
from helpline.models import Helpline, User
from helpline.vocabulary import AuditAction, PolicyAction

from ..models import Export, ExportMode
from .datasets import Dataset


def export_helpline(*, user: User, action: PolicyAction = PolicyAction.EXPORT_REQUEST) -> Helpline:
    """The helpline whose records the caller may export (their own), else 404."""
    helpline = Helpline.objects.filter(pk=user.helpline_id).first()
    if helpline is None or not policy.can(user, action, helpline):
        raise NotFound()
    return helpline


def exports_visible(*, user: User) -> QuerySet[Export]:
    """The caller's own exports; for a helpline's reviewers (its administrators) also its full
    exports, to review (their metadata: only the requester downloads the file)."""
    visible = Q(requested_by=user)
    helpline = Helpline.objects.filter(pk=user.helpline_id).first()
    if helpline is not None and policy.can(user, PolicyAction.EXPORT_REVIEW, helpline):
        visible |= Q(helpline=helpline, mode=ExportMode.FULL)
    return Export.objects.filter(visible).select_related("requested_by", "reviewed_by")


def export_get(*, user: User, export_id: int) -> Export:
    export = exports_visible(user=user).filter(pk=export_id).first()
    if export is None:
        raise NotFound()
    return export


def export_to_download(*, user: User, export_id: int) -> Export:
    """The caller's own export: nobody else's file is theirs to download, whatever their role."""
    export = Export.objects.filter(pk=export_id, requested_by=user).first()
    if export is None:
        raise NotFound()
    return export


def export_to_review(*, user: User, export_id: int) -> Export:
    export = Export.objects.filter(pk=export_id, mode=ExportMode.FULL).select_related("helpline").first()
    if export is None or not policy.can(user, PolicyAction.EXPORT_REVIEW, export.helpline):
        raise NotFound()
    return export


def period_bounds(helpline: Helpline, date_from: date, date_to: date) -> tuple[datetime, datetime]:
    """The period's first and after-last instants: days on the helpline's clock."""
    zone = ZoneInfo(helpline.timezone)
    return (
        datetime.combine(date_from, time.min, zone),
        datetime.combine(date_to + timedelta(days=1), time.min, zone),
    )


def export_rows(*, export: Export, dataset: Dataset) -> QuerySet:
    """The export's rows as its requester may read them now (their role when it runs, not when they
    asked): cases they may view; contacts and messages of those cases, or of no case; referrals of
    those cases. In the period, oldest first."""
    user, helpline = export.requested_by, export.helpline
    start, end = period_bounds(helpline, export.date_from, export.date_to)
    rows = dataset.model.objects.filter(helpline=helpline, **{f"{dataset.time_field}__gte": start})
    rows = rows.filter(**{f"{dataset.time_field}__lt": end})
    if dataset.name == "cases":
        rows = rows.filter(policy.case_filter(user))
    elif dataset.name == "referrals":
        rows = rows.filter(policy.case_linked_filter(user, "case"))
    else:
        case = "case" if dataset.name == "contacts" else "contact__case"
        rows = rows.filter(Q(**{f"{case}__isnull": True}) | policy.case_linked_filter(user, case))
    return rows.order_by(dataset.time_field, "pk")


def record_exports_read(*, user: User, action: AuditAction, exports: list[Export]) -> None:
    """Who looked at which exports (their requesters, reasons and periods) is on record."""
    audit_record(
        actor=user,
        action=action,
        object_type="reports.export",
        object_id=exports[0].pk if len(exports) == 1 else "",
        helpline=user.helpline_id,
        extra={"exports": [e.pk for e in exports]},
    )
