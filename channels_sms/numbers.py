"""A helpline's Twilio numbers and how its voice numbers answer (voice routes), as its
administrators configure them through the API; its supervisors read them.

A number belongs to one helpline: the same address (E.164, whatever the channel) is never any other
helpline's, so an inbound webhook always names one helpline. Every write is one transaction with its
audit entry. The webhooks' per-process copies of our numbers (selectors.phone_number_for) are
dropped by the model signals on each save or delete; other processes see a change within
PHONE_NUMBER_CACHE_SECONDS, and a new number answers everywhere at once (a miss is never kept)."""

from typing import Any

from django.db import IntegrityError, connection, transaction
from django.db.models import QuerySet
from django.utils.translation import gettext as _
from rest_framework.exceptions import NotFound, PermissionDenied, ValidationError

from helpline import policy
from helpline.audit import audit_record, audited_update, diff
from helpline.crypto import normalise_phone
from helpline.models import Helpline, User
from helpline.vocabulary import AuditAction, PolicyAction

from .models import NumberChannel, PhoneNumber, VoiceMode, VoiceRoute

WHATSAPP = "whatsapp:"
PHONE_NUMBER_FIELDS = ("helpline", "channel", "number", "acknowledgement", "language", "is_active")
VOICE_ROUTE_FIELDS = ("greeting", "mode", "queue_name", "dial_numbers", "emergency_digit")
# The on-duty operators' own phone numbers: the audit log says that they changed, not what they are.
PERSONAL = ("dial_numbers",)


# --- reads ------------------------------------------------------------------------------------------


def _in_scope(user: User, rows: QuerySet, helpline_field: str) -> QuerySet:
    if not policy.can(user, PolicyAction.PHONE_NUMBER_VIEW):
        return rows.none()
    if user.helpline_id is None:  # a platform administrator (the policy let no one else through)
        return rows
    return rows.filter(**{helpline_field: user.helpline_id})


def phone_number_queryset_for(user: User) -> QuerySet[PhoneNumber]:
    """The numbers of the caller's helpline (a platform administrator: every helpline's)."""
    rows = PhoneNumber.objects.select_related("helpline", "voice_route").order_by("helpline_id", "id")
    return _in_scope(user, rows, "helpline_id")


def phone_number_get(*, user: User, phone_number_id: int) -> PhoneNumber:
    number = phone_number_queryset_for(user).filter(pk=phone_number_id).first()
    if number is None:
        raise NotFound()
    return number


def voice_route_queryset_for(user: User) -> QuerySet[VoiceRoute]:
    rows = VoiceRoute.objects.select_related("number__helpline").order_by("number__helpline_id", "id")
    return _in_scope(user, rows, "number__helpline_id")


def voice_route_get(*, user: User, voice_route_id: int) -> VoiceRoute:
    route = voice_route_queryset_for(user).filter(pk=voice_route_id).first()
    if route is None:
        raise NotFound()
    return route


# --- input --------------------------------------------------------------------------------------------


def address_for(channel: str, value: str) -> str:
    """The address a webhook names for a number of `channel`: E.164, `whatsapp:`+E.164 for
    WhatsApp (the prefix may be given or not). ValueError if it is no number in E.164 form."""
    bare = value.strip()
    if bare.startswith(WHATSAPP):
        if channel != NumberChannel.WHATSAPP:
            raise ValueError(_("Only a WhatsApp sender is written with whatsapp:."))
        bare = bare[len(WHATSAPP) :]
    if not bare.startswith("+"):
        raise ValueError(_("Write the number in E.164 form, with its country code (+15005550006)."))
    e164 = normalise_phone(bare)
    return WHATSAPP + e164 if channel == NumberChannel.WHATSAPP else e164


def _bare(address: str) -> str:
    return address.removeprefix(WHATSAPP)


def _check_address_free(*, helpline: Helpline, channel: str, number: str) -> None:
    """One helpline per number (any channel), one row per number and channel."""
    bare = _bare(number)
    taken = PhoneNumber.objects.filter(number__in=[bare, WHATSAPP + bare])
    if taken.exclude(helpline=helpline).exists():
        raise ValidationError({"number": [_("This number belongs to another helpline.")]}, code="unique")
    if taken.filter(channel=channel).exists():
        raise ValidationError(
            {"number": [_("This number is already configured for this channel.")]}, code="unique"
        )


# --- numbers ------------------------------------------------------------------------------------------


def phone_number_create(
    *,
    actor: User,
    helpline: Helpline,
    channel: str,
    number: str,
    acknowledgement: str = "",
    language: str = "",
) -> PhoneNumber:
    """Adds a number of ours at Twilio to a helpline: its webhooks are taken from the next one."""
    if not policy.can(actor, PolicyAction.PHONE_NUMBER_MANAGE, helpline):
        raise PermissionDenied(_("Only the helpline's administrators configure its numbers."))
    _check_language(helpline, language)
    try:
        with transaction.atomic():
            # Two admins adding the same number at once (any channel, any helpline): the second
            # waits for the first's commit, then finds it.
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT pg_advisory_xact_lock(hashtext(%s))", [f"phone_number:{_bare(number)}"]
                )
            _check_address_free(helpline=helpline, channel=channel, number=number)
            row = PhoneNumber(
                helpline=helpline,
                channel=channel,
                number=number,
                acknowledgement=acknowledgement,
                language=language,
            )
            row.full_clean()
            row.save()
            audit_record(
                actor=actor,
                action=AuditAction.PHONE_NUMBER_CREATE,
                obj=row,
                helpline=helpline,
                changes=diff({}, _snapshot(row)),
            )
    except IntegrityError:  # the constraint, should anything write the table past this lock
        raise ValidationError({"number": [_("This number is already configured.")]}, code="unique") from None
    return row


def _snapshot(row: PhoneNumber) -> dict[str, Any]:
    return {name: getattr(row, name) for name in ("channel", "number", "acknowledgement", "language")}


def _check_language(helpline: Helpline, language: str) -> None:
    """A number speaks one of its helpline's languages (or, "", its default)."""
    if language and language not in helpline.children_languages:
        raise ValidationError(
            {"language": [_("The helpline does not speak this language: add it to its languages first.")]},
            code="not_spoken",
        )


def phone_number_update(*, actor: User, phone_number: PhoneNumber, **fields: Any) -> PhoneNumber:
    """Changes a number's acknowledgement text or suspends it (`is_active`: its webhooks are
    refused as for an unknown number until it is active again)."""
    if not policy.can(actor, PolicyAction.PHONE_NUMBER_MANAGE, phone_number):
        raise PermissionDenied(_("Only the helpline's administrators configure its numbers."))
    if "language" in fields:
        _check_language(phone_number.helpline, fields["language"])
    return audited_update(
        actor=actor,
        instance=phone_number,
        fields=fields,
        tracked=("acknowledgement", "language", "is_active"),
        action=AuditAction.PHONE_NUMBER_UPDATE,
        helpline=phone_number.helpline_id,
    )


def phone_number_delete(*, actor: User, phone_number: PhoneNumber) -> None:
    """Retires a number for good (with its voice route): it may then be added to any helpline.
    Its messages and calls stay; they never referred to the row."""
    if not policy.can(actor, PolicyAction.PHONE_NUMBER_MANAGE, phone_number):
        raise PermissionDenied(_("Only the helpline's administrators configure its numbers."))
    with transaction.atomic():
        audit_record(
            actor=actor,
            action=AuditAction.PHONE_NUMBER_DELETE,
            obj=phone_number,
            helpline=phone_number.helpline_id,
            changes=diff(
                {"channel": phone_number.channel, "number": phone_number.number},
                {"channel": None, "number": None},
            ),
            extra={"had_voice_route": VoiceRoute.objects.filter(number=phone_number).exists()},
        )
        phone_number.delete()


# --- voice routes -----------------------------------------------------------------------------------


def _route_values(route: VoiceRoute) -> dict[str, Any]:
    return {name: getattr(route, name) for name in VOICE_ROUTE_FIELDS}


def _check_route(fields: dict[str, Any]) -> None:
    if fields.get("mode") == VoiceMode.DIAL and not fields.get("dial_numbers", "").strip():
        raise ValidationError(
            {"dial_numbers": [_("Dialling needs at least one on-duty number.")]}, code="required"
        )


def voice_route_create(*, actor: User, number: PhoneNumber, **fields: Any) -> VoiceRoute:
    """How a voice number answers (the defaults: the helpline language's greeting, digit 9, the
    helpline's queue). One route per voice number."""
    if not policy.can(actor, PolicyAction.PHONE_NUMBER_MANAGE, number):
        raise PermissionDenied(_("Only the helpline's administrators configure its voice routes."))
    if number.channel != NumberChannel.VOICE:
        raise ValidationError({"number": [_("Only a voice number has a voice route.")]}, code="invalid")
    _check_route({"mode": VoiceMode.ENQUEUE, **fields})
    try:
        with transaction.atomic():
            route = VoiceRoute(number=number, **fields)
            route.full_clean(validate_unique=False)
            route.save()
            audit_record(
                actor=actor,
                action=AuditAction.VOICE_ROUTE_CREATE,
                obj=route,
                helpline=number.helpline_id,
                changes=diff({}, _route_values(route), personal=PERSONAL),
                extra={"number_id": number.pk},
            )
    except IntegrityError:
        raise ValidationError(
            {"number": [_("This number already has a voice route.")]}, code="unique"
        ) from None
    return route


def voice_route_update(*, actor: User, voice_route: VoiceRoute, **fields: Any) -> VoiceRoute:
    if not policy.can(actor, PolicyAction.PHONE_NUMBER_MANAGE, voice_route.number):
        raise PermissionDenied(_("Only the helpline's administrators configure its voice routes."))
    _check_route({name: getattr(voice_route, name) for name in ("mode", "dial_numbers")} | fields)
    return audited_update(
        actor=actor,
        instance=voice_route,
        fields=fields,
        tracked=VOICE_ROUTE_FIELDS,
        action=AuditAction.VOICE_ROUTE_UPDATE,
        helpline=voice_route.number.helpline_id,
        personal=PERSONAL,
    )


def voice_route_delete(*, actor: User, voice_route: VoiceRoute) -> None:
    """The number answers with the defaults again."""
    if not policy.can(actor, PolicyAction.PHONE_NUMBER_MANAGE, voice_route.number):
        raise PermissionDenied(_("Only the helpline's administrators configure its voice routes."))
    with transaction.atomic():
        audit_record(
            actor=actor,
            action=AuditAction.VOICE_ROUTE_DELETE,
            obj=voice_route,
            helpline=voice_route.number.helpline_id,
            changes=diff(_route_values(voice_route), dict.fromkeys(VOICE_ROUTE_FIELDS), personal=PERSONAL),
            extra={"number_id": voice_route.number_id},
        )
        voice_route.delete()
