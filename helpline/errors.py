"""Refusals the services raise; the API renders them in the one error shape (helpline.api.errors)."""

from rest_framework import exceptions, status


class Conflict(exceptions.APIException):
    """The request is valid but the object's current state does not allow it (e.g. a transition
    not available from this state, or lost to a concurrent one)."""

    status_code = status.HTTP_409_CONFLICT
    default_detail = "The request conflicts with the current state of the object."
    default_code = "conflict"

    def __init__(self, detail=None, code=None, *, extra: dict | None = None):
        super().__init__(detail, code)
        self.extra = extra or {}
