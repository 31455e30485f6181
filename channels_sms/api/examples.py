"""Examples of the web chat's requests and answers, shown in the API documentation
(helpline.api.documentation). Request examples are also sent by tests/test_api_matches_its_schema.py."""

from drf_spectacular.utils import OpenApiExample

CHAT_SESSION_CREATE = [
    OpenApiExample("Open a chat with the DEMO helpline", request_only=True, value={"helpline": "DEMO"}),
    OpenApiExample(
        "The session: keep `secret`, send it as X-Chat-Secret",
        response_only=True,
        status_codes=["201"],
        value={
            "id": "7d3c0a52-3f7e-4a6b-9d2e-5b1f0c9e8a41",
            "secret": "b5Jq0cV1u8Yx2LrN7sKd4WgHf3TzPa6e",  # nosec B105  # a made-up example
            "expires_at": "2026-12-07T12:30:00Z",
            "language": "en",
            "notices": [
                {
                    "kind": "greeting",
                    "body": "Hello, this is Demo Child Helpline. A counsellor will answer you soon.",
                    "at": "2026-12-07T10:30:00Z",
                }
            ],
        },
    ),
]

CHAT_MESSAGE_SEND = [
    OpenApiExample("The child writes", request_only=True, value={"body": "hi i need help"}),
    OpenApiExample(
        "Stored: the operators see it",
        response_only=True,
        status_codes=["201"],
        value={
            "id": 90211,
            "direction": "inbound",
            "kind": "message",
            "body": "hi i need help",
            "at": "2026-12-07T10:31:02Z",
        },
    ),
    OpenApiExample(
        "Kept while the database is away",
        response_only=True,
        status_codes=["202"],
        value={"status": "queued", "received_at": "2026-12-07T10:31:02Z"},
    ),
]

PHONE_NUMBER_CREATE = [
    OpenApiExample(
        "Add an SMS number", request_only=True, value={"channel": "sms", "number": "+15005550006"}
    ),
    OpenApiExample(
        "Added: its webhooks are taken by the helpline",
        response_only=True,
        status_codes=["201"],
        value={
            "id": 12,
            "helpline": 1,
            "channel": "sms",
            "number": "+15005550006",
            "acknowledgement": "",
            "language": "",
            "is_active": True,
            "voice_route": None,
            "created_at": "2026-12-07T10:31:02Z",
        },
    ),
]

VOICE_ROUTE_CREATE = [
    OpenApiExample(
        "Ring the on-duty operators",
        request_only=True,
        value={"number": 13, "mode": "dial", "dial_numbers": ["+254712345678"], "emergency_digit": "9"},
    ),
    OpenApiExample(
        "Routed: the next call follows it",
        response_only=True,
        status_codes=["201"],
        value={
            "id": 4,
            "number": 13,
            "address": "+15005550007",
            "greeting": "",
            "mode": "dial",
            "queue_name": "",
            "dial_numbers": ["+254712345678"],
            "emergency_digit": "9",
        },
    ),
]
