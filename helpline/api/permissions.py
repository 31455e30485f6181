from django.utils.translation import gettext_lazy
from rest_framework.permissions import BasePermission

from helpline.vocabulary import PolicyAction

from .. import policy


class IsAdministrator(BasePermission):
    """People and helplines are managed by administrators only (403 for everyone else: these are
    not objects hidden by scope, the whole endpoint is theirs)."""

    message = gettext_lazy("Only administrators manage users and helplines.")

    def has_permission(self, request, view) -> bool:
        user = request.user
        return bool(user and user.is_authenticated and policy.can(user, PolicyAction.USER_MANAGE))
