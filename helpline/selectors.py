"""Reads of helplines and users, scoped to the caller. Administrators manage people and helplines;
an administrator tied to a helpline sees only it, one with none (platform admin) sees all."""

from django.db.models import QuerySet
from rest_framework.exceptions import NotFound

from .models import Helpline, Role, Team, User


def _is_platform_admin(user: User) -> bool:
    return user.role == Role.ADMIN and user.helpline_id is None


def helpline_queryset_for(user: User) -> QuerySet[Helpline]:
    if user.role != Role.ADMIN:
        return Helpline.objects.none()
    if _is_platform_admin(user):
        return Helpline.objects.all()
    return Helpline.objects.filter(pk=user.helpline_id)


def helpline_get(*, user: User, helpline_id: int) -> Helpline:
    helpline = helpline_queryset_for(user).filter(pk=helpline_id).first()
    if helpline is None:
        raise NotFound()
    return helpline


def user_queryset_for(user: User) -> QuerySet[User]:
    if user.role != Role.ADMIN:
        return User.objects.none()
    users = User.objects.select_related("helpline", "team", "agency")
    if _is_platform_admin(user):
        return users
    return users.filter(helpline_id=user.helpline_id)


def user_get(*, user: User, user_id: int) -> User:
    found = user_queryset_for(user).filter(pk=user_id).first()
    if found is None:
        raise NotFound()
    return found


def team_queryset_for(user: User) -> QuerySet[Team]:
    if user.helpline_id is None:
        return Team.objects.all() if _is_platform_admin(user) else Team.objects.none()
    return Team.objects.filter(helpline_id=user.helpline_id)
