"""Cases, the contacts that land in them, notes, and escalations of overdue cases."""

from datetime import UTC, datetime

import pgtrigger
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator
from django.db import models
from django.db.models.functions import Coalesce
from django.utils.translation import gettext_lazy as _
from django_fsm import FSMField, FSMModelMixin

from helpline.crypto import EncryptedCharField, EncryptedTextField
from helpline.history import tracked
from helpline.vocabulary import PersonalData as P

from .workflow import EDGES, RISK_RANK, CallType, CaseState, CaseWorkflow, RiskLevel

# Where a case without a next action sorts among due dates: after every real one (a sentinel, not
# NULL, so that a keyset cursor compares plain values and an index orders them).
NO_DUE_DATE = datetime(9999, 12, 31, tzinfo=UTC)


class AgeRange(models.TextChoices):
    UNDER_5 = "0-4", _("0 to 4")
    AGE_5_9 = "5-9", _("5 to 9")
    AGE_10_13 = "10-13", _("10 to 13")
    AGE_14_17 = "14-17", _("14 to 17")
    AGE_18_PLUS = "18+", _("18 or older")
    UNKNOWN = "unknown", _("Unknown")


class Gender(models.TextChoices):
    GIRL = "girl", _("Girl")
    BOY = "boy", _("Boy")
    NON_BINARY = "non_binary", _("Non-binary")
    UNKNOWN = "unknown", _("Unknown")


class VulnerabilityFlag(models.TextChoices):
    CHILD_ON_THE_MOVE = "child_on_the_move", _("Child on the move")
    DISABILITY = "disability", _("Child with a disability")
    OUT_OF_SCHOOL = "out_of_school", _("Out of school")
    STREET_CONNECTED = "street_connected", _("Street-connected")
    IN_ALTERNATIVE_CARE = "in_alternative_care", _("In alternative care")
    CHILD_HEADED_HOUSEHOLD = "child_headed_household", _("Child-headed household")
    ORPHAN = "orphan", _("Orphan")
    PREGNANT = "pregnant", _("Pregnant or a young parent")
    LGBTQI = "lgbtqi", _("LGBTQI+")


class ReporterRelation(models.TextChoices):
    CHILD_SELF = "child_self", _("The child themself")
    PARENT_OR_CAREGIVER = "parent_or_caregiver", _("Parent or caregiver")
    OTHER_FAMILY = "other_family", _("Other family member")
    FRIEND_OR_PEER = "friend_or_peer", _("Friend or peer")
    PROFESSIONAL = "professional", _("Teacher or other professional")
    OTHER_ADULT = "other_adult", _("Other adult")
    UNKNOWN = "unknown", _("Unknown")


class Channel(models.TextChoices):
    VOICE = "voice", _("Voice")
    # Translators: same in every language: the name of a channel.
    SMS = "sms", _("SMS")
    # Translators: same in every language: the name of a channel.
    WHATSAPP = "whatsapp", _("WhatsApp")
    CHAT = "chat", _("Web chat")
    WALK_IN = "walk_in", _("Walk-in")
    EMAIL = "email", _("Email")
    OTHER = "other", _("Other")


class Direction(models.TextChoices):
    INBOUND = "inbound", _("Inbound")
    OUTBOUND = "outbound", _("Outbound")


class Category(models.Model):
    """A helpline's reason-for-contact category (loaded from the default list, then adjustable).
    Cases store the codes, so renaming a label never rewrites history."""

    helpline = models.ForeignKey("helpline.Helpline", on_delete=models.PROTECT, related_name="categories")
    code = models.SlugField(max_length=64)
    label = models.CharField(max_length=200)
    parent_code = models.SlugField(max_length=64, blank=True)
    is_hidden = models.BooleanField(default=False)
    sort_order = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["helpline", "sort_order"]
        verbose_name_plural = "categories"
        constraints = [
            models.UniqueConstraint(fields=["helpline", "code"], name="category_unique_code_per_helpline")
        ]

    def __str__(self) -> str:
        return self.code


class CaseReferenceCounter(models.Model):
    """Hands out the yearly sequence behind human case references (DEMO-2026-000042)."""

    helpline = models.ForeignKey("helpline.Helpline", on_delete=models.PROTECT, related_name="+")
    year = models.PositiveSmallIntegerField()
    last_value = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["helpline", "year"], name="case_counter_unique_year")]

    def __str__(self) -> str:
        return f"{self.helpline_id}/{self.year}: {self.last_value}"


# Fields whose values are personal data: the audit log records that they changed, never the values.
CASE_PERSONAL_FIELDS = frozenset(
    {
        "child_first_name",
        "child_age",
        "child_location",
        "child_details_note",
        "safe_contact",
        "reporter_name",
        "reporter_phone",
        "closure_reason",
    }
)
# Keyed hashes of identifiers: not personal data in clear, but erased with it at anonymisation
# (search_tokens: the blind index of names, number and reference, cases/search.py).
CASE_IDENTIFIER_HASH_FIELDS = frozenset({"reporter_phone_hash", "search_tokens"})


@tracked(personal=CASE_PERSONAL_FIELDS | CASE_IDENTIFIER_HASH_FIELDS)
class Case(FSMModelMixin, CaseWorkflow):
    # What each personal field holds (helpline.vocabulary.PersonalData): exports leave out or
    # re-key them by these tags (reports.exports).
    personal_data = {
        "reference": P.IDENTIFIER,
        "child_first_name": P.NAME,
        "child_age": P.AGE,
        "child_area": P.LOCATION,
        "child_location": P.LOCATION,
        "child_details_note": P.FREE_TEXT,
        "safe_contact": P.CONTACT_DETAIL,
        "reporter_name": P.NAME,
        "reporter_phone": P.CONTACT_DETAIL,
        "reporter_phone_hash": P.IDENTIFIER_HASH,
        "search_tokens": P.IDENTIFIER_HASH,
        "closure_reason": P.FREE_TEXT,
    }
    helpline = models.ForeignKey("helpline.Helpline", on_delete=models.PROTECT, related_name="cases")
    reference = models.CharField(max_length=40, editable=False)
    state = FSMField(default=CaseState.INTAKE, choices=CaseState.choices, protected=True, db_index=True)
    risk_level = models.CharField(max_length=12, choices=RiskLevel.choices, default=RiskLevel.UNASSESSED)
    categories = ArrayField(models.SlugField(max_length=64), default=list, blank=True)

    child_first_name = EncryptedCharField(max_length=100, blank=True)
    child_age = models.PositiveSmallIntegerField(null=True, blank=True, validators=[MaxValueValidator(25)])
    child_age_range = models.CharField(max_length=10, choices=AgeRange.choices, default=AgeRange.UNKNOWN)
    child_gender = models.CharField(max_length=12, choices=Gender.choices, default=Gender.UNKNOWN)
    # The district or town (what most agencies need); the precise place is child_location.
    child_area = models.CharField(max_length=100, blank=True)
    child_location = EncryptedCharField(max_length=200, blank=True)
    child_language = models.CharField(max_length=16, blank=True)
    child_details_note = EncryptedTextField(blank=True)
    vulnerability_flags = ArrayField(
        models.CharField(max_length=32, choices=VulnerabilityFlag.choices), default=list, blank=True
    )
    # How an agency can reach the child without putting them at risk (times, who may answer...).
    safe_contact = EncryptedTextField(blank=True)
    reporter_relation = models.CharField(
        max_length=24, choices=ReporterRelation.choices, default=ReporterRelation.UNKNOWN
    )
    reporter_name = EncryptedCharField(max_length=200, blank=True)
    # E.164, encrypted; the keyed hash beside it finds other cases from the same number.
    reporter_phone = EncryptedCharField(max_length=32, blank=True)
    reporter_phone_hash = models.CharField(max_length=64, blank=True, editable=False, db_index=True)
    # Keyed 64-bit hashes of the names' normalised prefixes, the number and the reference: what
    # `?q=` searches (cases/search.py), kept by the services, emptied at anonymisation.
    search_tokens = ArrayField(
        models.BigIntegerField(),
        default=list,
        db_default=models.Value([], output_field=ArrayField(models.BigIntegerField())),
        blank=True,
        editable=False,
    )

    assigned_to = models.ForeignKey(
        "helpline.User", on_delete=models.PROTECT, null=True, blank=True, related_name="assigned_cases"
    )
    team = models.ForeignKey(
        "helpline.Team", on_delete=models.PROTECT, null=True, blank=True, related_name="cases"
    )
    state_changed_at = models.DateTimeField(null=True, blank=True)
    next_action_due_at = models.DateTimeField(null=True, blank=True, db_index=True)
    overdue_since = models.DateTimeField(null=True, blank=True)
    restricted = models.BooleanField(default=False)
    closure_reason = EncryptedCharField(max_length=500, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    anonymised_at = models.DateTimeField(null=True, blank=True)
    # A duplicate merged into another case by a supervisor (cases.services.case_merge): closed for
    # good, its contacts, notes and history kept where they are and read through the survivor.
    merged_into = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="merged_cases"
    )

    created_by = models.ForeignKey(
        "helpline.User", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    # Sort keys of the queue orders (cases.selectors.CASE_ORDERINGS), computed by PostgreSQL: the
    # risk level's rank, 0 (critical) first; the next action's due date, NO_DUE_DATE when none.
    risk_rank = models.GeneratedField(
        expression=models.Case(
            *(models.When(risk_level=level.value, then=models.Value(n)) for level, n in RISK_RANK.items()),
            default=models.Value(len(RISK_RANK)),
            output_field=models.SmallIntegerField(),
        ),
        output_field=models.SmallIntegerField(),
        db_persist=True,
    )
    next_action_due_sort = models.GeneratedField(
        expression=Coalesce("next_action_due_at", models.Value(NO_DUE_DATE)),
        output_field=models.DateTimeField(),
        db_persist=True,
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(merged_into__isnull=True)
                | (models.Q(state=CaseState.CLOSED) & ~models.Q(merged_into=models.F("pk"))),
                name="case_merged_only_when_closed_and_not_into_itself",
            ),
            models.UniqueConstraint(
                fields=["helpline", "reference"], name="case_unique_reference_per_helpline"
            ),
            models.CheckConstraint(
                condition=models.Q(state=CaseState.CLOSED) | models.Q(closed_at__isnull=True),
                name="case_closed_at_only_when_closed",
            ),
        ]
        indexes = [
            models.Index(fields=["helpline", "state", "next_action_due_at"]),
            # The queues: a state's cases of a helpline in arrival order, without sorting them all.
            models.Index(fields=["helpline", "state", "created_at"], name="case_queue_by_arrival"),
            # Search (`?q=`): every case holding all of the query's hashes, without reading them all.
            GinIndex(fields=["search_tokens"], name="case_search_tokens"),
            # The queues in urgency order and by due date, walked a page at a time by their keyset
            # cursors (helpline.api.pagination.KeysetPagination): every sort key, the id last.
            models.Index(
                fields=["helpline", "state", "risk_rank", "next_action_due_sort", "created_at", "id"],
                name="case_queue_by_urgency",
            ),
            models.Index(
                fields=["helpline", "state", "next_action_due_sort", "id"], name="case_queue_by_due"
            ),
            # The console's queue: every open case in urgency order, walked until a page of the
            # ones the person may see (the states one by one would each sort all their rows).
            models.Index(
                fields=["helpline", "risk_rank", "next_action_due_sort", "created_at", "id"],
                condition=~models.Q(state="closed"),
                name="case_open_by_urgency",
            ),
            # The reports' case roll-up (reports.rollups) recounts a helpline's day: the cases
            # opened and the cases closed on it.
            models.Index(fields=["helpline", "created_at"], name="case_by_helpline_created"),
            models.Index(
                fields=["helpline", "closed_at"],
                condition=models.Q(closed_at__isnull=False),
                name="case_by_helpline_closed",
            ),
        ]
        permissions = [("view_reporter_phone", "Can see reporters' phone numbers unmasked")]
        triggers = [
            # Even raw SQL cannot move a case along an edge the workflow does not have.
            pgtrigger.FSM(
                name="case_state_edges", field="state", transitions=[(a.value, b.value) for a, b in EDGES]
            ),
        ]

    def __str__(self) -> str:
        return self.reference


class CaseLinkKind(models.TextChoices):
    SIBLING = "sibling", _("Sibling")
    SAME_FAMILY = "same_family", _("Same family")
    SAME_INCIDENT = "same_incident", _("Same incident")
    POSSIBLE_DUPLICATE = "possible_duplicate", _("Possible duplicate")


@tracked()
class CaseLink(models.Model):
    """Two cases of one helpline that belong together (siblings, one family, one incident, or
    perhaps the same child twice). Symmetric: stored once, the lower case id first, whichever side
    linked them. A removal is recorded (removed_at/by), never deleted; a removed link may be made
    again. No free text: nothing personal is stored here."""

    helpline = models.ForeignKey("helpline.Helpline", on_delete=models.PROTECT, related_name="+")
    case_low = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="+")
    case_high = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=24, choices=CaseLinkKind.choices)
    created_by = models.ForeignKey("helpline.User", on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    removed_by = models.ForeignKey(
        "helpline.User", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    removed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            # The pair in one order: symmetric by construction, and never a case to itself.
            models.CheckConstraint(
                condition=models.Q(case_low__lt=models.F("case_high")), name="case_link_ordered_pair"
            ),
            models.UniqueConstraint(
                fields=["case_low", "case_high", "kind"],
                condition=models.Q(removed_at__isnull=True),
                name="case_link_once_per_pair_and_kind",
            ),
            models.CheckConstraint(
                condition=models.Q(removed_at__isnull=True) | models.Q(removed_by__isnull=False),
                name="case_link_removal_names_who",
            ),
        ]
        indexes = [models.Index(fields=["case_high", "case_low"], name="case_link_by_high")]
        # A removal is recorded on the row; the row itself stays.
        triggers = [pgtrigger.Protect(name="case_link_never_deleted", operation=pgtrigger.Delete)]

    def __str__(self) -> str:
        return f"{self.kind} link {self.case_low_id}-{self.case_high_id}"


CONTACT_PERSONAL_FIELDS = frozenset({"summary"})


@tracked(personal=CONTACT_PERSONAL_FIELDS)
class Contact(models.Model):
    """One interaction (a call, a conversation, a walk-in visit), in at most one case."""

    personal_data = {"summary": P.FREE_TEXT}  # helpline.vocabulary.PersonalData

    helpline = models.ForeignKey("helpline.Helpline", on_delete=models.PROTECT, related_name="contacts")
    case = models.ForeignKey(Case, on_delete=models.PROTECT, null=True, blank=True, related_name="contacts")
    channel = models.CharField(max_length=12, choices=Channel.choices)
    direction = models.CharField(max_length=10, choices=Direction.choices, default=Direction.INBOUND)
    call_type = models.CharField(max_length=24, choices=CallType.choices, blank=True)
    # The contact's language: its number's (else its helpline's default) or the web chat's; "" for
    # contacts recorded by staff. Reported on (issue #16).
    language = models.CharField(max_length=16, blank=True, default="", db_default="")
    summary = EncryptedTextField(blank=True)
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        "helpline.User", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(ended_at__isnull=True) | models.Q(ended_at__gte=models.F("started_at")),
                name="contact_ends_after_start",
            ),
        ]
        # A helpline's contacts in a period: what the roll-ups recount an hour from (reports.rollups).
        indexes = [models.Index(fields=["helpline", "started_at"], name="contact_by_helpline_started")]

    def __str__(self) -> str:
        return f"{self.channel} contact {self.pk}"

    def clean(self) -> None:
        if self.ended_at and self.started_at and self.ended_at < self.started_at:
            raise ValidationError({"ended_at": _("A contact cannot end before it started.")})


@tracked(personal={"body"})
class Note(models.Model):
    """A case note. Notes are never edited or deleted: a correction is a new note."""

    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="notes")
    author = models.ForeignKey("helpline.User", on_delete=models.PROTECT, related_name="+")
    body = EncryptedTextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        triggers = [pgtrigger.Protect(name="note_append_only", operation=pgtrigger.Update | pgtrigger.Delete)]

    def __str__(self) -> str:
        return f"Note {self.pk} on case {self.case_id}"


class EscalationKind(models.TextChoices):
    OVERDUE = "overdue", _("The case's next action is overdue")
    REFERRAL_EXPIRED = "referral_expired", _("A referral expired unanswered")
    REFERRAL_REJECTED = "referral_rejected", _("An agency rejected a referral: refer elsewhere")
    EMERGENCY_REFERRAL = "emergency_referral", _("Emergency referral sent without consent")
    DELIVERY_FAILED = "delivery_failed", _("An agency could not be notified")
    STORED_LATE = (
        "stored_late",
        _("Messages arrived while the database was away and were stored late"),
    )


class Escalation(models.Model):
    """Something on a case that needs a person now, raised to whoever can see the case (the team's
    supervisors above all): a missed due date, or a referral expired, rejected, sent in an
    emergency without consent, or not delivered to the agency."""

    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="escalations")
    kind = models.CharField(max_length=24, choices=EscalationKind.choices, default=EscalationKind.OVERDUE)
    referral = models.ForeignKey(
        "referrals.Referral", on_delete=models.PROTECT, null=True, blank=True, related_name="escalations"
    )
    # Can quote what people typed (an agency's rejection reason): encrypted, erased with the case.
    detail = EncryptedCharField(max_length=500, blank=True)
    helpline = models.ForeignKey("helpline.Helpline", on_delete=models.PROTECT, related_name="+")
    team = models.ForeignKey(
        "helpline.Team", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    due_at = models.DateTimeField()
    state = models.CharField(max_length=12, choices=CaseState.choices)
    risk_level = models.CharField(max_length=12, choices=RiskLevel.choices)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    acknowledged_by = models.ForeignKey(
        "helpline.User", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    acknowledged_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # One escalation per missed due date, however often the sweep runs; one per referral
            # event.
            models.UniqueConstraint(
                fields=["case", "due_at"],
                condition=models.Q(kind="overdue"),
                name="escalation_once_per_due_date",
            ),
            models.UniqueConstraint(
                fields=["referral", "kind"],
                condition=models.Q(referral__isnull=False) & ~models.Q(kind="delivery_failed"),
                name="escalation_once_per_referral_event",
            ),
        ]

    def __str__(self) -> str:
        return f"Escalation of case {self.case_id} due {self.due_at:%Y-%m-%d %H:%M}"


class AccessKind(models.TextChoices):
    NEED_TO_KNOW = "need_to_know", _("Need-to-know list of a restricted case")
    BREAK_GLASS = "break_glass", _("Break-glass emergency access")


@tracked(personal={"reason"})
class CaseAccess(models.Model):
    """Who may open a restricted case: its need-to-know list, and time-limited break-glass grants
    (which stay listed for supervisors to review)."""

    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="access_grants")
    user = models.ForeignKey("helpline.User", on_delete=models.PROTECT, related_name="case_access")
    kind = models.CharField(max_length=16, choices=AccessKind.choices)
    reason = EncryptedCharField(max_length=500, blank=True)
    granted_by = models.ForeignKey("helpline.User", on_delete=models.PROTECT, related_name="+")
    granted_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    reviewed_by = models.ForeignKey(
        "helpline.User", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-granted_at", "-id"]
        indexes = [models.Index(fields=["case", "user", "kind"])]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(kind="break_glass") | models.Q(expires_at__isnull=False),
                name="case_access_break_glass_expires",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} access to case {self.case_id} for user {self.user_id}"
