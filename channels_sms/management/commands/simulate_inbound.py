"""Posts a realistic, correctly signed Twilio webhook (an SMS, a WhatsApp message or a call) to a
running server, so the inbound flow can be tried without Twilio:

    python manage.py simulate_inbound sms --from +254712345678 --body "I need help"
    python manage.py simulate_inbound voice --from +254712345678 --url http://127.0.0.1:8000

It signs with settings.TWILIO_AUTH_TOKEN against settings.PUBLIC_BASE_URL + the webhook's path
(what the server checks), prints the HTTP status and the TwiML answered. `make run` prints the
development token it set; `python -m config.launcher simulate ...` runs this with it."""

import secrets
import urllib.error
import urllib.parse
import urllib.request

from django.conf import settings
from django.core.management.base import CommandError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from twilio.request_validator import RequestValidator

from helpline.management.base import Command as LifelineCommand

PATHS = {
    "sms": "/webhooks/twilio/sms/",
    "whatsapp": "/webhooks/twilio/sms/",
    "voice": "/webhooks/twilio/voice/",
}
# The demo helpline's numbers (seed_demo).
DEFAULT_TO = {"sms": "+15005550006", "whatsapp": "whatsapp:+14155238886", "voice": "+15005550006"}
ACCOUNT_SID = "AC" + "0" * 32


def _sid(prefix: str) -> str:
    return prefix + secrets.token_hex(16)


def build_params(channel: str, *, sender: str, to: str, body: str) -> dict[str, str]:
    """The POST parameters Twilio sends for an inbound message or call (reference: Twilio's
    webhook documentation, /work/shared/reference/twilio-webhooks.md)."""
    if channel == "voice":
        return {
            "AccountSid": ACCOUNT_SID,
            "ApiVersion": "2010-04-01",
            "CallSid": _sid("CA"),
            "CallStatus": "ringing",
            "Direction": "inbound",
            "From": sender,
            "To": to,
            "Caller": sender,
            "Called": to,
            "CallerCountry": "KE",
            "CalledCountry": "US",
        }
    sid = _sid("SM")
    params = {
        "AccountSid": ACCOUNT_SID,
        "ApiVersion": "2010-04-01",
        "MessageSid": sid,
        "SmsSid": sid,
        "SmsMessageSid": sid,
        "SmsStatus": "received",
        "From": sender,
        "To": to,
        "Body": body,
        "NumMedia": "0",
        "NumSegments": "1",
        "FromCountry": "KE",
        "ToCountry": "US",
    }
    if channel == "whatsapp":
        params["ProfileName"] = "Simulated sender"
        params["WaId"] = sender.removeprefix("whatsapp:").lstrip("+")
    return params


class Command(LifelineCommand):
    help = gettext_lazy(
        "Sign and post a realistic Twilio webhook (sms, whatsapp or voice) to a running server."
    )
    requires_system_checks: list[str] = []

    def add_arguments(self, parser):
        parser.add_argument("channel", choices=sorted(PATHS))
        parser.add_argument("--from", dest="sender", required=True, help=gettext_lazy("The sender, +E.164."))
        parser.add_argument(
            "--body", default="Hello, I need help", help=gettext_lazy("The message text (not for voice).")
        )
        parser.add_argument(
            "--to", default="", help=gettext_lazy("Our number (default: the demo helpline's).")
        )
        parser.add_argument(
            "--url",
            default="",
            help=gettext_lazy("Where the server listens (default: settings.PUBLIC_BASE_URL)."),
        )

    def handle(self, *args, channel, sender, body, to, url, **options):
        token = settings.TWILIO_AUTH_TOKEN
        if not token:
            raise CommandError(_("TWILIO_AUTH_TOKEN is not set: the server would refuse the webhook."))
        if channel == "whatsapp" and not sender.startswith("whatsapp:"):
            sender = "whatsapp:" + sender
        to = to or DEFAULT_TO[channel]
        if channel == "whatsapp" and not to.startswith("whatsapp:"):
            to = "whatsapp:" + to
        path = PATHS[channel]
        params = build_params(channel, sender=sender, to=to, body=body)
        # Signed for the public URL the server checks against, whatever address we post to.
        signature = RequestValidator(token).compute_signature(settings.PUBLIC_BASE_URL + path, params)
        target = (url or settings.PUBLIC_BASE_URL).rstrip("/") + path
        if urllib.parse.urlsplit(target).scheme not in ("http", "https"):
            raise CommandError(
                _("The server's address must be http:// or https://, not %(address)r.") % {"address": target}
            )
        request = urllib.request.Request(
            target,
            data=urllib.parse.urlencode(params).encode(),
            headers={
                "X-Twilio-Signature": signature,
                "Content-Type": "application/x-www-form-urlencoded",
                "User-Agent": "TwilioProxy/1.1 (simulate_inbound)",
            },
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=20) as response:  # nosec B310  # http(s) checked above
                status, answer = response.status, response.read().decode()
        except urllib.error.HTTPError as exc:
            status, answer = exc.code, exc.read().decode()
        except urllib.error.URLError as exc:
            raise CommandError(
                _("Could not reach %(address)s: %(reason)s") % {"address": target, "reason": exc.reason}
            ) from None
        sid = params.get("MessageSid") or params["CallSid"]
        self.stdout.write(f"POST {target} ({channel}, {sid}) -> {status}")
        self.stdout.write(answer)
        if status >= 400:
            raise CommandError(_("The server answered %(status)s.") % {"status": status})
