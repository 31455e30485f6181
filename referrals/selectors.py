"""Reads of partner agencies. Administrators manage them; helpline staff may list their helpline's
agencies (to refer to them, issue #5); agency users see their own agency."""

from django.db.models import QuerySet
from rest_framework.exceptions import NotFound

from helpline import policy
from helpline.models import Role, User

from .models import Agency


def agency_queryset_for(user: User) -> QuerySet[Agency]:
    if policy.can(user, "agency.manage"):
        agencies = Agency.objects.all()
        return agencies if user.helpline_id is None else agencies.filter(helpline_id=user.helpline_id)
    if user.is_active and user.role in (Role.OPERATOR, Role.SUPERVISOR) and user.helpline_id:
        return Agency.objects.filter(helpline_id=user.helpline_id, is_active=True)
    if user.is_active and user.role == Role.AGENCY:
        return Agency.objects.filter(pk=user.agency_id)
    return Agency.objects.none()


def agency_get(*, user: User, agency_id: int) -> Agency:
    agency = agency_queryset_for(user).filter(pk=agency_id).first()
    if agency is None:
        raise NotFound()
    return agency
