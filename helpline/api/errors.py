"""One error shape for every 4xx/5xx answer: drf-standardized-errors'
`{"type": ..., "errors": [{"code", "detail", "attr"}]}`, also for answers Django gives outside DRF."""

from django.conf import settings
from django.core.exceptions import NON_FIELD_ERRORS, RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import JsonResponse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from drf_standardized_errors.handler import ExceptionHandler as BaseExceptionHandler
from rest_framework import exceptions, status

from helpline.errors import DATABASE_UNAVAILABLE, Conflict  # noqa: F401  (re-exported: the API layer names them too)


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = gettext_lazy("Request body is too large.")
    default_code = "payload_too_large"


class LockedOut(exceptions.APIException):
    """Too many failed sign-ins for this account or from this address (django-axes)."""

    status_code = status.HTTP_429_TOO_MANY_REQUESTS
    default_code = "locked_out"

    def __init__(self):
        minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
        super().__init__(
            ngettext(
                "Too many failed sign-in attempts for this account or from this address: "
                "signing in is locked for %(minutes)d minute.",
                "Too many failed sign-in attempts for this account or from this address: "
                "signing in is locked for %(minutes)d minutes.",
                minutes,
            )
            % {"minutes": minutes}
        )


# The database could not be reached or dropped the connection (a restart, a failover, no free
# connection), or gave up on the statement (a deadlock, a lock or statement timeout: psycopg2 raises
# those as OperationalError too): the request may succeed if repeated shortly, so it answers 503,
# not 500 (helpline.errors.DATABASE_UNAVAILABLE). API clients are told when to try again; Twilio's
# webhooks are spooled instead (channels_sms.spool).
RETRY_AFTER_SECONDS = 5


class ServiceUnavailable(exceptions.APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = gettext_lazy("The service is temporarily unavailable. Try again in a few seconds.")
    default_code = "service_unavailable"
    wait = RETRY_AFTER_SECONDS  # drf-standardized-errors sends it as Retry-After


class ExceptionHandler(BaseExceptionHandler):
    def convert_known_exceptions(self, exc: Exception) -> Exception:
        if isinstance(exc, RequestDataTooBig):
            return PayloadTooLarge()
        if isinstance(exc, DATABASE_UNAVAILABLE):
            return ServiceUnavailable()
        if isinstance(exc, DjangoValidationError):
            # Model invariants (full_clean in services) answer 400 in the same shape as DRF's.
            if hasattr(exc, "error_dict"):
                detail = {
                    ("non_field_errors" if field == NON_FIELD_ERRORS else field): messages
                    for field, messages in exc.message_dict.items()
                }
            else:
                detail = exc.messages
            return exceptions.ValidationError(detail)
        return super().convert_known_exceptions(exc)

    def run(self):
        response = super().run()
        if response is not None and _is_recorded_refusal(self.context.get("view"), response.status_code):
            _record_refusal(self.context, response.status_code)
        return response

    def format_exception(self, exc):
        data = super().format_exception(exc)
        # Machine-readable hints (e.g. the transitions that *are* allowed) next to the errors.
        data.update(getattr(exc, "extra", {}) or {})
        return data


def error_response(status_code: int, error_type: str, code: str, detail: str) -> JsonResponse:
    return JsonResponse(
        {"type": error_type, "errors": [{"code": code, "detail": detail, "attr": None}]}, status=status_code
    )


def bad_request(request, exception=None):
    if isinstance(exception, RequestDataTooBig):
        return error_response(413, "client_error", "payload_too_large", _("Request body is too large."))
    return error_response(400, "client_error", "bad_request", _("Bad request."))


def permission_denied(request, exception=None):
    return error_response(
        403, "client_error", "permission_denied", _("You do not have permission to perform this action.")
    )


def not_found(request, exception=None):
    return error_response(404, "client_error", "not_found", _("Not found."))


def locked_out(request, response=None, credentials=None):
    """django-axes' answer to a locked-out sign-in (the API's, or the admin site's form)."""
    return error_response(429, "client_error", LockedOut.default_code, str(LockedOut().detail))


def server_error(request):
    return error_response(500, "server_error", "error", _("A server error occurred."))


def service_unavailable() -> JsonResponse:
    """What a plain Django view (Twilio's webhooks) answers when the database is unavailable, as
    the API does (helpline.middleware.DatabaseUnavailableMiddleware)."""
    response = error_response(
        503, "server_error", ServiceUnavailable.default_code, str(ServiceUnavailable.default_detail)
    )
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def _is_recorded_refusal(view, status_code: int) -> bool:
    """403, 404, 409 and 410 on every route; on a route about a case or an object of one (its case
    in the path, or the view names the object's case), every refusal: bad input too, so probing a
    case with a body it refuses is on the record like any other attempt."""
    if status_code in (403, 404, 409, 410):
        return True
    about_a_case = view is not None and (
        "case_id" in getattr(view, "kwargs", {}) or hasattr(view, "audit_case_id")
    )
    return about_a_case and 400 <= status_code < 500 and status_code != 401


# Refusals that come after a view found its object in the caller's scope: a 403 or 409 of the
# policy or the workflow, and the body's refusals (bad, too large, of a type the view does not read).
_AFTER_THE_OBJECT = (400, 403, 409, 413, 415)


def _record_refusal(context, status_code: int) -> None:
    """Every refused request is on the record: if the code that refused did not write a denied
    audit entry itself, write one here, named by the view's `audit_actions` for the method."""
    from django.db import transaction

    from .. import context as request_context
    from ..audit import audit_record
    from ..models import AuditOutcome
    from ..vocabulary import RouteRefusal

    view, request = context.get("view"), context.get("request")
    user = getattr(request, "user", None)
    if view is None or user is None or not user.is_authenticated or request_context.refusal_recorded():
        return
    method = request.method.lower()
    action, object_type = getattr(view, "audit_actions", {}).get(
        method, (RouteRefusal(f"api.{type(view).__name__}.{method}"), "")
    )
    # A path id is whatever the caller typed (any number of digits): kept to the column's size.
    object_id = str(next(iter(view.kwargs.values()), ""))[:64] if view.kwargs else ""
    # The object's case is named only when the caller reached the object: a 403/409 of the policy or
    # the workflow, or a refusal after the gate fetched the object in the caller's scope
    # (`view.object`: bad input in the body). Never on a 404, nor on an answer given before the
    # object was fetched (undeclared input, 405, 406, 429), so the record does not connect an
    # unseen object, or an id that names none, to a case.
    reached = status_code in (403, 409) or getattr(view, "object", None) is not None
    case_id = None
    if status_code in _AFTER_THE_OBJECT and reached:
        case_id = view.audit_case_id() if hasattr(view, "audit_case_id") else view.kwargs.get("case_id")
    with transaction.atomic():
        audit_record(
            actor=user,
            action=action,
            object_type=object_type,
            object_id=object_id,
            case_id=case_id,
            outcome=AuditOutcome.DENIED,
            extra={"status": status_code},
        )
