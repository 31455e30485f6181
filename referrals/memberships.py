"""Which agency a partner-agency user works for (`AgencyMembership`), read and set here only.

helpline keeps the people (users, roles, helplines) and imports no app above it; the agency a
person works for belongs with the agencies. helpline's users service and policy reach these two
functions through `helpline.provided` (handed down in `ReferralsConfig.ready()`): the users API
still takes and shows `agency`, and the person's audit entry still records it, as before.
"""

from __future__ import annotations

from django.core.exceptions import ObjectDoesNotExist, ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from helpline.models import Role, User

from .models import Agency, AgencyMembership

# The related path that loads a person's agency with them (`select_related`).
USER_AGENCY = "agency_membership__agency"


def agency_of(user: User) -> Agency | None:
    """The agency the person works for, or None. Django keeps the membership (or its absence) on
    the user object after the first read, so a request's policy checks read it once."""
    try:
        return user.agency_membership.agency
    except ObjectDoesNotExist:
        return None


def agency_membership_set(user: User, agency: Agency | None) -> None:
    """Makes `agency` the one the (saved) person works for, or none. Called inside the users
    service's transaction, whose audit entry records the change; the rules are the ones the
    database's deferred trigger enforces at commit, checked first for a clear answer."""
    if agency is not None and agency.helpline_id != user.helpline_id:
        raise ValidationError({"agency": _("The agency belongs to another helpline.")})
    if user.role == Role.AGENCY and agency is None:
        raise ValidationError({"agency": _("Agency users must belong to an agency.")})
    if user.role != Role.AGENCY and agency is not None:
        raise ValidationError({"agency": _("Only agency users belong to an agency.")})
    membership = None
    with transaction.atomic():
        if agency is None:
            AgencyMembership.objects.filter(user=user).delete()
        else:
            membership, _created = AgencyMembership.objects.update_or_create(
                user=user, defaults={"agency": agency}
            )
    # What later reads of this user object see (a membership read before is now stale).
    User.agency_membership.related.set_cached_value(user, membership)
