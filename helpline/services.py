"""Every write about helplines, teams, users and sessions: one transaction, audit entry included."""

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import NoReturn

from axes.handlers.proxy import AxesProxyHandler
from django.conf import settings
from django.contrib.auth import authenticate, password_validation
from django.contrib.auth import login as auth_login
from django.contrib.auth import logout as auth_logout
from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _
from django_otp import login as otp_login
from django_otp.plugins.otp_totp.models import TOTPDevice
from knox.models import AuthToken
from rest_framework.exceptions import ValidationError as RefusedInput  # keeps its code in the answer

from .audit import audit_record, audited_update, diff
from .labels import validate_label_overrides
from .models import AuditOutcome, Helpline, Role, SetPasswordLink, Team, User
from .provided import agencies_provided, cases_provided
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
SECOND_FACTOR_ROLES = (Role.SUPERVISOR, Role.ADMIN)
_TOKEN_ID = re.compile(r"[0-9a-f]{16}")
# Marks the audit entries of changes to a person's sign-in (password, second factor) that someone
# should look at: supervisors filter on it (GET /api/v1/audit/?review=true) and the person sees
# their own (GET /api/v1/auth/security-events/).
REVIEW = {"review": True}


class LoginFailed(Exception):
    """A refused sign-in; `reason` says why: invalid_credentials, otp_required, otp_invalid,
    otp_not_configured or locked_out."""

    def __init__(self, reason: str = "invalid_credentials"):
        super().__init__(reason)
        self.reason = reason


class LoginLockedOut(LoginFailed):
    def __init__(self):
        super().__init__("locked_out")


def token_id(token: AuthToken) -> str:
    """How a token is named to its owner: the start of its stored hash, never the token itself."""
    return token.digest[:16]


def second_factor_required(user: User) -> bool:
    return user.role in SECOND_FACTOR_ROLES


def _authenticated(*, username: str, password: str, request: HttpRequest) -> User:
    """The user these credentials sign in, or a recorded refusal. Failed attempts count towards
    django-axes' lockout, per account and per client address."""
    if not AxesProxyHandler.is_allowed(request, {"username": username}):
        # Locked: the password is not even checked.
        _refuse(username, "locked_out", request)
    # Counts a failure with django-axes (user_login_failed) and, at the limit, locks out.
    user = authenticate(request, username=username, password=password)
    if user is None:
        _refuse(username, "invalid_credentials", request)
    return user


def _wrong_code(username: str, request: HttpRequest) -> None:
    # A wrong code is a guess like a wrong password: it counts towards the lockout.
    user_login_failed.send(sender=__name__, credentials={"username": username}, request=request)


def _token_create(user: User, request: HttpRequest) -> tuple[AuthToken, str]:
    """A new API token for a signed-in user, in the caller's transaction."""
    token, key = AuthToken.objects.create(user=user)
    audit_record(
        actor=user,
        action=AuditAction.AUTH_LOGIN,
        obj=user,
        extra={"token": token_id(token), "second_factor": second_factor_required(user)},
    )
    # What django.contrib.auth.login would announce: updates last_login.
    user_logged_in.send(sender=user.__class__, request=request, user=user)
    return token, key


def token_login(
    *, username: str, password: str, otp: str = "", request: HttpRequest
) -> tuple[AuthToken, str]:
    """Exchanges a username and password (and, for supervisors and administrators, a TOTP code) for
    a new API token; returns the stored token and its key, which exists nowhere else.

    Failed attempts count towards django-axes' lockout, per account and per client address; a
    refused attempt is recorded and committed before the caller is told."""
    user = _authenticated(username=username, password=password, request=request)
    if second_factor_required(user):
        problem = _second_factor_problem(user, otp)
        if problem == "otp_invalid":
            _wrong_code(username, request)
        if problem:
            _refuse(username, problem, request)
    with transaction.atomic():
        return _token_create(user, request)


def _second_factor_problem(user: User, otp: str) -> str:
    """'' if `otp` is the current code of one of the user's confirmed TOTP devices, else why not."""
    return _second_factor_check(user, otp)[0]


def _second_factor_check(user: User, otp: str) -> tuple[str, TOTPDevice | None]:
    """('', the device) if `otp` is the current code of one of the user's confirmed TOTP devices,
    else (why not, None). django-otp refuses a code already used and slows down repeated wrong
    codes."""
    with transaction.atomic():
        devices = list(TOTPDevice.objects.devices_for_user(user, confirmed=True).select_for_update())
        if not devices:
            return "otp_not_configured", None
        if not otp:
            return "otp_required", None
        for device in devices:
            if device.verify_token(otp):
                return "", device
    return "otp_invalid", None


def session_login(*, username: str, password: str, otp: str = "", request: HttpRequest) -> User:
    """Signs a person in to the web console (a session cookie): the same checks, lockouts and
    audit entries as `token_login`. A supervisor's or administrator's session is marked as having
    passed the second factor (django-otp), which the admin site also requires."""
    user = _authenticated(username=username, password=password, request=request)
    device = None
    if second_factor_required(user):
        problem, device = _second_factor_check(user, otp)
        if problem == "otp_invalid":
            _wrong_code(username, request)
        if problem:
            _refuse(username, problem, request)
    with transaction.atomic():
        # django.contrib.auth.login sends user_logged_in (last_login) and renews the session key.
        auth_login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        if device is not None:
            otp_login(request, device)
        audit_record(
            actor=user,
            action=AuditAction.AUTH_LOGIN,
            obj=user,
            extra={"session": True, "second_factor": second_factor_required(user)},
        )
    return user


def session_logout(*, request: HttpRequest, idle: bool = False) -> None:
    """Ends the console session of the person signed in (also after the idle timeout)."""
    user = request.user
    with transaction.atomic():
        if user.is_authenticated:
            audit_record(
                actor=user, action=AuditAction.AUTH_LOGOUT, obj=user, extra={"session": True, "idle": idle}
            )
        auth_logout(request)


def _refuse(username: str, reason: str, request: HttpRequest) -> NoReturn:
    """Records the refused attempt (and the lockout it started, if it did), then raises."""
    locked_now = reason != "locked_out" and getattr(request, "axes_locked_out", False)
    known = User.objects.filter(username=username).first()
    about = {
        "actor": known,
        "object_type": "helpline.user",
        "object_id": known.pk if known else "",
        "helpline": known.helpline_id if known else None,
        "outcome": AuditOutcome.DENIED,
    }
    with transaction.atomic():
        audit_record(
            action=AuditAction.AUTH_LOGIN, extra={"username": username[:150], "reason": reason}, **about
        )
        if locked_now:
            audit_record(
                action=AuditAction.AUTH_LOCKOUT,
                extra={
                    "username": username[:150],
                    "failures": getattr(request, "axes_failures_since_start", None),
                },
                **about,
            )
    if reason == "locked_out" or locked_now:
        raise LoginLockedOut
    raise LoginFailed(reason)


def token_logout(*, user: User, token: AuthToken) -> None:
    """Revokes the token the caller signed this request with."""
    revoked = token_id(token)
    with transaction.atomic():
        token.delete()
        audit_record(actor=user, action=AuditAction.AUTH_LOGOUT, obj=user, extra={"token": revoked})


def token_revoke(*, user: User, token_id: str) -> bool:
    """Revokes one of the user's own tokens; False if the user has no token by that id."""
    if not _TOKEN_ID.fullmatch(token_id):
        return False
    with transaction.atomic():
        deleted, _ = AuthToken.objects.filter(user=user, digest__startswith=token_id).delete()
        if not deleted:
            return False
        audit_record(actor=user, action=AuditAction.AUTH_TOKEN_REVOKE, obj=user, extra={"token": token_id})
    return True


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


class EnrolmentRefused(Exception):
    """`reason`: otp_not_required (the role signs in without a code) or already_enrolled."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def totp_enrolment_start(*, username: str, password: str, request: HttpRequest) -> TOTPDevice:
    """A supervisor or administrator without an authenticator starts enrolling one with their
    password: a new, unconfirmed device (replacing an earlier unconfirmed one) whose secret is shown
    to them only. It counts for nothing until confirmed with a code from it."""
    user = _authenticated(username=username, password=password, request=request)
    if not second_factor_required(user):
        raise EnrolmentRefused("otp_not_required")
    with transaction.atomic():
        User.objects.select_for_update().get(pk=user.pk)  # one enrolment at a time
        if TOTPDevice.objects.filter(user=user, confirmed=True).exists():
            raise EnrolmentRefused("already_enrolled")
        TOTPDevice.objects.filter(user=user).delete()
        device = TOTPDevice.objects.create(user=user, name="Authenticator", confirmed=False)
        audit_record(actor=user, action=AuditAction.USER_SECOND_FACTOR_ENROL_START, obj=user)
    return device


def totp_enrolment_confirm(
    *, username: str, password: str, otp: str, request: HttpRequest
) -> tuple[AuthToken, str]:
    """Confirms the device totp_enrolment_start made with its current code, and signs in."""
    user = _authenticated(username=username, password=password, request=request)
    if not second_factor_required(user):
        raise EnrolmentRefused("otp_not_required")
    with transaction.atomic():
        User.objects.select_for_update().get(pk=user.pk)
        if TOTPDevice.objects.filter(user=user, confirmed=True).exists():
            raise EnrolmentRefused("already_enrolled")
        device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("-id").first()
        if device is None:
            problem = "otp_not_configured"
        else:
            problem = "" if device.verify_token(otp) else "otp_invalid"
        if not problem:
            device.confirmed = True
            device.save(update_fields=["confirmed"])
            audit_record(
                actor=user,
                action=AuditAction.USER_SECOND_FACTOR_ENROL,
                obj=user,
                helpline=user.helpline_id,
                extra=REVIEW,
            )
            return _token_create(user, request)
    # The failed code's throttling state is committed; the refusal is recorded after.
    if problem == "otp_invalid":
        _wrong_code(username, request)
    _refuse(username, problem, request)
