"""Every write about helplines, teams, users and sessions: one transaction, audit entry included."""

import re
from typing import NoReturn

from axes.handlers.proxy import AxesProxyHandler
from django.contrib.auth import authenticate, password_validation
from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest
from django_otp.plugins.otp_totp.models import TOTPDevice
from knox.models import AuthToken

from .audit import audit_record, audited_update, diff
from .models import AuditOutcome, Helpline, Role, Team, User

USER_FIELDS = ("first_name", "last_name", "email", "role", "helpline", "team", "agency", "is_active")
HELPLINE_FIELDS = (
    "name",
    "country",
    "timezone",
    "default_language",
    "due_policy",
    "retention_years",
    "is_active",
)
# Roles that sign in with a TOTP code as well as a password: they see every case of a helpline, or
# manage its people.
SECOND_FACTOR_ROLES = (Role.SUPERVISOR, Role.ADMIN)
_TOKEN_ID = re.compile(r"[0-9a-f]{16}")


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


def token_login(
    *, username: str, password: str, otp: str = "", request: HttpRequest
) -> tuple[AuthToken, str]:
    """Exchanges a username and password (and, for supervisors and administrators, a TOTP code) for
    a new API token; returns the stored token and its key, which exists nowhere else.

    Failed attempts count towards django-axes' lockout, per account and per client address; a
    refused attempt is recorded and committed before the caller is told."""
    credentials = {"username": username}
    if not AxesProxyHandler.is_allowed(request, credentials):
        # Locked: the password is not even checked.
        _refuse(username, "locked_out", request)
    # Counts a failure with django-axes (user_login_failed) and, at the limit, locks out.
    user = authenticate(request, username=username, password=password)
    if user is None:
        _refuse(username, "invalid_credentials", request)
    if second_factor_required(user):
        problem = _second_factor_problem(user, otp)
        if problem == "otp_invalid":
            # A wrong code is a guess like a wrong password: it counts towards the lockout.
            user_login_failed.send(sender=__name__, credentials=credentials, request=request)
        if problem:
            _refuse(username, problem, request)
    with transaction.atomic():
        token, key = AuthToken.objects.create(user=user)
        audit_record(
            actor=user,
            action="auth.login",
            obj=user,
            extra={"token": token_id(token), "second_factor": second_factor_required(user)},
        )
        # What django.contrib.auth.login would announce: updates last_login.
        user_logged_in.send(sender=user.__class__, request=request, user=user)
    return token, key


def _second_factor_problem(user: User, otp: str) -> str:
    """'' if `otp` is the current code of one of the user's confirmed TOTP devices, else why not.
    django-otp refuses a code already used and slows down repeated wrong codes."""
    with transaction.atomic():
        devices = list(TOTPDevice.objects.devices_for_user(user, confirmed=True).select_for_update())
        if not devices:
            return "otp_not_configured"
        if not otp:
            return "otp_required"
        if any(device.verify_token(otp) for device in devices):
            return ""
    return "otp_invalid"


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
        audit_record(action="auth.login", extra={"username": username[:150], "reason": reason}, **about)
        if locked_now:
            audit_record(
                action="auth.lockout",
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
        audit_record(actor=user, action="auth.logout", obj=user, extra={"token": revoked})


def token_revoke(*, user: User, token_id: str) -> bool:
    """Revokes one of the user's own tokens; False if the user has no token by that id."""
    if not _TOKEN_ID.fullmatch(token_id):
        return False
    with transaction.atomic():
        deleted, _ = AuthToken.objects.filter(user=user, digest__startswith=token_id).delete()
        if not deleted:
            return False
        audit_record(actor=user, action="auth.token_revoke", obj=user, extra={"token": token_id})
    return True


def _snapshot(instance, fields) -> dict:
    return {
        f: getattr(instance, f + "_id") if hasattr(instance, f + "_id") else getattr(instance, f)
        for f in fields
    }


def _validate_password(password: str, user: User) -> None:
    try:
        password_validation.validate_password(password, user)
    except ValidationError as error:
        raise ValidationError({"password": error.messages}) from None


def user_create(*, actor: User, password: str, **fields) -> User:
    with transaction.atomic():
        user = User(**fields)
        _validate_password(password, user)
        user.set_password(password)
        user.full_clean()
        user.save()
        audit_record(
            actor=actor, action="user.create", obj=user, changes=diff({}, _snapshot(user, USER_FIELDS))
        )
    return user


def user_update(*, actor: User, user: User, password: str | None = None, **fields) -> User:
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=user.pk)
        before = _snapshot(user, USER_FIELDS)
        for name, value in fields.items():
            setattr(user, name, value)
        if password:
            _validate_password(password, user)
            user.set_password(password)
        user.full_clean()
        user.save()
        changes = diff(before, _snapshot(user, USER_FIELDS))
        if password:
            changes["password"] = {"before": "[redacted]", "after": "[redacted]"}
        revoked = 0
        if not user.is_active or "role" in changes:
            # Deactivated, or now allowed other things (a new role may need a second factor): every
            # token the person holds ends now.
            revoked, _ = AuthToken.objects.filter(user=user).delete()
        audit_record(
            actor=actor,
            action="user.update",
            obj=user,
            changes=changes,
            extra={"tokens_revoked": revoked} if revoked else None,
        )
    return user


def helpline_create(*, actor: User, **fields) -> Helpline:
    with transaction.atomic():
        helpline = Helpline(**fields)
        helpline.full_clean()
        helpline.save()
        from cases.services import category_defaults_install

        category_defaults_install(helpline=helpline)
        audit_record(
            actor=actor,
            action="helpline.create",
            obj=helpline,
            helpline=helpline,
            changes=diff({}, _snapshot(helpline, HELPLINE_FIELDS)),
        )
    return helpline


def helpline_update(*, actor: User, helpline: Helpline, **fields) -> Helpline:
    return audited_update(
        actor=actor,
        instance=helpline,
        fields=fields,
        tracked=HELPLINE_FIELDS,
        action="helpline.update",
        helpline=helpline,
    )


def team_create(*, actor: User, helpline: Helpline, name: str) -> Team:
    with transaction.atomic():
        team = Team(helpline=helpline, name=name)
        team.full_clean()
        team.save()
        audit_record(
            actor=actor, action="team.create", obj=team, helpline=helpline, changes=diff({}, {"name": name})
        )
    return team


def user_totp_enrol(*, actor: User, user: User) -> TOTPDevice:
    """Gives a person a new authenticator (replacing any they had) and returns it once, so its
    secret can be shown to them; the secret itself is never recorded in the audit log."""
    from rest_framework.exceptions import PermissionDenied

    from . import policy

    if not policy.can(actor, "user.manage", user):
        raise PermissionDenied("Only administrators enrol authenticators.")
    with transaction.atomic():
        replaced = TOTPDevice.objects.filter(user=user).count()
        TOTPDevice.objects.filter(user=user).delete()
        device = TOTPDevice.objects.create(user=user, name="Authenticator", confirmed=True)
        # A new authenticator means the old one may be lost: sign the person out everywhere.
        AuthToken.objects.filter(user=user).delete()
        audit_record(
            actor=actor,
            action="user.totp_enrol",
            obj=user,
            helpline=user.helpline_id,
            extra={"replaced_devices": replaced},
        )
    return device
