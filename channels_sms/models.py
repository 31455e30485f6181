"""Inbound channels: the helpline numbers Twilio calls us about, the raw webhook events (stored
before anything else happens, so nothing is lost), and the messages of a conversation."""

from django.db import models
from django.utils.translation import gettext_lazy as _

from cases.models import Channel, Direction
from helpline.crypto import EncryptedTextField
from helpline.vocabulary import PersonalData as P


class NumberChannel(models.TextChoices):
    # Translators: same in every language: the name of a channel.
    SMS = "sms", _("SMS")
    # Translators: same in every language: the name of a channel.
    WHATSAPP = "whatsapp", _("WhatsApp")
    VOICE = "voice", _("Voice")


class PhoneNumber(models.Model):
    """A number of ours at Twilio: an inbound webhook's `To` tells which helpline it is for.
    WhatsApp senders are written the way Twilio sends them, `whatsapp:+14155238886`."""

    helpline = models.ForeignKey("helpline.Helpline", on_delete=models.PROTECT, related_name="phone_numbers")
    channel = models.CharField(max_length=12, choices=NumberChannel.choices)
    number = models.CharField(max_length=48, help_text="E.164 (+15005550006) or whatsapp:+E.164.")
    # Answer to a sender's first message of a conversation, in the number's language; empty: the
    # default text in that language (channels_sms.texts).
    acknowledgement = models.CharField(max_length=480, blank=True)
    # The language of its contacts (their acknowledgement, voice prompts); "": the helpline's default.
    language = models.CharField(max_length=16, blank=True, default="", db_default="")
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
    MESSAGE = "message", _("Inbound message")
    MESSAGE_STATUS = "message_status", _("Delivery status of an outbound message")


class InboundEvent(models.Model):
    """One webhook exactly as it arrived, stored in the webhook's own transaction before it is
    answered. Processing (threading into a contact and case) happens after, in a task; an event
    stays `processed_at IS NULL` until that commits, so the sweeper can always retry it."""

    # Indexed by inbound_event_by_sender, which leads with it: a helpline-only index tempted the
    # planner (after a burst, before ANALYZE) into walking a helpline's events for one sender's.
    helpline = models.ForeignKey(
        "helpline.Helpline", on_delete=models.PROTECT, related_name="+", db_index=False
    )
    channel = models.CharField(max_length=12, choices=NumberChannel.choices)
    kind = models.CharField(max_length=16, choices=EventKind.choices, default=EventKind.MESSAGE)
    provider = models.CharField(max_length=16, default="twilio")
    # MessageSid for messages; MessageSid:MessageStatus for status callbacks. Twilio's retries
    # carry the same value, so the unique constraint makes a retry find the first event.
    external_id = models.CharField(max_length=80)
    sender = EncryptedTextField(blank=True)  # `From` as sent (+E.164 or whatsapp:+E.164)
    sender_hash = models.CharField(max_length=64, blank=True)
    body = EncryptedTextField(blank=True)
    num_media = models.PositiveSmallIntegerField(default=0)
    media = EncryptedTextField(blank=True)  # JSON [{"url", "content_type"}]; Twilio media URLs are open
    params = EncryptedTextField()  # every POST parameter, JSON
    # What we answered, so a retried webhook gets the same answer.
    reply = models.CharField(max_length=480, blank=True)
    # The language of the number it came to (texts.number_language): its contact's language.
    language = models.CharField(max_length=16, blank=True, default="", db_default="")
    received_at = models.DateTimeField()
    # Kept in this node's spool while the database was away, stored when it came back
    # (channels_sms.spool): `received_at` is still when it arrived.
    spooled = models.BooleanField(default=False, db_default=False)
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
            # Each webhook asks whether the sender wrote within the idle gap: one index range, not
            # the helpline's millions of events AND-ed with the sender's (bench, docs/performance.md).
            models.Index(fields=["helpline", "sender_hash", "received_at"], name="inbound_event_by_sender"),
        ]

    def __str__(self) -> str:
        return f"{self.provider} {self.kind} {self.external_id}"


class MessageKind(models.TextChoices):
    """What a conversation entry is: a message someone wrote, or what the web chat itself put in
    the thread (channels_sms.chat): the greeting and out-of-hours notice a child was shown when the
    chat opened, and the chat's end (an event with no body)."""

    MESSAGE = "message", _("Message")
    GREETING = "greeting", _("Greeting shown when the chat opened")
    OUT_OF_HOURS = "out_of_hours", _("Out-of-hours notice shown when the chat opened")
    SESSION_ENDED = "session_ended", _("The chat ended")


class Message(models.Model):
    """One message of a conversation contact, either direction (or a chat's event: `kind`)."""

    # helpline.vocabulary.PersonalData: what exports leave out or re-key (reports.exports).
    personal_data = {
        "sender_hash": P.IDENTIFIER_HASH,
        "body": P.FREE_TEXT,
        "media": P.FREE_TEXT,
        "to_address": P.CONTACT_DETAIL,
        "external_id": P.IDENTIFIER,
    }

    helpline = models.ForeignKey("helpline.Helpline", on_delete=models.PROTECT, related_name="+")
    case = models.ForeignKey("cases.Case", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    contact = models.ForeignKey("cases.Contact", on_delete=models.PROTECT, related_name="messages")
    # A contact's channel: sms and whatsapp from Twilio, chat from the web chat (channels_sms.chat).
    channel = models.CharField(max_length=12, choices=Channel.choices)
    direction = models.CharField(max_length=10, choices=Direction.choices)
    kind = models.CharField(
        max_length=16,
        choices=MessageKind.choices,
        default=MessageKind.MESSAGE,
        db_default=MessageKind.MESSAGE,
    )
    sender_hash = models.CharField(max_length=64, blank=True)
    body = EncryptedTextField(blank=True)
    media = EncryptedTextField(blank=True)
    external_id = models.CharField(max_length=80, blank=True)
    event = models.OneToOneField(
        InboundEvent, on_delete=models.PROTECT, null=True, blank=True, related_name="message"
    )
    at = models.DateTimeField(db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # Outbound replies only (channels_sms.outbound): who wrote it, from our number to the sender,
    # Twilio's delivery status (queued, outbox, sent, delivered, undelivered, failed, ...) and the
    # error code it gave. `external_id` holds Twilio's message sid once Twilio accepted it.
    author = models.ForeignKey(
        "helpline.User", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    from_address = models.CharField(max_length=48, blank=True)
    to_address = EncryptedTextField(blank=True)
    status = models.CharField(max_length=16, blank=True)
    error_code = models.CharField(max_length=16, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    sent_at = models.DateTimeField(null=True, blank=True)
    status_at = models.DateTimeField(null=True, blank=True)
    # An operator's reply written from a canned reply (its text as it was is `body`). Not
    # indexed: nothing looks messages up by it, and building an index on every message would hold
    # off the channels' writes while it ran.
    canned_reply = models.ForeignKey(
        "CannedReply", on_delete=models.PROTECT, null=True, blank=True, related_name="+", db_index=False
    )

    class Meta:
        ordering = ["at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["channel", "external_id"],
                condition=~models.Q(external_id=""),
                name="message_unique_external_id",
            ),
        ]
        # The sender's last message (which conversation contact a new one continues) and a
        # contacter's messages: newest first within one sender.
        indexes = [models.Index(fields=["sender_hash", "at"], name="message_by_sender")]

    def __str__(self) -> str:
        return f"{self.direction} {self.channel} message {self.pk}"


# --- voice calls (issue #4, voice part) -------------------------------------------------------------


class VoiceEventKind(models.TextChoices):
    """InboundEvent.kind values of voice webhooks (`external_id` is CallSid:CallStatus for calls
    and status callbacks, CallSid:gather for the emergency digit, CallSid:queue:QueueResult for
    the queue's result)."""

    CALL = "voice", _("Inbound call")
    STATUS = "voice_status", _("Call status, digit or queue result")


class VoiceMode(models.TextChoices):
    ENQUEUE = "enqueue", _("Put the caller in the helpline's queue")
    DIAL = "dial", _("Dial the on-duty operators' numbers")


class VoiceRoute(models.Model):
    """How a voice number answers: the greeting (empty: the helpline language's default), the
    emergency digit, and whether callers wait in a queue or the on-duty numbers are dialled."""

    number = models.OneToOneField(PhoneNumber, on_delete=models.CASCADE, related_name="voice_route")
    greeting = models.CharField(max_length=480, blank=True)
    mode = models.CharField(max_length=8, choices=VoiceMode.choices, default=VoiceMode.ENQUEUE)
    queue_name = models.CharField(max_length=64, blank=True, help_text="Empty: the helpline's code.")
    dial_numbers = models.TextField(blank=True, help_text="On-duty numbers (E.164), one a line.")
    emergency_digit = models.CharField(max_length=1, default="9")

    def __str__(self) -> str:
        return f"voice route of {self.number}"


class Callback(models.Model):
    """An abandoned call (no answer, busy, failed, cancelled, or the caller hung up in the queue)
    waiting for an operator to call back."""

    helpline = models.ForeignKey("helpline.Helpline", on_delete=models.PROTECT, related_name="+")
    contact = models.OneToOneField("cases.Contact", on_delete=models.PROTECT, related_name="callback")
    case = models.ForeignKey("cases.Case", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    reason = models.CharField(max_length=24)  # the CallStatus or queue result that abandoned it
    requested_at = models.DateTimeField()
    done_at = models.DateTimeField(null=True, blank=True)
    done_by = models.ForeignKey(
        "helpline.User", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    outcome = EncryptedTextField(blank=True)

    class Meta:
        ordering = ["requested_at", "id"]
        indexes = [
            models.Index(
                fields=["helpline", "requested_at"],
                name="callback_open",
                condition=models.Q(done_at__isnull=True),
            ),
        ]

    def __str__(self) -> str:
        return f"callback {self.pk}"


# --- web chat (issue #4, chat part) -----------------------------------------------------------------


def _chat_session_id():
    import uuid

    return uuid.uuid4()


class ChatSession(models.Model):
    """An anonymous child's web chat: the session is the sender (`sender_hash`), its messages are
    `Message` rows of channel "chat" in one contact. The secret the child holds is stored only as
    its SHA-256; a wrong or missing secret reads as an unknown session."""

    id = models.UUIDField(primary_key=True, default=_chat_session_id, editable=False)
    helpline = models.ForeignKey("helpline.Helpline", on_delete=models.PROTECT, related_name="+")
    language = models.CharField(max_length=16)
    secret_hash = models.CharField(max_length=64)
    sender_hash = models.CharField(max_length=64, unique=True)
    contact = models.OneToOneField(
        "cases.Contact", on_delete=models.PROTECT, null=True, blank=True, related_name="chat_session"
    )
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    # What the child was shown when the chat opened (channels_sms.chat): the helpline's greeting,
    # and its out-of-hours notice if it opened outside the opening hours ("" within them).
    greeting = models.TextField(blank=True, default="", db_default="")
    out_of_hours_notice = models.TextField(blank=True, default="", db_default="")

    class Meta:
        ordering = ["-created_at"]
        # The queue of waiting chats: a helpline's open sessions (channels_sms.selectors).
        indexes = [
            models.Index(
                fields=["helpline", "expires_at"],
                name="chat_session_open",
                condition=models.Q(ended_at__isnull=True, contact__isnull=False),
            )
        ]

    def __str__(self) -> str:
        return f"chat session {self.pk}"


# --- canned replies (issue #15) ---------------------------------------------------------------------


class CannedReply(models.Model):
    """A reply an operator can send as written, in SMS, WhatsApp and web chat, per helpline and
    language. Not personal data: written by the helpline for every child. Retired replies stay (a
    sent message names the one it came from) but cannot be used or listed for use."""

    helpline = models.ForeignKey("helpline.Helpline", on_delete=models.PROTECT, related_name="+")
    language = models.CharField(max_length=16)
    title = models.CharField(max_length=100)
    body = models.TextField()
    is_active = models.BooleanField(default=True)
    created_by = models.ForeignKey("helpline.User", on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["language", "title", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["helpline", "language", "title"],
                condition=models.Q(is_active=True),
                name="canned_reply_unique_active_title",
            ),
        ]
        indexes = [models.Index(fields=["helpline", "language"], name="canned_reply_by_language")]

    def __str__(self) -> str:
        return f"canned reply {self.pk} ({self.language})"


# --- repeat contacters (issue #4, repeat contacters part) -------------------------------------------


class ContacterFlagKind(models.TextChoices):
    BLOCKED = "blocked", _("Blocked: messages and calls are stored but open no case")
    ABUSIVE = "abusive", _("Abusive: contacts are marked, threading goes on")


class ContacterFlag(models.Model):
    """A supervisor's flag on a sender identifier (its keyed hash, never the number) in a
    helpline, until `expires_at` or until lifted. At most one live flag per identifier: setting
    a new one lifts the previous one (channels_sms.contacters)."""

    helpline = models.ForeignKey("helpline.Helpline", on_delete=models.PROTECT, related_name="+")
    identifier_hash = models.CharField(max_length=64, db_index=True)
    flag = models.CharField(max_length=8, choices=ContacterFlagKind.choices)
    reason = EncryptedTextField()
    expires_at = models.DateTimeField()
    set_by = models.ForeignKey("helpline.User", on_delete=models.PROTECT, related_name="+")
    set_at = models.DateTimeField()
    lifted_at = models.DateTimeField(null=True, blank=True)
    lifted_by = models.ForeignKey(
        "helpline.User", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["-set_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["helpline", "identifier_hash"],
                condition=models.Q(lifted_at__isnull=True),
                name="contacter_flag_one_live_per_identifier",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.flag} flag {self.pk}"


class FlaggedContact(models.Model):
    """A contact that arrived while its sender was flagged: `abusive` (threaded, marked for the
    operator) or `blocked` (kept, but opened no case and joined none)."""

    contact = models.OneToOneField("cases.Contact", on_delete=models.PROTECT, related_name="contacter_mark")
    flag = models.ForeignKey(ContacterFlag, on_delete=models.PROTECT, related_name="marked_contacts")
    kind = models.CharField(max_length=8, choices=ContacterFlagKind.choices)
    at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.kind} mark on contact {self.contact_id}"
