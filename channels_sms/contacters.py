"""Repeat contacters: everything one sender identifier (its keyed hash, as stored on inbound events,
messages and cases; never the number) brought to a helpline, and supervisors' flags on it.

A `blocked` identifier's messages and calls are still stored as contacts (nothing is lost) but open
no case and join none; an `abusive` one's are threaded as usual and marked. A supervisor may also
flag a phone number never seen (contacter_flag_set_by_number), so its first contact finds the flag.
Audit entries name the identifier by a short prefix of its hash at most."""

import re
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _
from rest_framework.exceptions import NotFound, PermissionDenied, ValidationError

from cases.models import Case, Contact, Direction
from cases.selectors import case_queryset_for, contact_queryset_for
from helpline import policy
from helpline.audit import audit_record
from helpline.crypto import normalise_phone
from helpline.models import AuditOutcome, User
from helpline.vocabulary import AuditAction, PolicyAction

from .models import ContacterFlag, ContacterFlagKind, FlaggedContact, InboundEvent, Message
from .senders import sender_hash

HASH_RE = re.compile(r"[0-9a-f]{64}\Z")  # \Z: "$" would let a trailing newline through
PREFIX = 8  # characters of the hash an audit entry may carry


def hash_prefix(identifier_hash: str) -> str:
    return identifier_hash[:PREFIX]


# --- flags as the inbound processing sees them ---------------------------------------------------------


def active_flag(
    *, helpline_id: int, identifier_hash: str, at: datetime | None = None
) -> ContacterFlag | None:
    """The identifier's live flag in the helpline (not lifted, not expired at `at`), or None."""
    if not identifier_hash:
        return None
    at = at or timezone.now()
    return (
        ContacterFlag.objects.filter(
            helpline_id=helpline_id,
            identifier_hash=identifier_hash,
            lifted_at__isnull=True,
            expires_at__gt=at,
        )
        .order_by("-set_at", "-id")
        .first()
    )


def active_flags(
    *, senders: set[tuple[int, str]], since: datetime
) -> dict[tuple[int, str], list[ContacterFlag]]:
    """`active_flag` for several (helpline id, identifier hash) at once, in one query: the flags not
    lifted and not expired at `since`, newest first per identifier. `flag_at` picks the one live at
    a later time."""
    found: dict[tuple[int, str], list[ContacterFlag]] = {}
    if not senders:
        return found
    flags = ContacterFlag.objects.filter(
        helpline_id__in={helpline_id for helpline_id, _ in senders},
        identifier_hash__in={hashed for _, hashed in senders},
        lifted_at__isnull=True,
        expires_at__gt=since,
    ).order_by("-set_at", "-id")
    for flag in flags:
        key = (flag.helpline_id, flag.identifier_hash)
        if key in senders:
            found.setdefault(key, []).append(flag)
    return found


def flag_at(flags: list[ContacterFlag], at: datetime) -> ContacterFlag | None:
    """Of one identifier's flags from `active_flags`, the one `active_flag` gives at `at`."""
    return next((flag for flag in flags if flag.expires_at > at), None)


def contact_mark(*, contact: Contact, flag: ContacterFlag) -> None:
    """Marks a contact that arrived under a flag (once per contact)."""
    FlaggedContact.objects.get_or_create(
        contact=contact, defaults={"flag": flag, "kind": flag.flag, "at": timezone.now()}
    )


def blocked_contact_create(
    *, helpline_id: int, channel: str, started_at: datetime, flag: ContacterFlag
) -> Contact:
    """A blocked sender's message or call: kept as a contact in no case, its call type left for an
    operator, and marked blocked."""
    with transaction.atomic():
        contact = Contact(
            helpline_id=helpline_id,
            case=None,
            channel=channel,
            direction=Direction.INBOUND,
            started_at=started_at,
        )
        contact.full_clean()
        contact.save()
        contact_mark(contact=contact, flag=flag)
        audit_record(
            actor=None,
            action=AuditAction.CONTACT_CREATE,
            obj=contact,
            helpline=helpline_id,
            extra={"channel": channel, "blocked": True, "flag_id": flag.pk},
        )
    return contact


# --- the profile ------------------------------------------------------------------------------------------


@dataclass
class Profile:
    identifier_hash: str
    contacts: list[Contact]
    cases: list[Case]
    flag: ContacterFlag | None


def _deny(user: User, action: AuditAction, identifier_hash: str, exc: Exception) -> Exception:
    """Records a refusal (the hash prefix only, never the whole hash; nothing of an identifier that
    is no hash: it is the caller's raw input, maybe a phone number or a NUL the database refuses)
    and returns the exception."""
    well_formed = bool(HASH_RE.match(identifier_hash or ""))
    with transaction.atomic():
        audit_record(
            actor=user,
            action=action,
            object_type="contacter",
            object_id=hash_prefix(identifier_hash) if well_formed else "",
            outcome=AuditOutcome.DENIED,
            extra={"status": 403 if isinstance(exc, PermissionDenied) else 404},
        )
    return exc


def _visible(user: User, identifier_hash: str) -> tuple[QuerySet[Contact], QuerySet[Case]]:
    helpline_id = user.helpline_id
    contact_ids = InboundEvent.objects.filter(
        helpline_id=helpline_id, sender_hash=identifier_hash, contact__isnull=False
    ).values("contact_id")
    message_contact_ids = Message.objects.filter(helpline_id=helpline_id, sender_hash=identifier_hash).values(
        "contact_id"
    )
    contacts = contact_queryset_for(user).filter(
        Q(pk__in=contact_ids) | Q(pk__in=message_contact_ids), helpline_id=helpline_id
    )
    cases = case_queryset_for(user).filter(
        Q(reporter_phone_hash=identifier_hash)
        | Q(pk__in=contacts.filter(case__isnull=False).values("case_id")),
        helpline_id=helpline_id,
    )
    return contacts, cases


def _profile_or_404(user: User, identifier_hash: str, *, action: AuditAction) -> Profile:
    contacts: list[Contact] = []
    cases: list[Case] = []
    well_formed = bool(HASH_RE.match(identifier_hash or ""))
    if well_formed and policy.can(user, PolicyAction.CONTACTER_VIEW) and user.helpline_id is not None:
        contact_qs, case_qs = _visible(user, identifier_hash)
        contacts = list(contact_qs.select_related("contacter_mark").order_by("-started_at", "-id"))
        cases = list(case_qs.order_by("-created_at", "-id"))
    if not contacts and not cases and not (well_formed and _flagged(user, identifier_hash)):
        raise _deny(user, action, identifier_hash, NotFound())
    flag = active_flag(helpline_id=user.helpline_id, identifier_hash=identifier_hash)
    return Profile(identifier_hash, contacts, cases, flag)


def _flagged(user: User, identifier_hash: str) -> bool:
    """A flag not lifted on the identifier in the caller's helpline (a number flagged before it
    ever wrote has one and nothing else): staff who may see contacters see it, and lift it."""
    return (
        policy.can(user, PolicyAction.CONTACTER_VIEW)
        and user.helpline_id is not None
        and ContacterFlag.objects.filter(
            helpline_id=user.helpline_id, identifier_hash=identifier_hash, lifted_at__isnull=True
        ).exists()
    )


def contacter_profile(*, user: User, identifier_hash: str) -> Profile:
    """The identifier's contacts and cases in the caller's helpline that the caller may see, and its
    live flag. Nothing visible: 404 (also for another helpline's identifier). The read is audited."""
    profile = _profile_or_404(user, identifier_hash, action=AuditAction.CONTACTER_READ)
    with transaction.atomic():
        audit_record(
            actor=user,
            action=AuditAction.CONTACTER_READ,
            object_type="contacter",
            object_id=hash_prefix(identifier_hash),
            extra={
                "contact_ids": [c.pk for c in profile.contacts],
                "case_ids": [c.pk for c in profile.cases],
            },
        )
    return profile


def contacter_flag_set(
    *, actor: User, identifier_hash: str, flag: str, expires_at: datetime, reason: str
) -> ContacterFlag:
    """A supervisor flags an identifier they can see (the live flag, if any, is replaced)."""
    _profile_or_404(actor, identifier_hash, action=AuditAction.CONTACTER_FLAG)
    if not policy.can(actor, PolicyAction.CONTACTER_FLAG):
        raise _deny(
            actor,
            AuditAction.CONTACTER_FLAG,
            identifier_hash,
            PermissionDenied(_("Only supervisors flag contacters.")),
        )
    return _flag_write(
        actor=actor, identifier_hash=identifier_hash, flag=flag, expires_at=expires_at, reason=reason
    )


def contacter_flag_set_by_number(
    *, actor: User, phone_number: str, flag: str, expires_at: datetime, reason: str
) -> ContacterFlag:
    """A supervisor flags a phone number, seen before or not (a known prank caller from another
    line): it is hashed as a sender is (senders.sender_hash of its E.164 form), so its first
    message or call already finds the flag. The answer is the same whether the number has
    contacts or not, and the audit entry carries the hash's prefix, never the number."""
    try:
        identifier_hash = sender_hash(normalise_phone(phone_number))
    except ValueError:
        raise ValidationError({"phone_number": _("Not a phone number in E.164 form.")}) from None
    if actor.helpline_id is None or not policy.can(actor, PolicyAction.CONTACTER_FLAG):
        raise _deny(
            actor,
            AuditAction.CONTACTER_FLAG,
            identifier_hash,
            PermissionDenied(_("Only supervisors flag contacters.")),
        )
    return _flag_write(
        actor=actor,
        identifier_hash=identifier_hash,
        flag=flag,
        expires_at=expires_at,
        reason=reason,
        by_number=True,
    )


def _flag_write(
    *,
    actor: User,
    identifier_hash: str,
    flag: str,
    expires_at: datetime,
    reason: str,
    by_number: bool = False,
) -> ContacterFlag:
    if flag not in ContacterFlagKind.values:
        raise ValidationError({"flag": _("Unknown flag.")})
    now = timezone.now()
    if expires_at <= now:
        raise ValidationError({"expires_at": _("The expiry must be in the future.")})
    with transaction.atomic():
        previous = list(
            ContacterFlag.objects.select_for_update().filter(
                helpline_id=actor.helpline_id, identifier_hash=identifier_hash, lifted_at__isnull=True
            )
        )
        for old in previous:
            old.lifted_at, old.lifted_by = now, actor
            old.save(update_fields=["lifted_at", "lifted_by"])
        created = ContacterFlag.objects.create(
            helpline_id=actor.helpline_id,
            identifier_hash=identifier_hash,
            flag=flag,
            reason=reason,
            expires_at=expires_at,
            set_by=actor,
            set_at=now,
        )
        audit_record(
            actor=actor,
            action=AuditAction.CONTACTER_FLAG,
            obj=created,
            extra={
                "identifier": hash_prefix(identifier_hash),
                "flag": flag,
                "expires_at": expires_at.isoformat(),
                "replaced": [old.pk for old in previous],
                **({"by": "phone_number"} if by_number else {}),
            },
        )
    return created


def contacter_flag_lift(*, actor: User, identifier_hash: str) -> ContacterFlag:
    """A supervisor lifts the identifier's live flag (404 when there is none)."""
    _profile_or_404(actor, identifier_hash, action=AuditAction.CONTACTER_UNFLAG)
    if not policy.can(actor, PolicyAction.CONTACTER_FLAG):
        raise _deny(
            actor,
            AuditAction.CONTACTER_UNFLAG,
            identifier_hash,
            PermissionDenied(_("Only supervisors lift contacter flags.")),
        )
    live = ContacterFlag.objects.filter(
        helpline_id=actor.helpline_id, identifier_hash=identifier_hash, lifted_at__isnull=True
    )
    if not live.exists():
        raise _deny(actor, AuditAction.CONTACTER_UNFLAG, identifier_hash, NotFound())
    with transaction.atomic():
        flag = live.select_for_update().first()
        if flag is None:  # lifted concurrently: it is lifted, as asked
            return ContacterFlag.objects.filter(
                helpline_id=actor.helpline_id, identifier_hash=identifier_hash
            ).first()
        flag.lifted_at, flag.lifted_by = timezone.now(), actor
        flag.save(update_fields=["lifted_at", "lifted_by"])
        audit_record(
            actor=actor,
            action=AuditAction.CONTACTER_UNFLAG,
            obj=flag,
            extra={"identifier": hash_prefix(identifier_hash), "flag": flag.flag},
        )
    return flag
