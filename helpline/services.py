"""Every write about helplines, teams, users and sessions: one transaction, audit entry included."""

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django_otp.plugins.otp_totp.models import TOTPDevice
from knox.models import AuthToken
from rest_framework.exceptions import ValidationError as RefusedInput  # keeps its code in the answer

from .audit import audit_record, audited_update, diff
from .labels import validate_label_overrides
from .models import Helpline, SetPasswordLink, Team, User
from .provided import agencies_provided, cases_provided
from .sign_in import (  # noqa: F401  # re-exported: the API and the console sign people in through services
    REVIEW,
    SECOND_FACTOR_ROLES,
    EnrolmentRefused,
    LoginFailed,
    LoginLockedOut,
    second_factor_required,
    session_login,
    session_logout,
    token_id,
    token_login,
    token_logout,
    token_revoke,
    totp_enrolment_confirm,
    totp_enrolment_start,
)
from .vocabulary import AuditAction

# And "agency": not a column of the user, the referrals app keeps whom an agency user works for
# (helpline.provided); recorded with the rest in the person's audit entries (`_user_snapshot`).
USER_FIELDS = ("first_name", "last_name", "email", "role", "helpline", "team", "language", "is_active")
_NO_AGENCY = object()  # user_update: no agency given
HELPLINE_FIELDS = (
    "name",
    "country",
    "timezone",
    "default_language",
    "languages",
    "label_overrides",
    "due_policy",
    "retention_years",
    "opening_hours",
    "chat_greeting",
    "out_of_hours_message",
    "is_active",
    "intake_team",
)
# Roles that sign in with a TOTP code as well as a password: they see every case of a helpline, or
# manage its people.


def _snapshot(instance, fields) -> dict:
    return {
        f: getattr(instance, f + "_id") if hasattr(instance, f + "_id") else getattr(instance, f)
        for f in fields
    }


def _user_snapshot(user: User) -> dict:
    """The person's recorded fields, their agency's id included (as when it was a column)."""
    agency = agencies_provided().agency_of(user) if user.pk else None
    return {**_snapshot(user, USER_FIELDS), "agency": agency.pk if agency is not None else None}


def _validate_password(password: str, user: User) -> None:
    try:
        password_validation.validate_password(password, user)
    except ValidationError as error:
        raise ValidationError({"password": error.messages}) from None


@dataclass(frozen=True)
class IssuedLink:
    """A set-password link's token (exists only here: the database keeps its hash) and expiry."""

    token: str
    expires_at: datetime


def _link_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _link_issue(*, actor: User, user: User) -> IssuedLink:
    """Ends the person's earlier links and makes a new one, in the caller's transaction."""
    now = timezone.now()
    SetPasswordLink.objects.filter(user=user, used_at=None, revoked_at=None).update(revoked_at=now)
    token = secrets.token_urlsafe(32)
    expires_at = now + timedelta(hours=settings.SET_PASSWORD_LINK_HOURS)
    link = SetPasswordLink.objects.create(
        user=user, digest=_link_digest(token), issued_by=actor, created_at=now, expires_at=expires_at
    )
    audit_record(
        actor=actor,
        action=AuditAction.USER_PASSWORD_LINK,
        obj=user,
        helpline=user.helpline_id,
        extra={**REVIEW, "link": link.pk, "expires_at": expires_at.isoformat()},
    )
    return IssuedLink(token=token, expires_at=expires_at)


def user_create(*, actor: User, **fields) -> tuple[User, IssuedLink]:
    """Creates a person without a password, and the one-time link with which they set their own."""
    agency = fields.pop("agency", None)
    with transaction.atomic():
        _team_receives_members(fields.get("team"))
        user = User(**fields)
        user.set_unusable_password()
        user.full_clean()
        user.save()
        agencies_provided().membership_set(user, agency)
        audit_record(
            actor=actor,
            action=AuditAction.USER_CREATE,
            obj=user,
            changes=diff({}, _user_snapshot(user)),
        )
        link = _link_issue(actor=actor, user=user)
    return user, link


def user_password_link_issue(*, actor: User, user: User) -> IssuedLink:
    """A new set-password link for a person (a reset): their password stays as it is until the
    link is used; earlier links stop working."""
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=user.pk)
        return _link_issue(actor=actor, user=user)


class LinkRefused(Exception):
    """A set-password link that cannot be used; `reason`: invalid, used, revoked or expired."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def password_set_with_link(*, token: str, password: str) -> User:
    """The holder of a set-password link sets the person's password; the link then stops working
    and every token the person held is revoked (whoever had their old password is signed out)."""
    with transaction.atomic():
        link = (
            SetPasswordLink.objects.select_for_update()
            .select_related("user")
            .filter(digest=_link_digest(token), user__is_active=True)
            .first()
        )
        if link is None:
            raise LinkRefused("invalid")
        if link.used_at is not None:
            raise LinkRefused("used")
        if link.revoked_at is not None:
            raise LinkRefused("revoked")
        now = timezone.now()
        if link.expires_at <= now:
            raise LinkRefused("expired")
        user = User.objects.select_for_update().get(pk=link.user_id)
        _validate_password(password, user)
        user.set_password(password)
        user.save(update_fields=["password"])
        link.used_at = now
        link.save(update_fields=["used_at"])
        revoked, _ = AuthToken.objects.filter(user=user).delete()
        audit_record(
            actor=user,
            action=AuditAction.USER_PASSWORD_SET,
            obj=user,
            helpline=user.helpline_id,
            changes={"password": {"before": "[redacted]", "after": "[redacted]"}},
            extra={**REVIEW, "link": link.pk, "tokens_revoked": revoked},
        )
    return user


def _team_receives_members(team: Team | None) -> None:
    """A person joins only a team that is not retired (helpline.teams); whether it is their own
    helpline's team the model's clean() says. The team's row lock orders this against retiring it
    (helpline.teams.team_update), which checks for active members under the same lock."""
    if team is not None:
        team = Team.objects.select_for_update().get(pk=team.pk)
    if team is not None and not team.is_active:
        raise RefusedInput({"team": [_("This team is retired.")]}, code="retired")


def own_language_set(*, user: User, language: str) -> User:
    """A person chooses the language they read ("": their helpline's), on the record like any
    change to their account."""
    return audited_update(
        actor=user,
        instance=user,
        fields={"language": language},
        tracked=("language",),
        action=AuditAction.USER_UPDATE,
        helpline=user.helpline_id,
    )


def user_update(*, actor: User, user: User, **fields) -> User:
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=user.pk)
        before = _user_snapshot(user)
        if "team" in fields and fields["team"] is not None and fields["team"].pk != user.team_id:
            _team_receives_members(fields["team"])
        agency = fields.pop("agency", _NO_AGENCY)
        for name, value in fields.items():
            setattr(user, name, value)
        user.full_clean()
        user.save()
        if agency is not _NO_AGENCY or "role" in fields:
            # A new role keeps the agency only if it is still the agency role (and names one).
            if agency is _NO_AGENCY:
                agency = agencies_provided().agency_of(user)
            agencies_provided().membership_set(user, agency)
        changes = diff(before, _user_snapshot(user))
        revoked = 0
        if not user.is_active or "role" in changes:
            # Deactivated, or now allowed other things (a new role may need a second factor): every
            # token the person holds ends now.
            revoked, _ = AuthToken.objects.filter(user=user).delete()
        audit_record(
            actor=actor,
            action=AuditAction.USER_UPDATE,
            obj=user,
            changes=changes,
            extra={"tokens_revoked": revoked} if revoked else None,
        )
    return user


def helpline_create(*, actor: User, **fields) -> Helpline:
    if "languages" in fields:
        fields["languages"] = sorted(set(fields["languages"]))
    with transaction.atomic():
        helpline = Helpline(**fields)
        helpline.full_clean()
        helpline.save()
        # What a new helpline gets from the apps above (its default categories): helpline.provided.
        cases_provided().helpline_created(helpline)
        audit_record(
            actor=actor,
            action=AuditAction.HELPLINE_CREATE,
            obj=helpline,
            helpline=helpline,
            changes=diff({}, _snapshot(helpline, HELPLINE_FIELDS)),
        )
    return helpline


def helpline_update(*, actor: User, helpline: Helpline, **fields) -> Helpline:
    with transaction.atomic():
        team = fields.get("intake_team")
        if team is not None:
            # Locked: ordered against retiring the team (helpline.teams.team_update checks under it).
            team = Team.objects.select_for_update().get(pk=team.pk)
        if team is not None and (team.helpline_id != helpline.pk or not team.is_active):
            # Another helpline's team answers as an unknown one (no tenant's ids confirmed).
            code = "retired" if team.helpline_id == helpline.pk else "does_not_exist"
            detail = (
                _("This team is retired.")
                if code == "retired"
                # DRF's own message for an unknown id (PrimaryKeyRelatedField), as DRF translates it.
                else _('Invalid pk "{pk_value}" - object does not exist.').format(pk_value=team.pk)
            )
            raise RefusedInput({"intake_team": [detail]}, code=code)
        if "languages" in fields:
            fields["languages"] = sorted(set(fields["languages"]))
        if "label_overrides" in fields:
            _check_label_overrides(helpline, fields["label_overrides"])
        return audited_update(
            actor=actor,
            instance=helpline,
            fields=fields,
            tracked=HELPLINE_FIELDS,
            action=AuditAction.HELPLINE_UPDATE,
            helpline=helpline,
        )


def _check_label_overrides(helpline: Helpline, overrides: dict) -> None:
    """Its categories' labels name categories it has (the other vocabularies were checked with the
    input: helpline.labels)."""
    try:
        validate_label_overrides(overrides, category_codes=cases_provided().category_codes(helpline.pk))
    except ValidationError as error:
        raise RefusedInput({"label_overrides": error.messages}, code="invalid") from None


def user_second_factor_reset(*, actor: User, user: User) -> None:
    """Removes a person's authenticators (a lost phone) and signs them out everywhere: they enrol a
    new one themselves at their next sign-in. The administrator never sees a secret."""
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=user.pk)
        removed, _ = TOTPDevice.objects.filter(user=user).delete()
        revoked, _ = AuthToken.objects.filter(user=user).delete()
        audit_record(
            actor=actor,
            action=AuditAction.USER_SECOND_FACTOR_RESET,
            obj=user,
            helpline=user.helpline_id,
            extra={**REVIEW, "removed_devices": removed, "tokens_revoked": revoked},
        )
