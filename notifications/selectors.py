"""Every read of notifications: a person's own inbox, who is on call now, and the channels the
helpline requires."""

from __future__ import annotations

import zoneinfo
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from rest_framework.exceptions import NotFound

from helpline import policy
from helpline.audit import audit_record
from helpline.models import Helpline, User
from helpline.vocabulary import AuditAction, PolicyAction

from .models import Notification, OnCallShift


def notification_list(*, user: User, unread: bool | None = None) -> QuerySet[Notification]:
    """The caller's own notifications, newest first; `unread`: only those not read yet."""
    # The delivery log with the page, in one more query (never one per notification).
    rows = Notification.objects.filter(user=user).prefetch_related("deliveries")
    if unread is True:
        rows = rows.filter(read_at__isnull=True)
    elif unread is False:
        rows = rows.filter(read_at__isnull=False)
    return rows


def unread_count(*, user: User) -> int:
    return Notification.objects.filter(user=user, read_at__isnull=True).count()


def notification_get(*, user: User, notification_id: int) -> Notification:
    """One of the caller's own notifications (anyone else's: 404)."""
    found = Notification.objects.filter(user=user, pk=notification_id).first()
    if found is None:
        raise NotFound()
    return found


def notifications_after(*, user: User, after_id: int, limit: int = 100) -> list[Notification]:
    """What the caller's stream missed since the event id it saw last (Last-Event-ID)."""
    return list(Notification.objects.filter(user=user, pk__gt=after_id).order_by("id")[:limit])


def record_page_read(*, user: User, action: AuditAction, rows: list[Notification]) -> None:
    """One entry per page of notifications read, naming the cases they point at."""
    with transaction.atomic():
        audit_record(
            actor=user,
            action=action,
            object_type="notifications.notification",
            helpline=user.helpline_id,
            extra={
                "ids": [row.pk for row in rows],
                "case_ids": sorted({row.case_id for row in rows if row.case_id}),
            },
        )


def on_call_shifts(*, user: User) -> QuerySet[OnCallShift]:
    """The rota of the caller's helpline (404 for anyone the policy does not let read it)."""
    helpline = Helpline.objects.filter(pk=user.helpline_id).first()
    if helpline is None or not policy.can(user, PolicyAction.ON_CALL_VIEW, helpline):
        raise NotFound()
    return OnCallShift.objects.filter(helpline=helpline).select_related("user").order_by("id")


def requirements_helpline(*, user: User) -> Helpline:
    """The helpline whose required channels the caller reads: their own (404 for anyone the
    policy does not let read them; notifications.preferences reads the rules)."""
    helpline = Helpline.objects.filter(pk=user.helpline_id).first()
    if helpline is None or not policy.can(user, PolicyAction.NOTIFICATION_REQUIREMENTS_VIEW, helpline):
        raise NotFound()
    return helpline


def shift_covers(shift: OnCallShift, local: datetime) -> bool:
    """Does the weekly slot cover this moment (in the helpline's time zone)?"""
    now = local.time().replace(tzinfo=None)
    if shift.starts < shift.ends:
        return local.isoweekday() in shift.weekdays and shift.starts <= now < shift.ends
    # Past midnight: from `starts` on a listed day, until `ends` on the day after.
    yesterday = (local - timedelta(days=1)).isoweekday()
    return (local.isoweekday() in shift.weekdays and now >= shift.starts) or (
        yesterday in shift.weekdays and now < shift.ends
    )


def on_call_now(*, helpline: Helpline, at: datetime | None = None) -> list[User]:
    """Who the helpline's rota pages at this moment (active staff the policy lets be on call)."""
    local = (at or timezone.now()).astimezone(zoneinfo.ZoneInfo(helpline.timezone))
    shifts = OnCallShift.objects.filter(helpline=helpline).select_related("user")
    people: dict[int, User] = {}
    for shift in shifts:
        if shift_covers(shift, local) and policy.can(shift.user, PolicyAction.NOTIFICATION_ON_CALL, shift):
            people.setdefault(shift.user_id, shift.user)
    return list(people.values())
