"""The caller's own notifications (inbox, unread count, mark read, the live stream), their
channel preferences, their helpline's on-call rota and the channels it requires. Thin: reads
through selectors, writes through services."""

from __future__ import annotations

from django.http import StreamingHttpResponse
from django.utils.translation import gettext_lazy
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from drf_standardized_errors.openapi_serializers import ErrorResponse403Serializer
from drf_standardized_errors.openapi_validation_errors import extend_validation_errors
from rest_framework.exceptions import NotFound
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from helpline.api.base import APIView, Fetch, Own, Scoped
from helpline.api.errors import ServiceUnavailable
from helpline.api.params import optional_bool
from helpline.models import Helpline
from helpline.vocabulary import AuditAction

from .. import preferences, selectors, services, stream
from ..models import Notification, Requirement
from .serializers import (
    MarkedOutput,
    NotificationOutput,
    PreferencesInput,
    PreferencesOutput,
    RequirementsInput,
    RequirementsOutput,
    RotaInput,
    RotaOutput,
    UnreadCountOutput,
)

OBJECT = "notifications.notification"


class NotificationListView(APIView):
    audit_actions = {"get": (AuditAction.NOTIFICATION_LIST, OBJECT)}
    scope = {"get": Scoped(selectors.notification_list)}
    serializer_class = NotificationOutput
    queryset = Notification.objects.none()

    @extend_schema(
        operation_id="notifications_list",
        summary="The caller's notifications, newest first",
        description="Each names its kind, the case's reference and a link; `unread=true` for the unread "
        "ones only. Cursor-paginated.",
        parameters=[OpenApiParameter("unread", bool, description="Only unread (true) or read (false) ones")],
        responses=NotificationOutput(many=True),
    )
    def get(self, request: Request) -> Response:
        page = self.paginate_queryset(self.scoped(unread=optional_bool(request, "unread")))
        selectors.record_page_read(user=request.user, action=AuditAction.NOTIFICATION_LIST, rows=page)
        return self.get_paginated_response(NotificationOutput(page, many=True).data)


class UnreadCountView(APIView):
    scope = {"get": Own("counts the caller's own notifications")}
    serializer_class = UnreadCountOutput

    @extend_schema(
        operation_id="notifications_unread_count",
        summary="How many of the caller's notifications are unread",
        description="The number a console shows on its bell, cheap to poll when no live stream is open. "
        "Every staff role; only the caller's own notifications are counted.",
        responses=UnreadCountOutput,
    )
    def get(self, request: Request) -> Response:
        return Response({"unread": selectors.unread_count(user=request.user)})


class NotificationReadView(APIView):
    audit_actions = {"post": (AuditAction.NOTIFICATION_READ, OBJECT)}
    scope = {"post": Fetch(selectors.notification_get, "notification_id")}
    serializer_class = NotificationOutput

    @extend_schema(
        operation_id="notifications_mark_read",
        summary="Mark one of the caller's notifications read",
        description="Marks it read (marking a read one again changes nothing) and answers it. Another "
        "person's notification answers 404, as an unknown one does.",
        request=None,
        responses={200: NotificationOutput},
    )
    def post(self, request: Request, notification_id: int) -> Response:
        notification = services.notification_mark_read(actor=request.user, notification=self.object)
        return Response(NotificationOutput(notification).data)


class NotificationReadAllView(APIView):
    audit_actions = {"post": (AuditAction.NOTIFICATION_READ, OBJECT)}
    scope = {"post": Own("marks the caller's own notifications read")}
    serializer_class = MarkedOutput

    @extend_schema(
        operation_id="notifications_mark_all_read",
        summary="Mark all of the caller's notifications read",
        description="Marks every unread notification of the caller read and answers how many were.",
        request=None,
        responses={200: MarkedOutput},
    )
    def post(self, request: Request) -> Response:
        return Response({"marked": services.notifications_mark_all_read(actor=request.user)})


class EventStreamRenderer(BaseRenderer):
    media_type = "text/event-stream"
    format = "event-stream"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        return data


class StreamsFull(ServiceUnavailable):
    default_detail = gettext_lazy("Too many live streams are open; read the inbox, or retry later.")
    wait = 30


class NotificationStreamView(APIView):
    audit_actions = {"get": (AuditAction.NOTIFICATION_STREAM, OBJECT)}
    scope = {"get": Own("streams the caller's own notifications")}
    # JSON for the error answers (401, 503), the stream itself as text/event-stream.
    renderer_classes = [JSONRenderer, EventStreamRenderer]

    def finalize_response(self, request, response, *args, **kwargs):
        # Refusals (401, 503) are JSON in the one error shape, even to a client that asked for
        # the event stream only.
        if isinstance(response, Response):
            request.accepted_renderer, request.accepted_media_type = JSONRenderer(), "application/json"
        return super().finalize_response(request, response, *args, **kwargs)

    @extend_schema(
        operation_id="notifications_stream",
        summary="The caller's new notifications as server-sent events",
        description="`text/event-stream`: one `notification` event per new notification (its `id` is the "
        "notification's id, `data` the inbox's JSON), a `: heartbeat` comment every few seconds, and an "
        "`end` event after NOTIFICATION_STREAM_SECONDS; reconnect with the `Last-Event-ID` header to "
        "receive what came meanwhile. 503 `service_unavailable` with Retry-After while the "
        "installation's open streams are at their limit: read the inbox instead.",
        parameters=[
            OpenApiParameter(
                "Last-Event-ID",
                str,
                location=OpenApiParameter.HEADER,
                required=False,
                description="The id of the last notification received (the `id` of its event); a "
                "value that is not such an id is ignored, as a browser's EventSource may send anything "
                "it was given",
            )
        ],
        responses={
            (200, "text/event-stream"): OpenApiResponse(
                {
                    "type": "object",
                    "description": "One server-sent event of the stream (heartbeats are comments).",
                    "properties": {
                        "event": {"type": "string", "enum": ["notification", "end"]},
                        "id": {"type": "string", "description": "The notification's id"},
                        "data": {
                            "type": "string",
                            "description": "JSON: the notification as the inbox shows it; for `end`, "
                            '`{"reconnect": true}`',
                        },
                        "retry": {
                            "type": "integer",
                            "description": "Milliseconds to wait before reconnecting",
                        },
                    },
                    "required": ["event", "data"],
                },
                description="The event stream",
            ),
        },
    )
    def get(self, request: Request):
        raw = request.headers.get("Last-Event-ID", "")
        after = int(raw) if raw.isascii() and raw.isdigit() and len(raw) < 19 else None
        token = stream.stream_slot()
        if token is None:
            raise StreamsFull()
        # What the console missed is read now, before the stream starts: the stream holds no
        # database connection.
        missed = []
        if after is not None:
            rows = selectors.notifications_after(user=request.user, after_id=after)
            missed = [stream.event_text(n.pk, services.notification_data(n)) for n in rows]
        selectors.record_page_read(user=request.user, action=AuditAction.NOTIFICATION_STREAM, rows=[])
        response = StreamingHttpResponse(
            stream.Stream(request.user.pk, token, missed), content_type="text/event-stream"
        )
        response["Cache-Control"] = "no-cache"
        response["X-Accel-Buffering"] = "no"  # nginx: pass each event on at once
        return response


def extend_validation_errors_per_kind(kinds, field: str = "channels"):
    """Documents `<field>.<kind>` (a choice or rule refused for that kind) for every staff kind."""

    def decorate(view):
        for kind in kinds:
            view = extend_validation_errors(["invalid"], field_name=f"{field}.{kind}", methods=["put"])(view)
        return view

    return decorate


@extend_validation_errors(["invalid"], field_name="channels", methods=["put"])
@extend_validation_errors(["invalid"], field_name="sms_number", methods=["put"])
@extend_validation_errors_per_kind(preferences.STAFF_KINDS)
class PreferencesView(APIView):
    audit_actions = {"put": (AuditAction.NOTIFICATION_PREFERENCES_SET, "notifications.preference")}
    scope = {
        "get": Own("the caller's own preferences"),
        "put": Own("sets the caller's own preferences"),
    }
    serializer_class = PreferencesOutput

    def _answer(self, request: Request) -> Response:
        user = request.user
        preference = preferences.preference_of(user)
        rules = preferences.requirements_of(user.helpline_id)
        return Response(
            {
                # What delivery will use: the choice with the helpline's rule applied over it.
                "channels": {
                    k: preferences.effective_channels(
                        preferences.channels_for(preference, k, rules[k]), rules[k]
                    )
                    for k in preferences.STAFF_KINDS
                },
                "urgent_kinds": sorted(k for k, rule in rules.items() if rule != Requirement.NONE),
                "required": rules,
                "email": user.email,
                "sms_number": preference.sms_number,
            }
        )

    @extend_schema(
        operation_id="notifications_preferences_get",
        summary="The caller's notification channels",
        description="Per kind, the channels the caller's notifications go to beside the in-app inbox "
        "(e-mail, SMS): their choice with whatever their helpline requires added, the helpline's rule per "
        "kind (`required`), the kinds that must keep at least one of them (`urgent_kinds`), and the "
        "address and number used.",
        responses=PreferencesOutput,
    )
    def get(self, request: Request) -> Response:
        return self._answer(request)

    @extend_schema(
        operation_id="notifications_preferences_set",
        summary="Choose the caller's notification channels",
        description="In-app is always on. A choice below the helpline's rule for a kind (see "
        "`notifications_requirements_get`) is refused with 400 naming the kind (`channels.<kind>`); SMS "
        "needs a number, e-mail an address set by an administrator.",
        request=PreferencesInput,
        responses={200: PreferencesOutput},
    )
    def put(self, request: Request) -> Response:
        body = PreferencesInput(data=request.data)
        body.is_valid(raise_exception=True)
        services.preferences_set(actor=request.user, **body.validated_data)
        return self._answer(request)


# The service's own refusals of a shift (not active staff of the helpline, bad weekdays, a slot that
# ends when it starts) come as `invalid` on the shift's field.
@extend_validation_errors(["invalid"], field_name="shifts.INDEX.user", methods=["put"])
@extend_validation_errors(["invalid"], field_name="shifts.INDEX.weekdays", methods=["put"])
# A missing or null list is refused on `shifts` itself (DRF), which drf-standardized-errors files
# under `shifts.non_field_errors` with the list's other errors (not a list, too long).
@extend_validation_errors(["required", "null"], field_name="shifts", methods=["put"])
class OnCallView(APIView):
    audit_actions = {"put": (AuditAction.NOTIFICATION_ON_CALL_SET, "helpline.helpline")}
    scope = {
        "get": Scoped(selectors.on_call_shifts),
        "put": Own("replaces the rota of the caller's own helpline (the service asks the policy)"),
    }
    serializer_class = RotaOutput

    def _answer(self, request: Request, shifts) -> Response:
        helpline = Helpline.objects.get(pk=request.user.helpline_id)
        return Response(
            {"timezone": helpline.timezone, "shifts": RotaOutput().fields["shifts"].to_representation(shifts)}
        )

    @extend_schema(
        operation_id="on_call_get",
        summary="The helpline's on-call rota (who is paged out of hours)",
        description="The weekly slots of the caller's helpline, in its time zone, and who is on call in "
        "each. Staff of the helpline read it; supervisors and administrators change it (PUT).",
        responses=RotaOutput,
    )
    def get(self, request: Request) -> Response:
        return self._answer(request, self.scoped())

    @extend_schema(
        operation_id="on_call_set",
        summary="Replace the helpline's on-call rota (supervisors, administrators)",
        description="Weekly slots in the helpline's time zone; a slot whose end is not after its start runs "
        "past midnight. While a slot covers the present, urgent notifications also page its person on "
        "every channel they have.",
        request=RotaInput,
        responses={200: RotaOutput, 403: ErrorResponse403Serializer},
    )
    def put(self, request: Request) -> Response:
        helpline = Helpline.objects.filter(pk=request.user.helpline_id).first()
        if helpline is None:
            raise NotFound()
        body = RotaInput(data=request.data, context={"request": request})
        body.is_valid(raise_exception=True)
        shifts = [services.ShiftInput(**s) for s in body.validated_data["shifts"]]
        created = services.on_call_set(actor=request.user, helpline=helpline, shifts=shifts)
        return self._answer(request, created)


@extend_validation_errors_per_kind(preferences.STAFF_KINDS, field="requirements")
class RequirementsView(APIView):
    audit_actions = {"put": (AuditAction.NOTIFICATION_REQUIREMENTS_SET, "helpline.helpline")}
    scope = {
        "get": Scoped(selectors.requirements_helpline),
        "put": Own("replaces the rules of the caller's own helpline (the service asks the policy)"),
    }
    serializer_class = RequirementsOutput

    @extend_schema(
        operation_id="notifications_requirements_get",
        summary="The notification channels the helpline requires per kind",
        description="For every kind of notification staff receive, the out-of-band channels each person "
        "of the caller's helpline must keep: `none`, `email_or_sms` (at least one), `email`, `sms` or "
        "`email_and_sms`; `customised` lists the kinds the helpline has set (the others follow the "
        "installation's default: e-mail or SMS for emergency referrals and critical cases). Staff of "
        "the helpline read it; its administrators change it (PUT).",
        responses=RequirementsOutput,
    )
    def get(self, request: Request) -> Response:
        return Response(preferences.requirements_answer(self.scoped().pk))

    @extend_schema(
        operation_id="notifications_requirements_set",
        summary="Set the notification channels the helpline requires (administrators)",
        description="Replaces the helpline's rules: a kind left out returns to the default. The rule "
        "applies at once, also to people whose stored choice is below it: their notifications of that "
        "kind go to the required channels too (wherever they have an address), and their preferences "
        "answer shows it; their next change of preferences must meet the rule. 400 names an unknown "
        "kind or requirement; 403 for supervisors and operators.",
        request=RequirementsInput,
        responses={200: RequirementsOutput, 403: ErrorResponse403Serializer},
    )
    def put(self, request: Request) -> Response:
        helpline = Helpline.objects.filter(pk=request.user.helpline_id).first()
        if helpline is None:
            raise NotFound()
        body = RequirementsInput(data=request.data)
        body.is_valid(raise_exception=True)
        services.requirements_set(
            actor=request.user, helpline=helpline, requirements=body.validated_data["requirements"]
        )
        return Response(preferences.requirements_answer(helpline.pk))
