"""Staff notifications: one Notification per recipient (the in-app inbox), one Delivery per
out-of-band channel (e-mail, SMS) as its outbox row and delivery log, each person's channel
preferences, each helpline's on-call rota and the channels it requires per kind.

This app sits below cases and referrals (they call it): cases and referrals are named by plain id
columns, as the audit log names them, never by foreign key."""

from __future__ import annotations

from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.utils.translation import gettext_lazy as _

from helpline.crypto import EncryptedCharField


class NotificationKind(models.TextChoices):
    EMERGENCY_REFERRAL = "emergency_referral", _("Emergency referral")
    CRITICAL_CASE = "critical_case", _("Critical case")
    OVERDUE = "overdue", _("Overdue case")
    REFERRAL_REJECTED = "referral_rejected", _("Referral rejected")
    REFERRAL_EXPIRED = "referral_expired", _("Referral expired unanswered")
    DELIVERY_FAILED = "delivery_failed", _("Agency could not be notified")
    BREAK_GLASS = "break_glass", _("Break-glass access to a restricted case")
    CASE_TRANSFERRED = "case_transferred", _("Case transferred to you")
    # To a partner agency without a webhook (an address, no user): a referral waits for it.
    AGENCY_REFERRAL = "agency_referral", _("New referral for your agency")


class Channel(models.TextChoices):
    EMAIL = "email", _("E-mail")
    # Translators: same in every language: the name of a channel.
    SMS = "sms", _("SMS")


class DeliveryState(models.TextChoices):
    PENDING = "pending", _("Pending")
    SENT = "sent", _("Sent")
    FAILED = "failed", _("Failed (attempts exhausted, or no address)")


class Notification(models.Model):
    """Something one person (or, for AGENCY_REFERRAL, one agency's address) is told. The row holds
    no personal data: the kind, the case's reference and a link."""

    user = models.ForeignKey(
        "helpline.User", on_delete=models.CASCADE, null=True, blank=True, related_name="notifications"
    )
    helpline = models.ForeignKey("helpline.Helpline", on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=24, choices=NotificationKind.choices)
    # Plain columns (this app sits below cases and referrals), like the audit log's case_id.
    case_id = models.BigIntegerField(null=True, blank=True)
    referral_id = models.BigIntegerField(null=True, blank=True)
    agency_id = models.BigIntegerField(null=True, blank=True)
    reference = models.CharField(max_length=40, blank=True)
    link = models.CharField(max_length=200, blank=True)
    # The person was paged as the helpline's on-call (out of hours).
    on_call = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [
            # The inbox, newest first, and its unread count.
            models.Index(fields=["user", "-id"], name="notification_inbox"),
            models.Index(
                fields=["user"], condition=models.Q(read_at__isnull=True), name="notification_unread"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.reference} for user {self.user_id}"


class Delivery(models.Model):
    """One e-mail or SMS of a notification: the outbox row, written in the transaction of the
    event, sent by Celery after commit, retried by the beat sweep; its log of what happened."""

    notification = models.ForeignKey(Notification, on_delete=models.CASCADE, related_name="deliveries")
    channel = models.CharField(max_length=8, choices=Channel.choices)
    # The e-mail address or phone number, as it was when the event happened.
    address = EncryptedCharField(max_length=254)
    state = models.CharField(max_length=8, choices=DeliveryState.choices, default=DeliveryState.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    # Set (committed) before the message is handed to the server, cleared with its outcome: still
    # set after the lease, the sender stopped mid-attempt.
    in_flight_since = models.DateTimeField(null=True, blank=True)
    # Generic outcome only ("SMTP error", "HTTP 500"): never an address or a library's text.
    last_error = models.CharField(max_length=200, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["state", "next_attempt_at"], name="notification_delivery_due")]
        verbose_name_plural = "deliveries"

    def __str__(self) -> str:
        return f"{self.channel} delivery {self.pk} of notification {self.notification_id}"


class Preference(models.Model):
    """One person's choice of out-of-band channels per kind (in-app is always on), and the
    number their SMS go to. No row: the defaults (notifications.preferences)."""

    user = models.OneToOneField(
        "helpline.User", on_delete=models.CASCADE, primary_key=True, related_name="notification_preference"
    )
    # {kind: ["email", "sms"]}; a kind missing takes its default.
    channels = models.JSONField(default=dict, blank=True)
    sms_number = EncryptedCharField(max_length=32, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"notification preferences of user {self.user_id}"


class OnCallShift(models.Model):
    """A weekly slot of a helpline's on-call rota: who is paged out of hours. Days and times are in
    the helpline's time zone; a slot whose end is not after its start runs past midnight into the
    next day (22:00-06:00)."""

    helpline = models.ForeignKey("helpline.Helpline", on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey("helpline.User", on_delete=models.CASCADE, related_name="on_call_shifts")
    # ISO weekdays the slot starts on: 1 Monday ... 7 Sunday.
    weekdays = ArrayField(models.PositiveSmallIntegerField())
    starts = models.TimeField()
    ends = models.TimeField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["helpline", "id"]

    def __str__(self) -> str:
        return f"on call {self.user_id} {self.weekdays} {self.starts:%H:%M}-{self.ends:%H:%M}"


class Requirement(models.TextChoices):
    """Which out-of-band channels a helpline's staff must keep for a kind of notification."""

    NONE = "none", _("None (in-app only is enough)")
    EMAIL_OR_SMS = "email_or_sms", _("E-mail or SMS (at least one)")
    EMAIL = "email", _("E-mail")
    # Translators: same in every language: the name of a channel.
    SMS = "sms", _("SMS")
    EMAIL_AND_SMS = "email_and_sms", _("E-mail and SMS")


class ChannelRequirement(models.Model):
    """A helpline's rule for one kind: the channels its staff must keep. No row for a kind: the
    installation's default (notifications.preferences.DEFAULT_REQUIREMENTS)."""

    helpline = models.ForeignKey("helpline.Helpline", on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=24, choices=NotificationKind.choices)
    requirement = models.CharField(max_length=16, choices=Requirement.choices)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["helpline", "kind"]
        constraints = [
            models.UniqueConstraint(fields=["helpline", "kind"], name="notification_requirement_unique")
        ]

    def __str__(self) -> str:
        return f"{self.kind}: {self.requirement} at helpline {self.helpline_id}"
