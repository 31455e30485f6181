"""What each export holds: its columns, where each comes from, and what becomes of it when the
export is pseudonymised. The data dictionary is this table (`dictionary()`).

A column's personal-data tag is the model's own (`personal_data` on Case, Contact, Referral and
Message, helpline.vocabulary.PersonalData), never repeated here, so a field tagged in its model is
treated as such in every export. A pseudonymised export:
- leaves out every column tagged NAME, CONTACT_DETAIL, LOCATION, FREE_TEXT or IDENTIFIER;
- writes record ids (a case's, a contact's...) and IDENTIFIER_HASH columns (a phone number's keyed
  hash) as HMAC-SHA256 under EXPORT_PSEUDONYM_KEY: the same child's contacts and cases still join up
  across the files, and nobody without the key can map them back to the database;
- keeps codes, times and AGE.
A column built on an encrypted or hashed field that its model does not tag fails at import: an
untagged personal field cannot reach an export."""

from __future__ import annotations

import hmac
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from django.conf import settings
from django.db import models
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from cases.models import Case, Contact
from channels_sms.models import Message
from helpline.crypto import EncryptedFieldMixin
from helpline.vocabulary import PersonalData
from referrals.models import Referral

from ..models import ExportDataset

LEFT_OUT = frozenset(
    {
        PersonalData.NAME,
        PersonalData.CONTACT_DETAIL,
        PersonalData.LOCATION,
        PersonalData.FREE_TEXT,
        PersonalData.IDENTIFIER,
    }
)


class Kind(StrEnum):
    """A column's type in every format (Parquet's schema, the XLSX cell, JSON's value)."""

    TEXT = "text"
    INTEGER = "integer"
    BOOLEAN = "boolean"
    TIME = "time"  # on the helpline's clock, with its offset
    LIST = "list"  # of codes


class Pseudonymised(StrEnum):
    KEPT = "kept"
    REKEYED = "rekeyed"
    LEFT_OUT = "left_out"


@dataclass(frozen=True)
class Column:
    name: str
    source: str  # the queryset's values_list path
    kind: Kind
    description: Promise | str
    record: str = ""  # a record id's kind ("case", "contact", ...): re-keyed when pseudonymised
    tag: PersonalData | None = None  # filled from the model's own tags

    @property
    def pseudonymised(self) -> Pseudonymised:
        if self.record or self.tag is PersonalData.IDENTIFIER_HASH:
            return Pseudonymised.REKEYED
        return Pseudonymised.LEFT_OUT if self.tag in LEFT_OUT else Pseudonymised.KEPT


@dataclass(frozen=True)
class Dataset:
    name: ExportDataset
    model: type[models.Model]
    time_field: str  # what the period is of
    columns: tuple[Column, ...]

    def __post_init__(self) -> None:
        # Ids and hashes first: the CSV fast path (reports.exports.copy_csv) re-keys a line's
        # first fields without parsing the rest.
        kinds = [c.pseudonymised is Pseudonymised.REKEYED for c in self.columns]
        if kinds != sorted(kinds, reverse=True):
            raise TypeError(f"{self.name}: the re-keyed columns (ids, hashes) come first.")

    def columns_for(self, *, pseudonymised: bool) -> tuple[Column, ...]:
        if not pseudonymised:
            return self.columns
        return tuple(c for c in self.columns if c.pseudonymised is not Pseudonymised.LEFT_OUT)


def _field(model: type[models.Model], path: str) -> tuple[type[models.Model], models.Field]:
    *relations, name = path.split("__")
    for relation in relations:
        model = model._meta.get_field(relation).related_model
    return model, model._meta.get_field(name)


def _tagged(model: type[models.Model], columns: list[Column]) -> tuple[Column, ...]:
    """The columns with their model's tags; an encrypted or hashed field without one is refused."""
    tagged = []
    for column in columns:
        owner, field = _field(model, column.source)
        tag = getattr(owner, "personal_data", {}).get(field.name)
        untagged = tag is None and not column.record
        if untagged and (isinstance(field, EncryptedFieldMixin) or field.name.endswith("_hash")):
            raise TypeError(
                f"{owner.__name__}.{field.name} holds personal data but has no personal_data tag."
            )
        tagged.append(Column(**{**column.__dict__, "tag": tag}))
    return tuple(tagged)


def _c(name: str, kind: Kind, description: Promise | str, source: str = "", record: str = "") -> Column:
    return Column(name=name, source=source or name, kind=kind, description=description, record=record)


T, INT, B, TM, L = Kind.TEXT, Kind.INTEGER, Kind.BOOLEAN, Kind.TIME, Kind.LIST

CASES = Dataset(
    ExportDataset.CASES,
    Case,
    "created_at",
    _tagged(
        Case,
        [
            _c("case_id", T, _("The case (pseudonymised: a keyed hash)."), "id", record="case"),
            _c(
                "reporter_number",
                T,
                _("The reporter's number (pseudonymised: a keyed hash, to count repeat contacters)."),
                "reporter_phone_hash",
            ),
            _c("reference", T, _("The case's reference.")),
            _c("state", T, _("Where the case is in the workflow.")),
            _c("risk_level", T, _("The assessed risk level.")),
            _c("categories", L, _("The case's categories (codes).")),
            _c("child_age", INT, _("The child's age in years, if known.")),
            _c("child_age_range", T, _("The child's age range.")),
            _c("child_gender", T, _("The child's gender.")),
            _c("child_language", T, _("The child's language.")),
            _c("vulnerability_flags", L, _("The child's vulnerabilities (codes).")),
            _c("reporter_relation", T, _("Who reported: the child, a parent, a teacher...")),
            _c("team", T, _("The team the case belongs to."), "team__name"),
            _c("restricted", B, _("Need-to-know case.")),
            _c("created_at", TM, _("When the case was opened.")),
            _c("closed_at", TM, _("When the case was closed.")),
            _c("next_action_due_at", TM, _("When its next action is due.")),
            _c("overdue_since", TM, _("Since when it is overdue.")),
            _c("anonymised_at", TM, _("When retention anonymised it.")),
            _c("child_first_name", T, _("The child's first name.")),
            _c("child_area", T, _("The child's area.")),
            _c("child_location", T, _("Where the child is.")),
            _c("child_details_note", T, _("Notes about the child.")),
            _c("safe_contact", T, _("How to reach the child safely.")),
            _c("reporter_name", T, _("The reporter's name.")),
            _c("reporter_phone", T, _("The reporter's phone number.")),
            _c("closure_reason", T, _("Why the case was closed.")),
        ],
    ),
)

CONTACTS = Dataset(
    ExportDataset.CONTACTS,
    Contact,
    "started_at",
    _tagged(
        Contact,
        [
            _c("contact_id", T, _("The contact (pseudonymised: a keyed hash)."), "id", record="contact"),
            _c("case_id", T, _("Its case, if any (pseudonymised: a keyed hash)."), "case_id", record="case"),
            _c("channel", T, _("Phone, SMS, WhatsApp, web chat, walk-in...")),
            _c("direction", T, _("Inbound or outbound.")),
            _c("call_type", T, _("The contact's type (counselling, information, silent...).")),
            _c("language", T, _("The contact's language.")),
            _c("started_at", TM, _("When it started.")),
            _c("ended_at", TM, _("When it ended.")),
            _c("summary", T, _("The counsellor's summary.")),
        ],
    ),
)

REFERRALS = Dataset(
    ExportDataset.REFERRALS,
    Referral,
    "created_at",
    _tagged(
        Referral,
        [
            _c("referral_id", T, _("The referral (pseudonymised: a keyed hash)."), "id", record="referral"),
            _c("case_id", T, _("Its case (pseudonymised: a keyed hash)."), "case_id", record="case"),
            _c("agency", T, _("The partner agency."), "agency__name"),
            _c("agency_sector", T, _("The agency's sector."), "agency__sector"),
            _c("service_type", T, _("The service asked for.")),
            _c("urgency", T, _("How urgent.")),
            _c("state", T, _("Where the referral is.")),
            _c("consent_basis", T, _("The consent it was sent under.")),
            _c("created_at", TM, _("When it was made.")),
            _c("sent_at", TM, _("When it was sent.")),
            _c("respond_by", TM, _("When the agency had to answer by.")),
            _c("responded_at", TM, _("When the agency answered.")),
            _c("closed_at", TM, _("When it was closed.")),
            _c("outcome", T, _("The agency's outcome.")),
            _c("reason", T, _("Why the child was referred.")),
            _c("summary", T, _("The referral's summary.")),
            _c("rejection_reason", T, _("Why the agency refused it.")),
            _c("outcome_note", T, _("The agency's note on the outcome.")),
        ],
    ),
)

MESSAGES = Dataset(
    ExportDataset.MESSAGES,
    Message,
    "at",
    _tagged(
        Message,
        [
            _c("message_id", T, _("The message (pseudonymised: a keyed hash)."), "id", record="message"),
            _c(
                "contact_id",
                T,
                _("Its contact (pseudonymised: a keyed hash)."),
                "contact_id",
                record="contact",
            ),
            _c(
                "case_id",
                T,
                _("Its contact's case (pseudonymised: a keyed hash)."),
                "contact__case_id",
                record="case",
            ),
            _c("sender", T, _("Who wrote it (pseudonymised: a keyed hash)."), "sender_hash"),
            _c("channel", T, _("SMS, WhatsApp or web chat.")),
            _c("direction", T, _("Inbound or outbound.")),
            _c("kind", T, _("A message, or an event of the conversation.")),
            _c("at", TM, _("When it was written.")),
            _c("status", T, _("An outbound message's delivery status.")),
            _c("body", T, _("What was written.")),
        ],
    ),
)

DATASETS: dict[str, Dataset] = {d.name: d for d in (CASES, CONTACTS, REFERRALS, MESSAGES)}


def pseudonym_key() -> bytes:
    configured = settings.EXPORT_PSEUDONYM_KEY
    if configured:
        return configured.encode()
    # Derived, not the identifier key itself: an export's hashes are never the database's.
    return hmac.digest(settings.IDENTIFIER_HASH_KEY.encode(), b"lifeline export pseudonyms", "sha256")


def pseudonym_function(column: Column) -> Callable[[bytes], bytes]:
    """A column's pseudonym of a value's text: HMAC-SHA256 under the pseudonym key, of the value
    prefixed by what it is (a case's id and a contact's id of one number differ), 20 hex
    characters (80 bits: no collision among a national helpline's billions of rows)."""
    key, prefix = pseudonym_key(), (column.record or "number").encode() + b":"
    digest = hmac.digest

    def pseudonym(value: bytes) -> bytes:
        return digest(key, prefix + value, "sha256").hex()[:20].encode()

    return pseudonym


def row_function(columns: tuple[Column, ...], *, pseudonymised: bool) -> Callable[[tuple], tuple]:
    """What turns a values_list row into the export's row: record ids as text (re-keyed if
    pseudonymised), phone hashes re-keyed always (the database's own hashes never leave it)."""
    steps = []
    for i, column in enumerate(columns):
        if column.pseudonymised is not Pseudonymised.REKEYED:
            continue
        if column.record and not pseudonymised:
            steps.append((i, str))  # a full export's ids are the records' own, as text
        else:
            pseudonym = pseudonym_function(column)
            steps.append((i, lambda value, pseudonym=pseudonym: pseudonym(str(value).encode()).decode()))

    def row_of(row: tuple) -> tuple:
        values = list(row)
        for i, turn in steps:
            if values[i] is not None and values[i] != "":
                values[i] = turn(values[i])
        return tuple(values)

    return row_of


def dictionary() -> list[dict[str, Any]]:
    """The data dictionary: every dataset's columns, with their personal-data tags and what a
    pseudonymised export does with each."""
    return [
        {
            "dataset": dataset.name,
            "columns": [
                {
                    "name": c.name,
                    "type": c.kind.value,
                    "description": str(c.description),
                    "personal_data": c.tag.value if c.tag else "",
                    "pseudonymised": c.pseudonymised.value,
                }
                for c in dataset.columns
            ],
        }
        for dataset in DATASETS.values()
    ]
