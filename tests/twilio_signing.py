"""Signing test webhooks exactly as Twilio does, for the public URL it called (shared by the
channel tests)."""

from twilio.request_validator import RequestValidator

TOKEN = "test-twilio-auth-token-0123456789"
PUBLIC = "https://helpline.example.org"


def twilio_signature(url_path: str, params, *, token: str = TOKEN, base: str = PUBLIC) -> str:
    return RequestValidator(token).compute_signature(base + url_path, params)
