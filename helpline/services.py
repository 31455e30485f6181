"""Every write about helplines, teams, users and sessions: one transaction, audit entry included."""

from django.contrib.auth import authenticate, password_validation
from django.core.exceptions import ValidationError
from django.db import transaction
from rest_framework.authtoken.models import Token

from .audit import audit_record, diff
from .models import AuditOutcome, Helpline, Team, User

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


class LoginFailed(Exception):
    pass


def token_login(*, username: str, password: str, request=None) -> str:
    """Exchanges a username and password for an API token (the user's existing one if any).
    A refused attempt is recorded and committed before the caller is told."""
    user = authenticate(request, username=username, password=password)
    with transaction.atomic():
        if user is not None and user.is_active:
            token, _ = Token.objects.get_or_create(user=user)
            audit_record(actor=user, action="auth.login", obj=user)
            return token.key
        known = User.objects.filter(username=username).first()
        audit_record(
            actor=known,
            action="auth.login",
            object_type="helpline.user",
            object_id=known.pk if known else "",
            helpline=known.helpline_id if known else None,
            outcome=AuditOutcome.DENIED,
            extra={"username": username[:150]},
        )
    raise LoginFailed


def token_logout(*, user: User) -> None:
    with transaction.atomic():
        Token.objects.filter(user=user).delete()
        audit_record(actor=user, action="auth.logout", obj=user)


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
        if not user.is_active:
            Token.objects.filter(user=user).delete()
        audit_record(actor=actor, action="user.update", obj=user, changes=changes)
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
    with transaction.atomic():
        helpline = Helpline.objects.select_for_update().get(pk=helpline.pk)
        before = _snapshot(helpline, HELPLINE_FIELDS)
        for name, value in fields.items():
            setattr(helpline, name, value)
        helpline.full_clean()
        helpline.save()
        audit_record(
            actor=actor,
            action="helpline.update",
            obj=helpline,
            helpline=helpline,
            changes=diff(before, _snapshot(helpline, HELPLINE_FIELDS)),
        )
    return helpline


def team_create(*, actor: User, helpline: Helpline, name: str) -> Team:
    with transaction.atomic():
        team = Team(helpline=helpline, name=name)
        team.full_clean()
        team.save()
        audit_record(
            actor=actor, action="team.create", obj=team, helpline=helpline, changes=diff({}, {"name": name})
        )
    return team
