"""Inbound channels: the helpline numbers Twilio calls us about, the raw webhook events (stored
before anything else happens, so nothing is lost), and the messages of a conversation."""

from django.db import models

from cases.models import Direction
from helpline.crypto import EncryptedTextField


class NumberChannel(models.TextChoices):
    SMS = "sms", "SMS"
    WHATSAPP = "whatsapp", "WhatsApp"
    VOICE = "voice", "Voice"


class PhoneNumber(models.Model):
    """A number of ours at Twilio: an inbound webhook's `To` tells which helpline it is for.
    WhatsApp senders are written the way Twilio sends them, `whatsapp:+14155238886`."""

    helpline = models.ForeignKey("helpline.Helpline", on_delete=models.PROTECT, related_name="phone_numbers")
    channel = models.CharField(max_length=12, choices=NumberChannel.choices)
    number = models.CharField(max_length=48, help_text="E.164 (+15005550006) or whatsapp:+E.164.")
    # Answer to a sender's first message of a conversation, in the helpline's language; empty: the
    # INBOUND_ACKNOWLEDGEMENT setting's default text.
    acknowledgement = models.CharField(max_length=480, blank=True)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["helpline", "channel", "number"]
        constraints = [
            models.UniqueConstraint(fields=["number", "channel"], name="phone_number_unique_per_channel"),
        ]

    def __str__(self) -> str:
        return f"{self.number} ({self.channel})"


class EventKind(models.TextChoices):
    MESSAGE = "message", "Inbound message"
    MESSAGE_STATUS = "message_status", "Delivery status of an outbound message"


class InboundEvent(models.Model):
    """One webhook exactly as it arrived, stored in the webhook's own transaction before it is
    answered. Processing (threading into a contact and case) happens after, in a task; an event
    stays `processed_at IS NULL` until that commits, so the sweeper can always retry it."""

    helpline = models.ForeignKey("helpline.Helpline", on_delete=models.PROTECT, related_name="+")
    channel = models.CharField(max_length=12, choices=NumberChannel.choices)
    kind = models.CharField(max_length=16, choices=EventKind.choices, default=EventKind.MESSAGE)
    provider = models.CharField(max_length=16, default="twilio")
    # MessageSid for messages; MessageSid:MessageStatus for status callbacks. Twilio's retries
    # carry the same value, so the unique constraint makes a retry find the first event.
    external_id = models.CharField(max_length=80)
    sender = EncryptedTextField(blank=True)  # `From` as sent (+E.164 or whatsapp:+E.164)
    sender_hash = models.CharField(max_length=64, blank=True, db_index=True)
    body = EncryptedTextField(blank=True)
    num_media = models.PositiveSmallIntegerField(default=0)
    media = EncryptedTextField(blank=True)  # JSON [{"url", "content_type"}]; Twilio media URLs are open
    params = EncryptedTextField()  # every POST parameter, JSON
    # What we answered, so a retried webhook gets the same answer.
    reply = models.CharField(max_length=480, blank=True)
    received_at = models.DateTimeField()
    dispatched_at = models.DateTimeField(null=True, blank=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    contact = models.ForeignKey(
        "cases.Contact", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-received_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "kind", "external_id"], name="inbound_event_unique_external_id"
            ),
        ]
        indexes = [
            models.Index(
                fields=["received_at"],
                name="inbound_event_unprocessed",
                condition=models.Q(processed_at__isnull=True),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.provider} {self.kind} {self.external_id}"


class Message(models.Model):
    """One message of a conversation contact, either direction."""

    helpline = models.ForeignKey("helpline.Helpline", on_delete=models.PROTECT, related_name="+")
    case = models.ForeignKey("cases.Case", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    contact = models.ForeignKey("cases.Contact", on_delete=models.PROTECT, related_name="messages")
    channel = models.CharField(max_length=12, choices=NumberChannel.choices)
    direction = models.CharField(max_length=10, choices=Direction.choices)
    sender_hash = models.CharField(max_length=64, blank=True, db_index=True)
    body = EncryptedTextField(blank=True)
    media = EncryptedTextField(blank=True)
    external_id = models.CharField(max_length=80, blank=True)
    event = models.OneToOneField(
        InboundEvent, on_delete=models.PROTECT, null=True, blank=True, related_name="message"
    )
    at = models.DateTimeField(db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["channel", "external_id"],
                condition=~models.Q(external_id=""),
                name="message_unique_external_id",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.direction} {self.channel} message {self.pk}"
