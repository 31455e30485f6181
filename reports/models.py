"""The roll-ups reports read instead of the raw tables (issue #18): a helpline's contacts per hour of
its own clock, by what a report groups on, kept up to date from a queue of hours to recount
(`RollupDirty`) that a trigger on `cases_contact` fills in the same transaction as each change.

Why hours of the helpline's clock and not of UTC: a helpline's day, hour of day and weekday are its
own, and some time zones are not a whole number of hours from UTC (India +5:30, Nepal +5:45), so
UTC hours cannot be summed into their days. A change of a helpline's time zone marks the whole
helpline, which the next refresh recounts."""

from django.db import models
from django.db.models.functions import Now
from django.utils.translation import gettext_lazy as _

from helpline.crypto import EncryptedCharField, EncryptedTextField


class ContactHour(models.Model):
    """How many contacts a helpline had in one hour of its clock (`day`, `hour` 0-23: the date and
    hour on the helpline's wall clock), for one combination of the contact's channel, direction,
    call type and language; with how many have ended and their total length (handle time), so that
    means are computed from sums, never averaged twice."""

    helpline = models.ForeignKey("helpline.Helpline", on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    hour = models.PositiveSmallIntegerField()
    channel = models.CharField(max_length=12)
    direction = models.CharField(max_length=10)
    call_type = models.CharField(max_length=24)
    language = models.CharField(max_length=16)
    contacts = models.PositiveIntegerField()
    ended = models.PositiveIntegerField()
    handle_seconds = models.FloatField()

    class Meta:
        indexes = [models.Index(fields=["helpline", "day", "hour"], name="contact_hour_by_helpline")]

    def __str__(self) -> str:
        return f"{self.helpline_id} {self.day} {self.hour:02d}:00 {self.channel}: {self.contacts}"


class ContactDay(models.Model):
    """The same as `ContactHour` summed over each day: what a report reads unless it groups by the
    hour of the day, so that a year is a few thousand rows whatever the hourly ones number. Kept
    from the hourly rows of each day they recount (reports.rollups)."""

    helpline = models.ForeignKey("helpline.Helpline", on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    channel = models.CharField(max_length=12)
    direction = models.CharField(max_length=10)
    call_type = models.CharField(max_length=24)
    language = models.CharField(max_length=16)
    contacts = models.PositiveIntegerField()
    ended = models.PositiveIntegerField()
    handle_seconds = models.FloatField()

    class Meta:
        indexes = [models.Index(fields=["helpline", "day"], name="contact_day_by_helpline")]

    def __str__(self) -> str:
        return f"{self.helpline_id} {self.day} {self.channel}: {self.contacts}"


class RollupDirty(models.Model):
    """An hour of a helpline to recount: appended by the trigger on `cases_contact` (the instant the
    change touched, UTC), taken and deleted by `reports.rollups.rollups_refresh` in the transaction
    that recounts it. Append-only and without a unique key, so that two transactions marking the
    same hour never wait on each other."""

    id = models.BigAutoField(primary_key=True)
    helpline_id = models.BigIntegerField()
    # The instant whose hour to recount (a contact's start); none: the whole helpline (its time
    # zone changed, so every hour of it moved).
    at = models.DateTimeField(null=True)
    # When the change was made (its transaction's time): the oldest mark's age is the roll-ups' lag.
    marked_at = models.DateTimeField(db_default=Now())

    def __str__(self) -> str:
        return f"{self.helpline_id} at {self.at:%Y-%m-%d %H:%M}"


class ContactTraitDay(models.Model):
    """How many inbound contacts a helpline had on one day of its clock, by call type and one trait
    of their case's child at a time, for Child Helpline International's report (reports.chi):
    `trait` "age" (`value` the exact age), "age_range" (when the age is not known: the range, or
    "unknown"), "gender", or "category" (each of the case's categories: a contact with two reasons
    counts under both). A contact without a case counts as age range and gender "unknown" and has
    no category. One trait at a time, not their combinations, so that a year is tens of thousands
    of rows whatever the contacts number: the CHI report asks for each on its own."""

    helpline = models.ForeignKey("helpline.Helpline", on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    call_type = models.CharField(max_length=24)
    trait = models.CharField(max_length=12)
    value = models.CharField(max_length=64)
    contacts = models.PositiveIntegerField()

    class Meta:
        indexes = [models.Index(fields=["helpline", "day"], name="contact_trait_by_helpline")]

    def __str__(self) -> str:
        return f"{self.helpline_id} {self.day} {self.trait}={self.value}: {self.contacts}"


class CaseDay(models.Model):
    """How many cases a helpline opened and closed on one day of its clock, by team and risk level
    (as the case is now: a case whose risk changes moves between risk levels on the day it was
    opened; one reopened is no longer counted as closed). Kept by the same marks (a trigger on
    `cases_case` marks the day it was opened and the day it was closed when either changes)."""

    helpline = models.ForeignKey("helpline.Helpline", on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    team_id = models.BigIntegerField(null=True)  # no foreign key: a report outlives a retired team
    risk_level = models.CharField(max_length=12)
    opened = models.PositiveIntegerField()
    closed = models.PositiveIntegerField()

    class Meta:
        indexes = [models.Index(fields=["helpline", "day"], name="case_day_by_helpline")]

    def __str__(self) -> str:
        return f"{self.helpline_id} {self.day} {self.risk_level}: +{self.opened} -{self.closed}"


class ExportDataset(models.TextChoices):
    CASES = "cases", _("Cases")
    CONTACTS = "contacts", _("Contacts")
    REFERRALS = "referrals", _("Referrals")
    MESSAGES = "messages", _("Messages")


class ExportFormat(models.TextChoices):
    CSV = "csv", "CSV"
    XLSX = "xlsx", "XLSX"
    NDJSON = "ndjson", "NDJSON"
    PARQUET = "parquet", "Parquet"


class ExportMode(models.TextChoices):
    # Record ids and phone hashes re-keyed, no name, number, place or free text (reports.exports).
    PSEUDONYMISED = "pseudonymised", _("Pseudonymised")
    # Everything the requester may read, decrypted: needs a reason, flagged for review.
    FULL = "full", _("Full")


class ExportState(models.TextChoices):
    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Running")
    READY = "ready", _("Ready")
    FAILED = "failed", _("Failed")
    EXPIRED = "expired", _("Expired")


class ExportReview(models.TextChoices):
    NOT_NEEDED = "not_needed", _("Not needed")
    PENDING = "pending", _("Pending")
    REVIEWED = "reviewed", _("Reviewed")


class Export(models.Model):
    """One export of a helpline's records asked for by a supervisor (reports.exports): written by
    a Celery job into an encrypted file (`file_key` encrypts it, itself encrypted with the field
    keys), downloadable by its requester only until `expires_at`, then deleted."""

    helpline = models.ForeignKey("helpline.Helpline", on_delete=models.PROTECT, related_name="+")
    requested_by = models.ForeignKey("helpline.User", on_delete=models.PROTECT, related_name="+")
    dataset = models.CharField(max_length=12, choices=ExportDataset.choices)
    file_format = models.CharField(max_length=8, choices=ExportFormat.choices)
    mode = models.CharField(max_length=16, choices=ExportMode.choices)
    reason = EncryptedTextField(blank=True)  # why a full export is needed (required for one)
    date_from = models.DateField()  # the period, on the helpline's clock, both days included
    date_to = models.DateField()
    state = models.CharField(max_length=8, choices=ExportState.choices, default=ExportState.QUEUED)
    rows = models.PositiveBigIntegerField(default=0)  # written (the whole file's once ready)
    size = models.PositiveBigIntegerField(default=0)  # bytes of the encrypted file
    file_name = models.CharField(max_length=100, blank=True)  # under EXPORT_DIR
    file_key = EncryptedCharField(max_length=64, blank=True)
    error = models.CharField(max_length=40, blank=True)  # a code, when it failed
    review = models.CharField(max_length=12, choices=ExportReview.choices, default=ExportReview.NOT_NEEDED)
    reviewed_by = models.ForeignKey(
        "helpline.User", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)
    requested_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    downloads = models.PositiveIntegerField(default=0)
    attempts = models.PositiveSmallIntegerField(default=0)  # jobs that started writing it

    class Meta:
        ordering = ["-requested_at", "-id"]
        indexes = [
            models.Index(fields=["requested_by", "requested_at"], name="export_by_requester"),
            models.Index(fields=["state", "expires_at"], name="export_by_expiry"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(date_to__gte=models.F("date_from")), name="export_period"
            ),
        ]

    def __str__(self) -> str:
        return f"export {self.pk}: {self.dataset} {self.mode} {self.file_format} ({self.state})"
