"""Web chat for children: anonymous endpoints (no login). A session's id and the secret it was
given (header X-Chat-Secret) open it; a wrong or missing secret answers 404, so session ids do not
leak. Rate-limited per session and per client address (DRF throttles in the Redis cache)."""

import hashlib
import uuid

from django.conf import settings
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from drf_standardized_errors.openapi_validation_errors import extend_validation_errors
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import SimpleRateThrottle

from helpline.api.base import APIView, Fetch, NoObject
from helpline.api.errors import DATABASE_UNAVAILABLE
from helpline.api.schema import ErrorResponse409Serializer
from helpline.errors import Conflict
from helpline.i18n import supported

from .. import chat, selectors
from ..models import Message
from . import examples, spooling

SECRET_HEADER = OpenApiParameter(
    "X-Chat-Secret",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    required=True,
    description="The secret the session was created with.",
)


# --- throttles ------------------------------------------------------------------------------------


class _ChatThrottle(SimpleRateThrottle):
    """Rates from settings.CHAT_RATES (read per request, so they can be changed at run time)."""

    def get_rate(self):
        return settings.CHAT_RATES[self.scope]


class ChatSessionCreateThrottle(_ChatThrottle):
    scope = "chat_session_create"

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class ChatMessageIPThrottle(_ChatThrottle):
    scope = "chat_message_ip"

    def allow_request(self, request, view):
        return request.method != "POST" or super().allow_request(request, view)

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class ChatMessageSessionThrottle(_ChatThrottle):
    scope = "chat_message_session"

    def allow_request(self, request, view):
        return request.method != "POST" or super().allow_request(request, view)

    def get_cache_key(self, request, view):
        # Hashed: the id comes from the URL as sent, of any length; the cache key must stay bounded.
        ident = hashlib.sha256(str(view.kwargs.get("session_id")).encode()).hexdigest()
        return self.cache_format % {"scope": self.scope, "ident": ident}


# --- serializers ----------------------------------------------------------------------------------


class ChatSessionInput(serializers.Serializer):
    helpline = serializers.CharField(max_length=20, help_text="The helpline's code.")
    language = serializers.CharField(
        max_length=16,
        required=False,
        allow_blank=True,
        default="",
        help_text="The child's choice of the helpline's languages (`es`, `mn`...); another or none: "
        "the browser's (`Accept-Language`) when the helpline speaks it, else the helpline's default.",
    )


class ChatNoticeOutput(serializers.Serializer):
    kind = serializers.ChoiceField(
        choices=["greeting", "out_of_hours"],
        help_text="`greeting`: the helpline's welcome; `out_of_hours`: the chat opened outside the "
        "helpline's opening hours (messages are kept and read by the next shift).",
    )
    body = serializers.CharField()
    at = serializers.DateTimeField()


NOTICES_HELP = (
    "What the helpline says first, in order: show these as its first messages, before `results`. "
    "The greeting always; the out-of-hours notice when the chat opened outside the opening hours."
)


class ChatSessionOutput(serializers.Serializer):
    id = serializers.UUIDField()
    secret = serializers.CharField(help_text="Shown once: send it as X-Chat-Secret.")
    expires_at = serializers.DateTimeField()
    language = serializers.CharField(help_text="The chat's language: what the helpline answers in.")
    notices = ChatNoticeOutput(many=True, help_text=NOTICES_HELP)


class ChatSessionStateOutput(serializers.Serializer):
    id = serializers.UUIDField()
    expires_at = serializers.DateTimeField()
    ended_at = serializers.DateTimeField(allow_null=True)


class ChatMessageInput(serializers.Serializer):
    body = serializers.CharField(max_length=2000)


class ChatMessageOutput(serializers.ModelSerializer):
    class Meta:
        model = Message
        fields = ["id", "direction", "kind", "body", "at"]
        read_only_fields = fields
        extra_kwargs = {
            "kind": {
                "help_text": "`message`: written by the child or a counsellor; `session_ended`: the "
                "chat ended (no body)."
            }
        }


class ChatMessageQueuedOutput(serializers.Serializer):
    """A message taken while the database is away: kept on the server, stored (and shown in the
    chat) once it is back."""

    status = serializers.ChoiceField(choices=["queued"])
    received_at = serializers.DateTimeField()


class ChatMessagePageOutput(serializers.Serializer):
    notices = ChatNoticeOutput(many=True, help_text=NOTICES_HELP)
    queue_position = serializers.IntegerField(
        allow_null=True,
        min_value=1,
        help_text="While the child waits for a counsellor: their place among the helpline's waiting "
        "chats (1: next), by when each child first wrote. null before the child's first message, once "
        "a counsellor has replied, and when the chat is over.",
    )
    results = ChatMessageOutput(many=True)
    cursor = serializers.IntegerField(
        allow_null=True, help_text="Pass as ?after= to read only newer messages."
    )


# --- views ----------------------------------------------------------------------------------------


def _is_uuid(value: object) -> bool:
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True


def _chat_secret(request: Request) -> dict[str, str]:
    """The caller of a chat is whoever holds its secret."""
    return {"secret": request.headers.get("X-Chat-Secret", "")}


# The session named in the path, if the request holds its secret (else 404, as if none).
CHAT_SESSION = Fetch(selectors.chat_session_get, "session_id", caller=_chat_secret)


class _AnonymousChatView(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        # A request naming none of our languages is answered in the chat's (the child chose it),
        # not in English: an ended chat's 409, a refused message.
        language = supported(getattr(self.object, "language", None))
        if language and not getattr(request._request, "language_requested", None):
            translation.activate(language)


class ChatSessionCreateView(_AnonymousChatView):
    serializer_class = ChatSessionInput
    throttle_classes = [ChatSessionCreateThrottle]
    scope = {"post": NoObject("starts a new chat: no caller, no stored object to reach")}

    @extend_schema(
        auth=[],
        operation_id="chat_sessions_create",
        examples=examples.CHAT_SESSION_CREATE,
        description=(
            "Opens an anonymous web chat for a child on the helpline's website: no sign-in. Send the "
            "helpline's `helpline` code; the answer has the session's `id` and `secret` (shown once): "
            "send the secret as `X-Chat-Secret` on every later request of the session. The child's "
            "messages reach the operators as a case. 404 for an unknown helpline, 429 when one address "
            "opens too many.\n\n"
            "Opens a chat with the helpline named by its code (unknown or inactive: 404). The answer "
            "carries the session's secret, shown only here (send it as X-Chat-Secret from now on), and "
            "`notices`: the helpline's greeting in the chat's language (`language` when the helpline "
            "speaks it, else the browser's `Accept-Language` when it does, else the helpline's "
            "default; the answer's `language`), and, outside the helpline's opening hours, its "
            "out-of-hours notice. "
            "Out of hours the chat opens all the same: the child can write, and what they write is "
            "kept for the next shift. Nothing reaches the helpline's queue until the first message."
        ),
        summary="Start an anonymous web chat (returns the session's secret, once)",
        request=ChatSessionInput,
        responses={201: ChatSessionOutput},
    )
    def post(self, request: Request) -> Response:
        data = ChatSessionInput(data=request.data)
        data.is_valid(raise_exception=True)
        new = chat.chat_session_create(
            helpline_code=data.validated_data["helpline"],
            language=data.validated_data["language"],
            accept_language=request.headers.get("Accept-Language", ""),
        )
        body = {
            "id": new.session.pk,
            "secret": new.secret,
            "expires_at": new.session.expires_at,
            "language": new.session.language,
            "notices": selectors.chat_notices(new.session),
        }
        return Response(ChatSessionOutput(body).data, status=status.HTTP_201_CREATED)


@extend_validation_errors(["invalid"], field_name="after", methods=["get"])
class ChatMessagesView(_AnonymousChatView):
    serializer_class = ChatMessageOutput
    throttle_classes = [ChatMessageSessionThrottle, ChatMessageIPThrottle]
    scope = {"get": CHAT_SESSION, "post": CHAT_SESSION}

    @extend_schema(
        auth=[],
        operation_id="chat_sessions_messages_list",
        description=(
            "The chat's messages in both directions, oldest first, up to 100 after `after` (the last "
            "message id the page had: `cursor` in the answer). Poll it with `X-Chat-Secret`. 404 for an"
            " unknown session or a wrong secret.\n\n"
            "Poll this to show the chat. `notices` (the greeting, and the out-of-hours notice if any) "
            "come first and are the same in every answer; `results` are the messages after `after` "
            "(all of them without it), with `cursor` to pass next time. `queue_position` tells a "
            "child who has written and is waiting where they are in the queue (1: next); it is null "
            "once a counsellor has answered. When the chat ends, a `session_ended` entry closes "
            "`results`."
        ),
        summary="The chat's messages both directions, oldest first, after a cursor",
        parameters=[
            SECRET_HEADER,
            OpenApiParameter("after", OpenApiTypes.INT, OpenApiParameter.QUERY, required=False),
        ],
        responses=ChatMessagePageOutput,
    )
    def get(self, request: Request, session_id: str) -> Response:
        session = self.object
        raw = request.query_params.get("after", "")
        after = None
        if raw:
            try:
                after = int(raw)
            except ValueError:
                raise ValidationError(
                    {"after": [_("A message id (the cursor of a previous answer).")]}
                ) from None
        messages = list(selectors.chat_message_list(session=session, after=after))
        cursor = messages[-1].pk if messages else after
        page = {
            "notices": selectors.chat_notices(session),
            "queue_position": selectors.chat_queue_position(session),
            "results": messages,
            "cursor": cursor,
        }
        return Response(ChatMessagePageOutput(page).data)

    def initial(self, request: Request, *args, **kwargs) -> None:
        self._arrived = timezone.now()  # before any wait for the database: the time it arrived
        super().initial(request, *args, **kwargs)

    @extend_schema(
        auth=[],
        operation_id="chat_sessions_messages_send",
        examples=examples.CHAT_MESSAGE_SEND,
        description=(
            "The child sends a message (with `X-Chat-Secret`); operators see it on the case. 201 when "
            "stored; 202 when the database is away: the message is kept on the server and appears once "
            "stored (docs/spool.md). 409 once the chat has ended, 404 for an unknown session or a wrong"
            " secret, 429 when too many."
        ),
        summary="Send a message in the chat (409 once the chat has ended)",
        parameters=[SECRET_HEADER],
        request=ChatMessageInput,
        responses={
            201: ChatMessageOutput,
            202: ChatMessageQueuedOutput,
            409: ErrorResponse409Serializer,
        },
    )
    def post(self, request: Request, session_id: str) -> Response:
        session = self.object
        data = ChatMessageInput(data=request.data)
        data.is_valid(raise_exception=True)
        if spooling.queued_behind_spool():
            # Earlier messages wait in this node's spool: this one queues behind them (an ended
            # chat still answers 409 at once: queued, it would be refused at the drain).
            reason = selectors.chat_session_ended_reason(session)
            if reason:
                raise Conflict(reason)
            return self._queued(session_id, data.validated_data["body"])
        message, _ = chat.chat_message_receive(session=session, **data.validated_data)
        return Response(ChatMessageOutput(message).data, status=status.HTTP_201_CREATED)

    def handle_exception(self, exc: Exception) -> Response:
        # The database is away (the session could not even be read): a well-formed message is
        # kept in the spool and answered 202; the drain checks the session's secret when storing.
        if self.request.method == "POST" and isinstance(exc, DATABASE_UNAVAILABLE):
            data = ChatMessageInput(data=self.request.data)
            if data.is_valid() and _is_uuid(self.kwargs["session_id"]):
                spooling.database_unavailable(self.request, exc)
                return self._queued(self.kwargs["session_id"], data.validated_data["body"])
        return super().handle_exception(exc)

    def _queued(self, session_id: str, body: str) -> Response:
        queued = spooling.spool_chat_message(
            session_id=str(session_id),
            secret=_chat_secret(self.request)["secret"],
            body=body,
            arrived=self._arrived,
        )
        if queued is None:
            return spooling.service_unavailable()
        return Response(ChatMessageQueuedOutput(queued).data, status=status.HTTP_202_ACCEPTED)


class ChatSessionEndView(_AnonymousChatView):
    serializer_class = ChatSessionStateOutput
    scope = {"post": CHAT_SESSION}

    @extend_schema(
        auth=[],
        operation_id="chat_sessions_end",
        description=(
            "The child ends the chat (with `X-Chat-Secret`): no more messages can be sent. 404 for an "
            "unknown session or a wrong secret.\n\n"
            "The child leaves. The counsellor sees a `session_ended` entry in the case's conversation "
            "and can no longer reply (409 `chat_ended`). Ending an ended chat changes nothing."
        ),
        summary="End the chat (no more messages can be sent)",
        parameters=[SECRET_HEADER],
        request=None,
        responses=ChatSessionStateOutput,
    )
    def post(self, request: Request, session_id: str) -> Response:
        session = chat.chat_session_end(session=self.object)
        return Response(ChatSessionStateOutput(session).data)
