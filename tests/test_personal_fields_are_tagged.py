"""Every field that holds personal data in an exported model (encrypted, or a keyed hash of an
identifier) carries its model's `personal_data` tag, and every field the models treat as personal
elsewhere (the audit log's redactions, row history) is tagged too: the tags are what exports
enforce, so an untagged personal field would reach a pseudonymised file."""

import pytest

from cases.models import CASE_IDENTIFIER_HASH_FIELDS, CASE_PERSONAL_FIELDS, CONTACT_PERSONAL_FIELDS
from helpline.crypto import EncryptedFieldMixin
from helpline.vocabulary import PersonalData
from referrals.models import REFERRAL_PERSONAL_FIELDS
from reports.exports import datasets
from reports.exports.datasets import DATASETS, Column, Kind, _tagged


@pytest.mark.parametrize("dataset", list(DATASETS.values()), ids=lambda d: d.name)
def test_every_encrypted_or_hashed_field_is_tagged(dataset):
    model = dataset.model
    tags = model.personal_data
    for field in model._meta.concrete_fields:
        if isinstance(field, EncryptedFieldMixin) or field.name.endswith("_hash"):
            assert field.name in tags, f"{model.__name__}.{field.name} has no personal_data tag"
    assert set(tags) <= {f.name for f in model._meta.concrete_fields}
    assert all(isinstance(tag, PersonalData) for tag in tags.values())


def test_the_fields_personal_elsewhere_are_tagged():
    assert set(DATASETS["cases"].model.personal_data) >= CASE_PERSONAL_FIELDS | CASE_IDENTIFIER_HASH_FIELDS
    assert set(DATASETS["contacts"].model.personal_data) >= CONTACT_PERSONAL_FIELDS
    assert set(DATASETS["referrals"].model.personal_data) >= REFERRAL_PERSONAL_FIELDS


@pytest.mark.parametrize("dataset", list(DATASETS.values()), ids=lambda d: d.name)
def test_a_pseudonymised_export_has_no_column_of_a_left_out_kind(dataset):
    kept = dataset.columns_for(pseudonymised=True)
    assert not [c.name for c in kept if c.tag in datasets.LEFT_OUT]
    assert [c.name for c in dataset.columns if c.tag in datasets.LEFT_OUT], "the full export has them"


def test_a_column_of_an_untagged_personal_field_is_refused(monkeypatch):
    from cases.models import Contact

    monkeypatch.setattr(Contact, "personal_data", {})
    with pytest.raises(TypeError, match=r"Contact\.summary holds personal data but has no personal_data tag"):
        _tagged(Contact, [Column("summary", "summary", Kind.TEXT, "What was said.")])
