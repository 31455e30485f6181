"""Refusals the services raise; the API renders them in the one error shape (helpline.api.errors)."""

from django.db import InterfaceError, OperationalError
from django.utils.translation import gettext_lazy
from rest_framework import exceptions, status

# What the database raises when it is unavailable or gave up (refused or lost connections, a server
# shutting down, a statement cancelled by its timeout): answered 503, or spooled (channels_sms.spool).
DATABASE_UNAVAILABLE = (OperationalError, InterfaceError)


class Conflict(exceptions.APIException):
    """The request is valid but the object's current state does not allow it (e.g. a transition
    not available from this state, or lost to a concurrent one)."""

    status_code = status.HTTP_409_CONFLICT
    default_detail = gettext_lazy("The request conflicts with the current state of the object.")
    default_code = "conflict"

    def __init__(self, detail=None, code=None, *, extra: dict | None = None):
        super().__init__(detail, code)
        self.extra = extra or {}
