"""Sending one e-mail (Django's e-mail framework, its backend from the settings) or one SMS
(Twilio's API, the client built from the settings channels_sms uses: this app sits below
channels_sms and does not import it). A failure is raised as SendFailed with a generic outcome; the
library's text (hosts, addresses) goes to the log only."""

from __future__ import annotations

import logging
import smtplib

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from twilio.base.exceptions import TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

logger = logging.getLogger(__name__)
# twilio's HTTP client logs requests (the recipient's number) and responses at INFO: warnings only.
_http_logger = logging.getLogger("notifications.twilio_http")
_http_logger.setLevel(logging.WARNING)
TWILIO_API = "https://api.twilio.com"


class SendFailed(Exception):
    def __init__(self, outcome: str, *, permanent: bool = False):
        super().__init__(outcome)
        self.outcome = outcome
        # Retrying cannot help (no SMS configured, a number Twilio refuses).
        self.permanent = permanent


def send_email(*, to: str, subject: str, body: str) -> None:
    try:
        connection = get_connection(timeout=settings.EMAIL_TIMEOUT)
        sent = EmailMessage(subject=subject, body=body, to=[to], connection=connection).send()
    except smtplib.SMTPRecipientsRefused:
        raise SendFailed("The mail server refused the address", permanent=True) from None
    except (smtplib.SMTPException, OSError) as error:
        logger.warning("Notification e-mail not sent: %s", type(error).__name__)
        raise SendFailed(f"SMTP error ({type(error).__name__})") from None
    if sent != 1:
        raise SendFailed("The mail backend sent nothing")


class _BaseUrlHttpClient(TwilioHttpClient):
    """twilio's HTTP client, pointed at TWILIO_API_BASE_URL (a test's fake Twilio, a proxy)."""

    def __init__(self, base_url: str, timeout: float):
        super().__init__(logger=_http_logger, timeout=timeout)
        self.base_url = base_url.rstrip("/")

    def request(self, method, url, *args, **kwargs):
        if self.base_url and self.base_url != TWILIO_API and url.startswith(TWILIO_API):
            url = self.base_url + url[len(TWILIO_API) :]
        return super().request(method, url, *args, **kwargs)


def sms_configured() -> bool:
    return bool(settings.TWILIO_ACCOUNT_SID and settings.TWILIO_AUTH_TOKEN and settings.NOTIFICATION_SMS_FROM)


def send_sms(*, to: str, body: str) -> None:
    if not sms_configured():
        raise SendFailed("SMS is not configured", permanent=True)
    http = _BaseUrlHttpClient(settings.TWILIO_API_BASE_URL, settings.TWILIO_HTTP_TIMEOUT_SECONDS)
    client = Client(settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN, http_client=http)
    sender = settings.NOTIFICATION_SMS_FROM
    origin = {"messaging_service_sid": sender} if sender.startswith("MG") else {"from_": sender}
    try:
        client.messages.create(to=to, body=body, **origin)
    except TwilioRestException as error:
        # 4xx other than 429: Twilio will refuse it again (a bad number); the rest may pass later.
        permanent = 400 <= error.status < 500 and error.status != 429
        raise SendFailed(f"Twilio HTTP {error.status}", permanent=permanent) from None
    except Exception as error:  # requests' timeouts and connection errors
        logger.warning("Notification SMS not sent: %s", type(error).__name__)
        raise SendFailed(f"Twilio unreachable ({type(error).__name__})") from None
