"""Every write of notifications: telling people of an event (the inbox row, the e-mail and SMS
outbox rows, in the event's own transaction), marking read, a person's preferences, the rota.

Other apps call `notify(...)` (or `notify_case_transferred`, `notify_agency_referral`) inside the
transaction of the event; nothing is sent before it commits, and nothing of it is lost if it does.
Who is told is decided here from the kind, through helpline.policy: the people who can see the case
and must act on it, and out of hours the helpline's on-call rota."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import time
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from rest_framework.exceptions import PermissionDenied

from helpline import policy
from helpline.audit import audit_record
from helpline.models import Helpline, User
from helpline.vocabulary import AuditAction, PolicyAction

from . import outbox, preferences, stream
from .models import (
    Channel,
    ChannelRequirement,
    Delivery,
    Notification,
    NotificationKind,
    OnCallShift,
    Preference,
    Requirement,
)
from .selectors import on_call_now


@dataclass(frozen=True)
class Audience:
    assigned: bool  # the operator the case is assigned to
    supervisors: bool  # the case's team's supervisors (the helpline's, if the team has none)
    on_call: bool  # the helpline's on-call rota, when someone is on call now


AUDIENCES: dict[str, Audience] = {
    NotificationKind.EMERGENCY_REFERRAL: Audience(assigned=True, supervisors=True, on_call=True),
    NotificationKind.CRITICAL_CASE: Audience(assigned=True, supervisors=True, on_call=True),
    NotificationKind.OVERDUE: Audience(assigned=True, supervisors=True, on_call=False),
    NotificationKind.REFERRAL_REJECTED: Audience(assigned=True, supervisors=True, on_call=False),
    NotificationKind.REFERRAL_EXPIRED: Audience(assigned=True, supervisors=True, on_call=False),
    NotificationKind.DELIVERY_FAILED: Audience(assigned=True, supervisors=True, on_call=False),
    # The other supervisors review a break-glass access (cases.services.break_glass_review).
    NotificationKind.BREAK_GLASS: Audience(assigned=False, supervisors=True, on_call=False),
    # Only the receiver(s) named by the transfer.
    NotificationKind.CASE_TRANSFERRED: Audience(assigned=False, supervisors=False, on_call=False),
}


def case_link(case_id: int) -> str:
    return f"/api/v1/cases/{case_id}/"


def referral_link(referral_id: int) -> str:
    return f"/api/v1/referrals/{referral_id}/"


def _pages_on_call(kind: str, case: Any) -> bool:
    # An overdue critical case cannot wait for the morning either.
    return AUDIENCES[kind].on_call or (kind == NotificationKind.OVERDUE and case.risk_level == "critical")


def recipients(
    *, kind: str, case: Any, actor: User | None = None, also: Iterable[User] = ()
) -> tuple[list[User], set[int]]:
    """Who is told of `kind` on `case`, and which of them as the on-call: everyone the kind's
    audience names (and `also`) whom the policy lets receive it and see the case, but the actor."""
    audience = AUDIENCES[kind]
    people: dict[int, User] = {}
    if audience.assigned and case.assigned_to_id:
        people[case.assigned_to_id] = case.assigned_to
    if audience.supervisors:
        staff = User.objects.filter(helpline_id=case.helpline_id, is_active=True).order_by("id")
        supervisors = [u for u in staff if policy.can(u, PolicyAction.NOTIFICATION_SUPERVISE, case)]
        of_team = [u for u in supervisors if case.team_id and u.team_id == case.team_id]
        for user in of_team or supervisors:
            people.setdefault(user.pk, user)
    for user in also:
        people.setdefault(user.pk, user)
    on_call: set[int] = set()
    if _pages_on_call(kind, case):
        for user in on_call_now(helpline=case.helpline):
            people.setdefault(user.pk, user)
            on_call.add(user.pk)
    told = [
        user
        for user in people.values()
        if (actor is None or user.pk != actor.pk)
        and user.is_active
        and policy.can(user, PolicyAction.NOTIFICATION_RECEIVE, case)
        and policy.can(user, PolicyAction.CASE_VIEW, case)
    ]
    return told, on_call


def notify(
    *,
    kind: str,
    case: Any,
    actor: User | None = None,
    referral_id: int | None = None,
    also: Iterable[User] = (),
    only: Iterable[User] | None = None,
) -> list[Notification]:
    """Tells the people who must hear of `kind` on `case` (a cases.Case): call it inside the
    event's transaction. `only`: exactly these people (still only if the policy lets them see the
    case), instead of the kind's audience. In-app always; e-mail and SMS as each person chose
    (the on-call: every channel they have), sent after the commit."""
    kind = NotificationKind(kind)
    if only is not None:
        told = [
            u
            for u in only
            if u.is_active
            and (actor is None or u.pk != actor.pk)
            and policy.can(u, PolicyAction.NOTIFICATION_RECEIVE, case)
            and policy.can(u, PolicyAction.CASE_VIEW, case)
        ]
        on_call: set[int] = set()
    else:
        told, on_call = recipients(kind=kind, case=case, actor=actor, also=also)
    link = (
        referral_link(referral_id) if referral_id and kind != NotificationKind.OVERDUE else case_link(case.pk)
    )
    created = []
    rules = preferences.requirements_of(case.helpline_id)
    with transaction.atomic(savepoint=False):
        for user in told:
            notification = Notification.objects.create(
                user=user,
                helpline_id=case.helpline_id,
                kind=kind,
                case_id=case.pk,
                referral_id=referral_id,
                reference=case.reference,
                link=link,
                on_call=user.pk in on_call,
            )
            preference = preferences.preference_of(user)
            reach = preferences.addresses(user, preference)
            # The helpline's rule wins over a choice it has since outgrown (docs/notifications.md).
            chosen = (
                list(reach)
                if user.pk in on_call
                else preferences.effective_channels(
                    preferences.channels_for(preference, kind, rules[kind]), rules[kind], reach
                )
            )
            for channel in chosen:
                if channel in reach:
                    _queue(notification, channel, reach[channel])
            created.append(notification)
            transaction.on_commit(lambda n=notification: _publish(n), robust=True)
    return created


def notify_case_transferred(
    *, case: Any, actor: User, to_user: User | None = None, to_team: Any = None
) -> list[Notification]:
    """For the transfer service (inside its transaction): tells the receiving person, or every
    member of the receiving team who can see the case, that the case is now theirs."""
    if to_user is not None:
        receivers: list[User] = [to_user]
    elif to_team is not None:
        receivers = list(User.objects.filter(team_id=to_team.pk, is_active=True).order_by("id"))
    else:
        receivers = []
    return notify(kind=NotificationKind.CASE_TRANSFERRED, case=case, actor=actor, only=receivers)


def notify_agency_referral(*, referral: Any) -> Notification | None:
    """A partner agency without a webhook hears of a new referral at its notify_email (and
    notify_sms): its number and a link, never the packet. Inside the referral's transaction."""
    agency = referral.agency
    if not (agency.notify_email or agency.notify_sms):
        return None
    with transaction.atomic(savepoint=False):
        notification = Notification.objects.create(
            user=None,
            helpline_id=referral.helpline_id,
            kind=NotificationKind.AGENCY_REFERRAL,
            case_id=None,  # the agency knows the referral, not the helpline's case
            referral_id=referral.pk,
            agency_id=agency.pk,
            reference=f"referral {referral.pk} ({referral.urgency})",
            link=referral_link(referral.pk),
        )
        if agency.notify_email:
            _queue(notification, Channel.EMAIL, agency.notify_email)
        if agency.notify_sms:
            _queue(notification, Channel.SMS, agency.notify_sms)
    return notification


def _queue(notification: Notification, channel: str, address: str) -> Delivery:
    delivery = Delivery.objects.create(
        notification=notification, channel=channel, address=address, next_attempt_at=timezone.now()
    )
    transaction.on_commit(lambda: outbox.dispatch(delivery.pk), robust=True)
    return delivery


def notification_data(notification: Notification) -> dict[str, Any]:
    """What the live stream carries (the inbox's shape)."""
    return {
        "id": notification.pk,
        "kind": notification.kind,
        "case_id": notification.case_id,
        "referral_id": notification.referral_id,
        "reference": notification.reference,
        "link": notification.link,
        "on_call": notification.on_call,
        "created_at": notification.created_at.isoformat(),
        "read_at": notification.read_at.isoformat() if notification.read_at else None,
    }


def _publish(notification: Notification) -> None:
    stream.publish(notification.user_id, notification.pk, notification_data(notification))


# --- the inbox ------------------------------------------------------------------------------------


def notification_mark_read(*, actor: User, notification: Notification) -> Notification:
    """Marks one of the caller's own notifications read (again: no change)."""
    with transaction.atomic():
        locked = Notification.objects.select_for_update().get(pk=notification.pk, user=actor)
        if locked.read_at is None:
            locked.read_at = timezone.now()
            locked.save(update_fields=["read_at"])
        audit_record(
            actor=actor,
            action=AuditAction.NOTIFICATION_READ,
            obj=locked,
            case_id=locked.case_id,
            helpline=actor.helpline_id,
        )
    return locked


def notifications_mark_all_read(*, actor: User) -> int:
    with transaction.atomic():
        marked = Notification.objects.filter(user=actor, read_at__isnull=True).update(read_at=timezone.now())
        audit_record(
            actor=actor,
            action=AuditAction.NOTIFICATION_READ,
            object_type="notifications.notification",
            helpline=actor.helpline_id,
            extra={"all": True, "marked": marked},
        )
    return marked


# --- preferences, the helpline's requirements and the rota --------------------------------------------------


def preferences_set(*, actor: User, channels: dict[str, list[str]], sms_number: str) -> Preference:
    """The caller's own choice of channels (validated by notifications.preferences)."""
    region = actor.helpline.country if actor.helpline_id else None
    channels, number = preferences.preferences_validate(
        user=actor,
        channels=channels,
        sms_number=sms_number,
        region=region or "ZZ",
        requirements=preferences.requirements_of(actor.helpline_id),
    )
    with transaction.atomic():
        preference, _created = Preference.objects.select_for_update().get_or_create(user=actor)
        before = dict(preference.channels)
        preference.channels = channels
        preference.sms_number = number
        preference.save()
        audit_record(
            actor=actor,
            action=AuditAction.NOTIFICATION_PREFERENCES_SET,
            obj=preference,
            helpline=actor.helpline_id,
            # The number is personal: only whether it changed.
            extra={"channels": channels, "channels_before": before, "sms_number_set": bool(number)},
        )
    return preference


@dataclass(frozen=True)
class ShiftInput:
    user: User
    weekdays: list[int]
    starts: time
    ends: time


def on_call_set(*, actor: User, helpline: Helpline, shifts: list[ShiftInput]) -> list[OnCallShift]:
    """Replaces the helpline's on-call rota (supervisors and administrators)."""
    if not policy.can(actor, PolicyAction.ON_CALL_MANAGE, helpline):
        raise PermissionDenied(_("Only supervisors and administrators set the on-call rota."))
    errors: dict[str, str] = {}
    for index, shift in enumerate(shifts):
        probe = OnCallShift(helpline=helpline, user=shift.user)
        if not policy.can(shift.user, PolicyAction.NOTIFICATION_ON_CALL, probe) or not shift.user.is_active:
            errors[f"shifts.{index}.user"] = _("Only active staff of this helpline can be on call.")
        if not shift.weekdays or any(d not in range(1, 8) for d in shift.weekdays):
            errors[f"shifts.{index}.weekdays"] = _("ISO weekdays, 1 (Monday) to 7 (Sunday).")
        if shift.starts == shift.ends:
            errors[f"shifts.{index}.ends"] = _("A slot must end at another time than it starts.")
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        before = list(OnCallShift.objects.filter(helpline=helpline).values_list("user_id", flat=True))
        OnCallShift.objects.filter(helpline=helpline).delete()
        created = [
            OnCallShift.objects.create(
                helpline=helpline,
                user=s.user,
                weekdays=sorted(set(s.weekdays)),
                starts=s.starts,
                ends=s.ends,
            )
            for s in shifts
        ]
        audit_record(
            actor=actor,
            action=AuditAction.NOTIFICATION_ON_CALL_SET,
            obj=helpline,
            helpline=helpline,
            extra={
                "before": sorted(before),
                "after": [
                    {
                        "user_id": s.user_id,
                        "weekdays": s.weekdays,
                        "starts": f"{s.starts:%H:%M}",
                        "ends": f"{s.ends:%H:%M}",
                    }
                    for s in created
                ],
            },
        )
    return created


def requirements_set(*, actor: User, helpline: Helpline, requirements: dict[str, str]) -> dict[str, str]:
    """Replaces the channels the helpline's staff must keep per kind (administrators); a kind left
    out returns to the installation's default. Stored choices below a new rule are left as they are:
    delivery applies the rule over them (a person cannot block the helpline's decision)."""
    if not policy.can(actor, PolicyAction.NOTIFICATION_REQUIREMENTS_MANAGE, helpline):
        raise PermissionDenied(_("Only the helpline's administrators set the channels it requires."))
    errors: dict[str, str] = {}
    for kind, requirement in requirements.items():
        if kind not in preferences.STAFF_KINDS:
            errors["requirements"] = _("Unknown kind. Known: %(known)s.") % {
                "known": ", ".join(preferences.STAFF_KINDS)
            }
        elif requirement not in Requirement.values:
            errors[f"requirements.{kind}"] = _("Unknown requirement. Known: %(known)s.") % {
                "known": ", ".join(Requirement.values)
            }
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        # The helpline's row locked: two administrators' changes apply one after the other.
        Helpline.objects.select_for_update().filter(pk=helpline.pk).first()
        before = preferences.requirements_of(helpline.pk)
        ChannelRequirement.objects.filter(helpline=helpline).delete()
        ChannelRequirement.objects.bulk_create(
            ChannelRequirement(helpline=helpline, kind=kind, requirement=requirement)
            for kind, requirement in sorted(requirements.items())
        )
        after = preferences.requirements_of(helpline.pk)
        audit_record(
            actor=actor,
            action=AuditAction.NOTIFICATION_REQUIREMENTS_SET,
            obj=helpline,
            helpline=helpline,
            extra={
                "before": before,
                "after": after,
                "changed": sorted(k for k in after if after[k] != before[k]),
            },
        )
    return after
