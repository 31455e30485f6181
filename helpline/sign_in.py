"""Signing in: with a password (and, for supervisors and administrators, a TOTP code) for an API
token or a console session; lockouts (django-axes) and refusals on record; signing out, revoking
tokens; enrolling an authenticator. `helpline.services` re-exports every public name."""

import re
import time
from typing import NoReturn

from axes.handlers.proxy import AxesProxyHandler
from django.conf import settings
from django.contrib.auth import authenticate
from django.contrib.auth import login as auth_login
from django.contrib.auth import logout as auth_logout
from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.db import transaction
from django.http import HttpRequest
from django_otp import login as otp_login
from django_otp.plugins.otp_totp.models import TOTPDevice
from knox.models import AuthToken

from .audit import audit_record
from .models import AuditOutcome, Role, User
from .vocabulary import AuditAction

SECOND_FACTOR_ROLES = (Role.SUPERVISOR, Role.ADMIN)
_TOKEN_ID = re.compile(r"[0-9a-f]{16}")
# Marks the audit entries of changes to a person's sign-in (password, second factor) that someone
# should look at: supervisors filter on it (GET /api/v1/audit/?review=true) and the person sees
# their own (GET /api/v1/auth/security-events/).
REVIEW = {"review": True}


# The idle clock of a browser session (the console's and the admin site's): when the person last
# opened a page, kept in the session. A session without it (never signed in by us) counts as idle.
SEEN_KEY = "console_seen"
# Written at most this often: a session is saved (a database write) only when something in it
# changed, and a person at work opens a page every few seconds. A session may therefore end up to
# this much before its full idle time, never after.
SEEN_GRAIN_SECONDS = 30


def session_seen(request: HttpRequest, *, now: float | None = None) -> None:
    """The person acted now (signing in starts the idle clock)."""
    request.session[SEEN_KEY] = time.time() if now is None else now


def session_idle(request: HttpRequest, *, now: float) -> bool:
    """Has the session gone `CONSOLE_IDLE_MINUTES` without the person's own action?"""
    return now - request.session.get(SEEN_KEY, 0) > settings.CONSOLE_IDLE_MINUTES * 60


def session_active(request: HttpRequest, *, now: float) -> None:
    """The person opened a page (not a page's own refresh): the idle clock restarts."""
    if now - request.session.get(SEEN_KEY, 0) > SEEN_GRAIN_SECONDS:
        session_seen(request, now=now)


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
        session_seen(request)
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
