"""Retention: a closed case past its helpline's retention period loses its personal data for good.

The apps above cases (referrals, conversations) keep personal data about a case too; each erases
its own through an eraser it registers here (`register_erasure`), so cases imports none of them.
A system check (`erasure_check`) refuses to start when an app whose rows point at a case or a
contact has registered none: a forgotten registration must not quietly erase less."""

from collections.abc import Callable
from datetime import datetime
from typing import Any

import pgtrigger
from django.apps import apps
from django.contrib.postgres.fields import ArrayField
from django.core import checks
from django.core.exceptions import ImproperlyConfigured
from django.db import models, transaction
from django.db.models import Q
from django.utils import timezone

from helpline import crypto
from helpline.audit import REDACTED, audit_record
from helpline.models import Helpline
from helpline.vocabulary import AuditAction

from ..models import (
    CASE_IDENTIFIER_HASH_FIELDS,
    CASE_PERSONAL_FIELDS,
    Case,
    CaseAccess,
    Contact,
    Escalation,
    Note,
)
from ..workflow import CaseState

# An eraser blanks its app's personal data about one case and returns how many rows it erased.
Eraser = Callable[[Case], int]

# name -> (app label, eraser). The name gives the key of the count in the audit entry
# ("<name>_erased"); erasers run in the order of their names, whatever the order of the apps.
_ERASERS: dict[str, tuple[str, Eraser]] = {}
# Counted by case_anonymise itself.
_OWN_NAMES = frozenset({"contacts", "notes"})


def register_erasure(name: str, eraser: Eraser) -> None:
    """Registers an app's eraser (call it from the app's AppConfig.ready). Registering the same
    eraser again is harmless; another one under a taken name is a configuration error."""
    app = apps.get_containing_app_config(eraser.__module__)
    if app is None:
        raise ImproperlyConfigured(f"The eraser {eraser.__qualname__} is not in an installed app.")
    if name in _OWN_NAMES or (name in _ERASERS and _ERASERS[name][1] is not eraser):
        raise ImproperlyConfigured(f"An eraser named {name!r} is already registered.")
    _ERASERS[name] = (app.label, eraser)


def registered_erasures() -> dict[str, str]:
    """The registered erasers' names and the apps they belong to."""
    return {name: app_label for name, (app_label, _) in sorted(_ERASERS.items())}


def erasure_check(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """Every app with rows pointing at a case or a contact must have registered an eraser."""
    case_models = {Case, Contact}
    covered = {"cases", *registered_erasures().values()}
    errors = []
    for model in apps.get_models():
        if model._meta.app_label in covered:
            continue
        pointing = [
            f.name
            for f in model._meta.concrete_fields
            if isinstance(f, models.ForeignKey) and f.related_model in case_models
        ]
        if pointing:
            errors.append(
                checks.Error(
                    f"{model._meta.label} points at cases ({', '.join(pointing)}) but its app registered "
                    "no eraser, so anonymising a case would leave its personal data there.",
                    hint="Call cases.services.retention.register_erasure in the app's AppConfig.ready().",
                    obj=model,
                    id="cases.E001",
                )
            )
    return errors


def _erased(field) -> Any:
    if isinstance(field, ArrayField):
        return []  # the search index: an anonymised case is found by nobody
    return None if field.null else ""


def case_anonymise(*, case: Case, now: datetime | None = None) -> bool:
    """Erases a closed case's personal data for good: child and reporter identifiers, contact
    summaries, note bodies and every reason typed about it (in its rows, and sealed in its audit
    entries by deleting the case's key). Categories, risk, states and timings stay for statistics; the
    audit trail stays, so its chain still verifies. Returns False if there was nothing to do."""
    now = now or timezone.now()
    with transaction.atomic():
        locked = Case.objects.select_for_update(of=("self",)).get(pk=case.pk)
        if locked.anonymised_at is not None or locked.state != CaseState.CLOSED:
            return False
        erased = sorted(
            name for name in CASE_PERSONAL_FIELDS | CASE_IDENTIFIER_HASH_FIELDS if hasattr(locked, name)
        )
        for name in erased:
            setattr(locked, name, _erased(Case._meta.get_field(name)))
        locked.anonymised_at = now
        locked.save()
        contacts = Contact.objects.filter(case=locked).update(summary="")
        # Notes are append-only for people; erasing them at the end of retention is the one
        # sanctioned exception, so only this statement lifts the trigger.
        with pgtrigger.ignore("cases.Note:note_append_only"):
            notes = Note.objects.filter(case=locked).update(body="")
        # Reasons typed for access and the escalations quoting agencies' reasons.
        CaseAccess.objects.filter(case=locked).update(reason="")
        Escalation.objects.filter(case=locked).update(detail="")
        # What the apps above keep about the case (referrals, conversations), each its own.
        erased_elsewhere = {
            f"{name}_erased": eraser(locked) for name, (_, eraser) in sorted(_ERASERS.items())
        }
        # The reasons sealed into the case's audit entries can no longer be opened by anyone.
        key_shredded = crypto.shred(case_id=locked.pk)
        audit_record(
            actor=None,
            action=AuditAction.CASE_ANONYMISE,
            obj=locked,
            case_id=locked.pk,
            helpline=locked.helpline_id,
            changes={name: {"before": REDACTED, "after": None} for name in erased},
            extra={
                "contacts_erased": contacts,
                "notes_erased": notes,
                **erased_elsewhere,
                "audit_key_shredded": key_shredded,
                "retention_years": locked.helpline.retention_years,
            },
        )
    return True


def anonymise_expired_cases(*, now: datetime | None = None) -> int:
    """Anonymises every closed case past its helpline's retention period. Idempotent. A case merged
    into another waits for that one (its notes and contacts are read through it); the first run
    after the survivor's anonymisation erases it."""
    now = now or timezone.now()
    done = 0
    for helpline in Helpline.objects.all():
        cutoff = _years_before(now, helpline.retention_years)
        # A case merged into another is read through it: erased with it, not before it.
        expired = (
            Case.objects.filter(
                helpline=helpline, state=CaseState.CLOSED, anonymised_at__isnull=True, closed_at__lt=cutoff
            )
            .filter(Q(merged_into__isnull=True) | Q(merged_into__anonymised_at__isnull=False))
            .values_list("pk", flat=True)
        )
        for case_id in list(expired):
            done += case_anonymise(case=Case(pk=case_id), now=now)
    return done


def _years_before(moment: datetime, years: int) -> datetime:
    try:
        return moment.replace(year=moment.year - years)
    except ValueError:  # 29 February
        return moment.replace(year=moment.year - years, day=28)
