"""Writes to partner agencies: one transaction each, audit entry included."""

from django.db import transaction
from rest_framework.exceptions import PermissionDenied

from helpline import policy
from helpline.audit import audit_record, diff
from helpline.models import Helpline, User

from .models import Agency

AGENCY_FIELDS = ("code", "name", "kind", "is_active")


def agency_create(*, actor: User, helpline: Helpline, **fields) -> Agency:
    if not policy.can(actor, "agency.manage", helpline):
        raise PermissionDenied("Only administrators manage agencies.")
    with transaction.atomic():
        agency = Agency(helpline=helpline, **fields)
        agency.full_clean()
        agency.save()
        audit_record(
            actor=actor,
            action="agency.create",
            obj=agency,
            helpline=helpline,
            changes=diff({}, {f: getattr(agency, f) for f in AGENCY_FIELDS}),
        )
    return agency


def agency_update(*, actor: User, agency: Agency, **fields) -> Agency:
    if not policy.can(actor, "agency.manage", agency):
        raise PermissionDenied("Only administrators manage agencies.")
    with transaction.atomic():
        locked = Agency.objects.select_for_update().get(pk=agency.pk)
        before = {f: getattr(locked, f) for f in AGENCY_FIELDS}
        for name, value in fields.items():
            setattr(locked, name, value)
        locked.full_clean()
        locked.save()
        audit_record(
            actor=actor,
            action="agency.update",
            obj=locked,
            helpline=locked.helpline_id,
            changes=diff(before, {f: getattr(locked, f) for f in AGENCY_FIELDS}),
        )
    return locked
