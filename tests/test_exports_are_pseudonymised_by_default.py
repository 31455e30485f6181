"""An export is pseudonymised unless a full one is asked for: no name, number, place or free text of
the seeded children anywhere in the bytes of any format (each opened with its own reader), record
ids and phone numbers as keyed hashes that still join the files up (a case's contacts, a child's
messages and case), and codes, times and ages kept."""

import hashlib
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from cases.models import Case, Contact
from channels_sms.models import Message
from tests.exports import REFERRAL_REASON, SECRETS, content, download, export, records, seed
from tests.twilio_signing import PUBLIC, TOKEN

pytestmark = pytest.mark.django_db
FORMATS = ["csv", "xlsx", "ndjson", "parquet"]
DATASETS = ["cases", "contacts", "referrals", "messages"]


@pytest.fixture(autouse=True)
def twilio_settings(settings, sms_number, tmp_path):
    settings.TWILIO_AUTH_TOKEN, settings.PUBLIC_BASE_URL = TOKEN, PUBLIC
    settings.EXPORT_DIR = str(tmp_path / "exports")


@pytest.fixture
def seeded(api, operator, walk_in):
    return seed(api, operator, walk_in)


@pytest.mark.parametrize("file_format", FORMATS)
@pytest.mark.parametrize("dataset", DATASETS)
def test_no_name_number_or_free_text_in_any_format(api, supervisor, seeded, dataset, file_format):
    body = content(download(api, supervisor, export(api, supervisor, dataset, file_format)))
    rows = records(file_format, body)
    assert rows, "the export holds the seeded rows"
    # In the bytes (CSV, NDJSON) and in every value the format's own reader gives (XLSX and
    # Parquet are compressed: their bytes would hide a name).
    text = body.lower()
    values = " ".join(str(value) for row in rows for value in row.values()).lower()
    for secret in [*SECRETS, REFERRAL_REASON]:
        assert secret.lower().encode() not in text, secret
        assert secret.lower() not in values, secret
    # Nor the database's own ids or hashes: every id is a keyed hash of 20 hex characters.
    for row in rows:
        for name in ("case_id", "contact_id", "referral_id", "message_id"):
            if row.get(name):
                assert len(row[name]) == 20 and int(row[name], 16) >= 0


def test_codes_times_and_ages_are_kept(api, supervisor, seeded):
    rows = records("ndjson", content(download(api, supervisor, export(api, supervisor, "cases", "ndjson"))))
    (case,) = [row for row in rows if row["child_age"] is not None]
    stored = Case.objects.get(pk=seeded["case"]["id"])
    assert (
        case["child_age"] == 12 and case["state"] == stored.state and case["risk_level"] == stored.risk_level
    )
    assert case["categories"] == stored.categories and case["child_gender"] == stored.child_gender
    # On the helpline's clock, with its offset.
    zone = ZoneInfo(stored.helpline.timezone)
    assert datetime.fromisoformat(case["created_at"]) == stored.created_at.replace(microsecond=0)
    assert case["created_at"] == stored.created_at.astimezone(zone).isoformat(timespec="seconds")
    left_out = {
        "reference",
        "child_first_name",
        "child_location",
        "child_details_note",
        "reporter_name",
        "reporter_phone",
        "safe_contact",
        "child_area",
        "closure_reason",
    }
    assert not left_out & set(case), "personal columns are left out, not blanked"


def test_pseudonyms_join_the_files_up(api, supervisor, seeded):
    cases = records("csv", content(download(api, supervisor, export(api, supervisor, "cases", "csv"))))
    contacts = records("csv", content(download(api, supervisor, export(api, supervisor, "contacts", "csv"))))
    messages = records(
        "parquet", content(download(api, supervisor, export(api, supervisor, "messages", "parquet")))
    )
    referrals = records(
        "xlsx", content(download(api, supervisor, export(api, supervisor, "referrals", "xlsx")))
    )
    case_ids = {c["case_id"] for c in cases}
    assert len(case_ids) == Case.objects.count() == 2  # the walk-in and the child's SMS case
    assert {c["case_id"] for c in contacts} == case_ids and len(contacts) == Contact.objects.count()
    assert {m["case_id"] for m in messages} <= case_ids and len(messages) == Message.objects.count()
    assert {m["contact_id"] for m in messages} <= {c["contact_id"] for c in contacts}
    assert referrals[0]["case_id"] in case_ids
    # The child who wrote is the reporter of their SMS case: one pseudonym in both files.
    (inbound,) = [m for m in messages if m["direction"] == "inbound"]
    (sms_case,) = [c for c in cases if c["case_id"] == inbound["case_id"]]
    assert inbound["sender"] == sms_case["reporter_number"]
    assert len({c["reporter_number"] for c in cases}) == 2  # the walk-in's reporter is another number
    # Not the database's keyed hash of the number, and not a plain hash of the id.
    stored = Case.objects.exclude(pk=seeded["case"]["id"]).get()
    assert sms_case["reporter_number"] not in stored.reporter_phone_hash
    assert hashlib.sha256(str(stored.pk).encode()).hexdigest()[:20] not in case_ids


def test_the_key_changes_every_pseudonym(api, supervisor, seeded, settings):
    first = records("csv", content(download(api, supervisor, export(api, supervisor, "cases", "csv"))))
    settings.EXPORT_PSEUDONYM_KEY = "another-deployment-pseudonym-key-0123456789"
    second = records("csv", content(download(api, supervisor, export(api, supervisor, "cases", "csv"))))
    assert {c["case_id"] for c in first}.isdisjoint({c["case_id"] for c in second})


def test_the_data_dictionary_names_what_each_column_becomes(api, supervisor):
    answer = api(supervisor).get("/api/v1/exports/dictionary/")
    assert answer.status_code == 200
    cases = next(d for d in answer.json() if d["dataset"] == "cases")["columns"]
    by_name = {c["name"]: c for c in cases}
    assert by_name["child_first_name"] == {
        **by_name["child_first_name"],
        "personal_data": "name",
        "pseudonymised": "left_out",
    }
    assert by_name["case_id"]["pseudonymised"] == "rekeyed"
    assert by_name["reporter_number"] == {
        **by_name["reporter_number"],
        "personal_data": "identifier_hash",
        "pseudonymised": "rekeyed",
    }
    assert by_name["child_age"] == {**by_name["child_age"], "personal_data": "age", "pseudonymised": "kept"}
    assert by_name["state"]["personal_data"] == "" and by_name["state"]["pseudonymised"] == "kept"
