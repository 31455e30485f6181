"""Canned replies: texts a helpline writes once for its operators to send as written, in SMS,
WhatsApp and web chat replies (channels_sms.outbound), per language. Supervisors and
administrators write, change and retire them (helpline.policy); retiring keeps the row, since sent
messages name the reply they came from. The one placeholder, `{helpline}`, is filled by plain
replacement when a reply is sent (helpline.chat_settings): nothing someone typed is evaluated."""

from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _
from rest_framework.exceptions import PermissionDenied, ValidationError

from cases.models import Case
from helpline import policy
from helpline.audit import audit_record, audited_update, diff
from helpline.chat_settings import fill_placeholders, validate_placeholders
from helpline.models import Helpline, User
from helpline.vocabulary import AuditAction, PolicyAction

from .models import CannedReply

TRACKED = ("language", "title", "body", "is_active")


def _check_text(body: str) -> None:
    from django.core.exceptions import ValidationError as DjangoValidationError

    try:
        validate_placeholders(body)
    except DjangoValidationError as exc:
        raise ValidationError({"body": [exc.messages[0]]}, code="invalid_placeholder") from None


def canned_reply_create(
    *, actor: User, helpline: Helpline, language: str, title: str, body: str
) -> CannedReply:
    reply = CannedReply(helpline=helpline, language=language, title=title, body=body, created_by=actor)
    if not policy.can(actor, PolicyAction.CANNED_REPLY_MANAGE, reply):
        raise PermissionDenied(_("Only supervisors and administrators write canned replies."))
    _check_text(body)
    _check_unique(reply)
    with transaction.atomic():
        reply.save()
        audit_record(
            actor=actor,
            action=AuditAction.CANNED_REPLY_CREATE,
            obj=reply,
            helpline=helpline,
            changes=diff({}, {f: getattr(reply, f) for f in TRACKED}),
        )
    return reply


def canned_reply_update(*, actor: User, reply: CannedReply, **fields: Any) -> CannedReply:
    """Changes a reply's text, title or language, or retires it (`is_active=False`) or brings it
    back. Messages already sent keep the text they were sent with."""
    if not policy.can(actor, PolicyAction.CANNED_REPLY_MANAGE, reply):
        raise PermissionDenied(_("Only supervisors and administrators change canned replies."))
    if "body" in fields:
        _check_text(fields["body"])
    proposed = CannedReply(**{**{f: getattr(reply, f) for f in TRACKED}, **fields})
    proposed.pk, proposed.helpline_id = reply.pk, reply.helpline_id
    _check_unique(proposed)
    return audited_update(
        actor=actor,
        instance=reply,
        fields=fields,
        tracked=TRACKED,
        action=AuditAction.CANNED_REPLY_UPDATE,
        helpline=reply.helpline_id,
    )


def _check_unique(reply: CannedReply) -> None:
    """One active reply per title and language: two would be indistinguishable in a picker."""
    if not reply.is_active:
        return
    clash = CannedReply.objects.filter(
        helpline_id=reply.helpline_id, language=reply.language, title=reply.title, is_active=True
    ).exclude(pk=reply.pk)
    if clash.exists():
        raise ValidationError(
            {"title": [_("An active canned reply in this language already has this title.")]}, code="unique"
        )


def canned_reply_text(*, reply_id: Any, case: Case, language: str) -> tuple[CannedReply, str]:
    """The reply an operator named for a reply to `case`'s conversation in `language`, and the text
    to send (placeholders filled). Another helpline's, a retired one, or one in another language
    than the conversation's: 400 on `canned_reply`, each with its own code."""

    def refuse(detail: str, code: str) -> ValidationError:
        return ValidationError({"canned_reply": [detail]}, code=code)

    reply = CannedReply.objects.filter(pk=reply_id, helpline_id=case.helpline_id).first()
    if reply is None:
        # Another helpline's id answers as one that does not exist.
        raise refuse(_('Invalid pk "%(pk)s" - object does not exist.') % {"pk": reply_id}, "does_not_exist")
    if not reply.is_active:
        raise refuse(_("This canned reply has been retired."), "retired")
    if reply.language != language:
        raise refuse(
            _("This canned reply is in %(reply_language)r; the conversation is in %(language)r.")
            % {"reply_language": reply.language, "language": language},
            "wrong_language",
        )
    return reply, fill_placeholders(reply.body, helpline_name=case.helpline.name)
