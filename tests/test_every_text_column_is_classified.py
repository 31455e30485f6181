"""Every text column of our models is encrypted, a code, or declared non-personal with a reason
(helpline/clear_columns.py), so a new free-text field cannot slip into the database in clear."""

from django.apps import apps
from django.contrib.postgres.fields import ArrayField
from django.db import models

from helpline.clear_columns import CLEAR_COLUMNS
from helpline.crypto import EncryptedFieldMixin

OUR_APPS = ("helpline", "cases", "referrals", "channels_sms")
# pghistory's own columns of an event table: the event's kind ("insert", "update", "delete").
HISTORY_CODES = {"pgh_label"}


def text_columns():
    """(model, field, label it is judged by) for every text column of our apps' models; a row
    history event table's columns are judged as the tracked model's."""
    for app in OUR_APPS:
        for model in apps.get_app_config(app).get_models():
            tracked = getattr(model, "pgh_tracked_model", None)
            for field in model._meta.concrete_fields:
                base = field.base_field if isinstance(field, ArrayField) else field
                if not isinstance(base, models.CharField | models.TextField | models.JSONField):
                    continue
                if tracked is not None and field.name in HISTORY_CODES:
                    continue
                judged = tracked or model
                yield model, field, f"{judged._meta.label}.{field.name}"


def is_code(field) -> bool:
    base = field.base_field if isinstance(field, ArrayField) else field
    return bool(base.choices)


def test_every_text_column_is_encrypted_a_code_or_declared_non_personal():
    unclassified = [
        f"{model._meta.label}.{field.name}"
        for model, field, label in text_columns()
        if not isinstance(field, EncryptedFieldMixin) and not is_code(field) and label not in CLEAR_COLUMNS
    ]
    assert not unclassified, (
        "Text columns stored in clear without a reason: encrypt them (helpline.crypto), give them "
        f"choices, or declare them in helpline/clear_columns.py: {unclassified}"
    )


def test_row_history_copies_no_encrypted_column():
    """History tables are append-only and outlive anonymisation: what is encrypted (and erased
    with the case) must be left out of them (helpline.history.tracked's `personal`)."""
    copied = [
        f"{model._meta.label}.{field.name}"
        for model, field, _ in text_columns()
        if getattr(model, "pgh_tracked_model", None) and isinstance(field, EncryptedFieldMixin)
    ]
    assert not copied


def test_the_declarations_name_existing_clear_columns_with_a_reason():
    columns = {label: (model, field) for model, field, label in text_columns()}
    stale = [label for label in CLEAR_COLUMNS if label not in columns]
    assert not stale, f"helpline/clear_columns.py names no such text column: {stale}"
    needless = [
        label
        for label, (_, field) in columns.items()
        if label in CLEAR_COLUMNS and (isinstance(field, EncryptedFieldMixin) or is_code(field))
    ]
    assert not needless, f"Encrypted or coded, so not to be declared clear: {needless}"
    assert all(reason.strip() for reason in CLEAR_COLUMNS.values())


def test_the_walk_sees_every_app_and_the_history_tables():
    judged = {label for _, _, label in text_columns()}
    models_seen = {model._meta.label for model, _, _ in text_columns()}
    assert {"cases.CaseEvent", "referrals.ReferralEvent", "helpline.AuditEntry"} <= models_seen
    assert {"channels_sms.Message.body", "cases.Note.body", "helpline.AuditEntry.extra"} <= judged
