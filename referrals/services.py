"""Writes to partner agencies: one transaction each, audit entry included."""

from django.db import transaction
from rest_framework.exceptions import PermissionDenied

from helpline import policy
from helpline.audit import audit_record, audited_update, diff
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
    return audited_update(
        actor=actor,
        instance=agency,
        fields=fields,
        tracked=AGENCY_FIELDS,
        action="agency.update",
        helpline=agency.helpline_id,
    )
