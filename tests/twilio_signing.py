"""Signing test webhooks exactly as Twilio does, for the public URL it called (shared by the
channel tests)."""

from twilio.request_validator import RequestValidator

TOKEN = "test-twilio-auth-token-0123456789"
PUBLIC = "https://helpline.example.org"
OUR_NUMBER = "+15005550006"  # the helpline's SMS number of the `sms_number` fixture


def sms_params(sid: str, sender: str, body: str = "hello", *, to: str = OUR_NUMBER) -> dict[str, str]:
    """The parameters of an inbound SMS webhook, as Twilio sends them."""
    return {
        "AccountSid": "AC" + "0" * 32,
        "MessageSid": sid,
        "From": sender,
        "To": to,
        "Body": body,
        "NumMedia": "0",
        "ApiVersion": "2010-04-01",
    }


def twilio_signature(url_path: str, params, *, token: str = TOKEN, base: str = PUBLIC) -> str:
    return RequestValidator(token).compute_signature(base + url_path, params)
