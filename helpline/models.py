"""Who is who: helplines, their teams and users, and the audit record of everything they do."""

import zoneinfo

import pgtrigger
from django.contrib.auth.models import AbstractUser
from django.contrib.postgres.fields import ArrayField
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .chat_settings import validate_opening_hours, validate_texts
from .crypto import EncryptedCharField
from .vocabulary import AuditAction


def _validate_timezone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(_("%(value)r is not a known IANA time zone.") % {"value": value})


class Helpline(models.Model):
    """One national (or regional) child helpline running on this installation."""

    code = models.SlugField(max_length=20, unique=True, help_text="Short code, used in case references.")
    name = models.CharField(max_length=200)
    country = models.CharField(max_length=2, help_text="ISO 3166-1 alpha-2 country code.")
    timezone = models.CharField(max_length=64, default="UTC", validators=[_validate_timezone])
    # The language of its children and staff unless they choose another (settings.LANGUAGES), and
    # the others a child may choose (a number's or the chat's language, helpline.languages).
    default_language = models.CharField(max_length=16, default="en")
    languages = ArrayField(
        models.CharField(max_length=16),
        default=list,
        db_default=models.Value([], output_field=ArrayField(models.CharField(max_length=16))),
        blank=True,
    )
    # Its own wording of reference labels, per language: {"es": {"category.bullying": "Acoso"}}
    # (helpline.labels); what it names no one else sees.
    label_overrides = models.JSONField(
        default=dict, db_default=models.Value({}, output_field=models.JSONField()), blank=True
    )
    # Minutes until the next action is due, per case state and risk level; missing entries fall
    # back to cases.workflow.DEFAULT_DUE_MINUTES.
    due_policy = models.JSONField(default=dict, blank=True)
    # Closed cases are anonymised this many years after closure (personal fields erased;
    # categories, risk and timings kept for statistics; the audit trail kept).
    retention_years = models.PositiveSmallIntegerField(
        default=7, validators=[MinValueValidator(1), MaxValueValidator(100)]
    )
    # Web chat (helpline.chat_settings): weekly opening hours in `timezone` (null: always open),
    # and the texts a child is shown when a chat opens, per language (empty: the default texts,
    # channels_sms.texts).
    opening_hours = models.JSONField(null=True, blank=True, default=None, validators=[validate_opening_hours])
    chat_greeting = models.JSONField(default=dict, blank=True, validators=[validate_texts])
    out_of_hours_message = models.JSONField(default=dict, blank=True, validators=[validate_texts])
    is_active = models.BooleanField(default=True)
    # The team that receives the new intake cases nobody chose a team for (opened from an inbound
    # contact, or by staff naming no team or person); none: as before (the creator's team, or none).
    intake_team = models.ForeignKey("Team", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.code} — {self.name}"

    def save(self, *args, **kwargs):
        self.code = self.code.upper()
        super().save(*args, **kwargs)

    def clean(self) -> None:
        # Codes are compared upper-case: "demo" and "DEMO" are the same helpline.
        self.code = self.code.upper()

    @property
    def children_languages(self) -> list[str]:
        """The languages its children may be answered in: the default first, then the others."""
        return [self.default_language, *(code for code in self.languages if code != self.default_language)]


class Team(models.Model):
    """A group of a helpline's staff (a shift, a unit). A retired team (`is_active` false) keeps its
    cases and history but receives no new members or cases; an administrator may reactivate it."""

    helpline = models.ForeignKey(Helpline, on_delete=models.PROTECT, related_name="teams")
    name = models.CharField(max_length=100)
    is_active = models.BooleanField(default=True)
    retired_at = models.DateTimeField(null=True, blank=True)
    # Round-robin assignment of the new intake cases the team receives (off by default): each goes
    # to the next of the team's active operators after `last_assigned_to`, under the team's row lock.
    auto_assign = models.BooleanField(default=False)
    last_assigned_to = models.ForeignKey(
        "User", on_delete=models.SET_NULL, null=True, blank=True, related_name="+", editable=False
    )
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["helpline", "name"]
        constraints = [
            models.UniqueConstraint(fields=["helpline", "name"], name="team_unique_name_per_helpline")
        ]

    def __str__(self) -> str:
        return f"{self.helpline.code}/{self.name}"


class Role(models.TextChoices):
    OPERATOR = "operator", _("Operator")
    SUPERVISOR = "supervisor", _("Supervisor")
    AGENCY = "agency", _("Partner-agency user")
    ADMIN = "admin", _("Administrator")


class User(AbstractUser):
    """A person who signs in: helpline staff, or a partner agency's staff."""

    role = models.CharField(max_length=20, choices=Role.choices, default=Role.OPERATOR)
    helpline = models.ForeignKey(
        Helpline, on_delete=models.PROTECT, null=True, blank=True, related_name="users"
    )
    team = models.ForeignKey(Team, on_delete=models.PROTECT, null=True, blank=True, related_name="members")
    # The language of the user's notifications (and, later, console); "": their helpline's.
    language = models.CharField(max_length=16, blank=True, default="", db_default="")

    def clean(self) -> None:
        super().clean()
        if self.team_id and self.team.helpline_id != self.helpline_id:
            raise ValidationError({"team": _("The team belongs to another helpline.")})
        if self.role in (Role.OPERATOR, Role.SUPERVISOR, Role.AGENCY) and not self.helpline_id:
            raise ValidationError({"helpline": _("Helpline staff and agency users belong to a helpline.")})


class AuditOutcome(models.TextChoices):
    ALLOWED = "allowed", _("Allowed")
    DENIED = "denied", _("Denied")


class AuditEntry(models.Model):
    """One read or write of helpline data. Append-only: the database refuses UPDATE and DELETE.

    Entries form one hash chain per helpline (`chain` is the helpline id, 0 for entries that belong
    to no helpline): `hash = SHA-256(prev_hash || canonical entry)`, so altering, removing or
    reordering any entry breaks every hash after it (`manage.py verify_audit`)."""

    chain = models.BigIntegerField(default=0, editable=False)
    chain_seq = models.BigIntegerField(default=0, editable=False)
    prev_hash = models.CharField(max_length=64, editable=False, default="")
    hash = models.CharField(max_length=64, editable=False, default="")
    # The database transaction that wrote the entry: row history events of the same transaction
    # are accounted for by it (helpline.history).
    txid = models.BigIntegerField(null=True, blank=True, editable=False, db_index=True)
    at = models.DateTimeField(default=timezone.now, db_index=True)
    actor = models.ForeignKey(User, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    # Snapshots, so the entry stays meaningful if the user is later renamed or changes role.
    actor_username = models.CharField(max_length=150, blank=True)
    actor_role = models.CharField(max_length=20, blank=True)
    helpline = models.ForeignKey(Helpline, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    action = models.CharField(max_length=64, db_index=True)
    object_type = models.CharField(max_length=64)
    object_id = models.CharField(max_length=64, blank=True)
    # A plain column, not a foreign key: the audit record must outlive anything it describes.
    case_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    changes = models.JSONField(default=dict, blank=True)
    outcome = models.CharField(max_length=10, choices=AuditOutcome.choices, default=AuditOutcome.ALLOWED)
    request_id = models.CharField(max_length=64, blank=True)
    client_ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)
    extra = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["at", "id"]
        verbose_name_plural = "audit entries"
        indexes = [
            models.Index(fields=["actor", "at"]),
            models.Index(fields=["case_id", "at"]),
            # A person's entries, newest first as the audit list pages them (`-id`): the page's
            # need-to-know filter then runs for the rows of one page, not for all of theirs (bench).
            models.Index(fields=["actor", "id"], name="audit_entry_by_actor"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["chain", "chain_seq"], name="audit_entry_unique_chain_position"),
        ]
        triggers = [
            pgtrigger.Protect(name="audit_entry_append_only", operation=pgtrigger.Update | pgtrigger.Delete),
        ]

    def __str__(self) -> str:
        who = self.actor_username or "system"
        return f"{self.at:%Y-%m-%d %H:%M:%S} {who} {self.action} {self.object_type}:{self.object_id}"


class AuditChainHead(models.Model):
    """The newest entry of one audit chain. Its row lock serialises appends to the chain."""

    chain = models.BigIntegerField(primary_key=True)
    last_seq = models.BigIntegerField(default=0)
    last_hash = models.CharField(max_length=64, default="")

    def __str__(self) -> str:
        return f"chain {self.chain} at {self.last_seq}"


class ReconciledRowEvent(models.Model):
    """A row history event already written into the audit log as a change made outside the
    services, so it is reported once."""

    event_model = models.CharField(max_length=100)
    event_id = models.BigIntegerField()
    audit_entry = models.ForeignKey(AuditEntry, on_delete=models.PROTECT, related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["event_model", "event_id"], name="reconciled_row_event_once"),
        ]

    def __str__(self) -> str:
        return f"{self.event_model}:{self.event_id}"


class CaseKey(models.Model):
    """A case's own key for the free text its audit entries carry (a reason someone typed), so the
    entries stay in the hash chain, unchanged, while that text is erased with the case: anonymising
    the case deletes this key (crypto-shredding, helpline.crypto.seal). The key itself is stored
    under FIELD_ENCRYPTION_KEYS and rotates with them."""

    # A plain column, not a foreign key, like AuditEntry.case_id (this app sits below cases).
    case_id = models.BigIntegerField(primary_key=True)
    key = EncryptedCharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"key of case {self.case_id}"


class SignInChange(models.TextChoices):
    """Audit actions of changes to how a person signs in: flagged for review in the audit log and
    shown to the person (GET /api/v1/auth/security-events/)."""

    # A subset of AuditAction, with labels for the person: the values are its members'.
    PASSWORD_LINK = AuditAction.USER_PASSWORD_LINK.value, "Set-password link issued"
    PASSWORD_SET = AuditAction.USER_PASSWORD_SET.value, "Password set with a link"
    SECOND_FACTOR_RESET = AuditAction.USER_SECOND_FACTOR_RESET.value, "Authenticator reset"
    SECOND_FACTOR_ENROL = AuditAction.USER_SECOND_FACTOR_ENROL.value, "Authenticator enrolled"


class SetPasswordLink(models.Model):
    """A one-time link with which a person sets their own password: issued when an administrator
    creates them or asks for a reset, so no administrator ever sets or learns a password. Only a
    SHA-256 of the link's token is stored; the token is shown once, to be handed to the person."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="set_password_links")
    digest = models.CharField(max_length=64, unique=True, editable=False)
    issued_by = models.ForeignKey(User, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    # A newer link, or the password being set, ends the links issued before it.
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["user", "created_at"])]

    def __str__(self) -> str:
        return f"set-password link for user {self.user_id} ({self.created_at:%Y-%m-%d %H:%M})"
