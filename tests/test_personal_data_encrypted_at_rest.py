"""Personal data is encrypted at rest: the database holds Fernet tokens, the API answers plain
text, altered tokens are refused, keys rotate, phone numbers are found by keyed hash, and neither
the audit log nor the logs ever hold the values."""

import hashlib
import hmac
import io
import logging
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import pgtrigger
import pytest
from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings as django_settings
from django.core.exceptions import FieldError
from django.core.management import call_command
from django.db import connection, transaction
from django.db.migrations.executor import MigrationExecutor
from django.db.utils import InternalError
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from cases.models import Case, CaseAccess, Contact, Escalation, Note
from config import launcher
from helpline.audit import verify_chain
from helpline.crypto import DecryptionError, encrypted_fields, identifier_hash, normalise_phone
from helpline.models import AuditEntry
from referrals.models import Agency, Referral
from reports.models import Export
from tests import factories

ROOT = Path(__file__).resolve().parent.parent
LOCATION = "Kibera, behind the blue church"
DETAILS = "Lives with her uncle Otieno"
SUMMARY = "She said her stepfather hits her"
NOTE = "Spoke to the head teacher Mrs Wanjiru"
PHONE = "+254 712 345 678"
PHONE_E164 = "+254712345678"
# The national form and the bare digits, so a copy in any format is caught.
PHONE_FORMS = (PHONE_E164, "712345678", "712 345 678", "0712345678")


def raw(table, column, pk, *, pk_column="id"):
    with connection.cursor() as cursor:
        cursor.execute(f'SELECT "{column}" FROM "{table}" WHERE "{pk_column}" = %s', [pk])
        return cursor.fetchone()[0]


def raw_set(table, column, pk, value):
    with connection.cursor() as cursor:
        cursor.execute(f'UPDATE "{table}" SET "{column}" = %s WHERE id = %s', [value, pk])


def current_key():
    return Fernet(django_settings.FIELD_ENCRYPTION_KEYS[0])


@pytest.fixture
def recorded(api, operator, walk_in):
    """A case opened through the API with every personal field, and a note on it."""
    case = walk_in(child_location=LOCATION, child_details_note=DETAILS, reporter_phone=PHONE, summary=SUMMARY)
    response = api(operator).post(f"/api/v1/cases/{case['id']}/notes/", {"body": NOTE}, format="json")
    assert response.status_code == 201, response.json()
    contact = Contact.objects.get(case_id=case["id"])
    note = Note.objects.get(case_id=case["id"])
    return {
        ("cases_case", "child_location"): (case["id"], LOCATION),
        ("cases_case", "child_details_note"): (case["id"], DETAILS),
        ("cases_case", "reporter_phone"): (case["id"], PHONE_E164),
        ("cases_contact", "summary"): (contact.pk, SUMMARY),
        ("cases_note", "body"): (note.pk, NOTE),
    }


def test_database_holds_ciphertext_and_the_api_answers_plain_text(api, supervisor, recorded):
    for (table, column), (pk, plain) in recorded.items():
        stored = raw(table, column, pk)
        assert stored.startswith("gAAAAA"), (table, column)  # a Fernet token, version 0x80
        assert plain not in stored
        assert current_key().decrypt(stored.encode()).decode() == plain

    case_id = recorded[("cases_case", "child_location")][0]
    client = api(supervisor)  # sees the reporter's number unmasked
    case = client.get(f"/api/v1/cases/{case_id}/").json()
    assert (case["child_location"], case["child_details_note"], case["reporter_phone"]) == (
        LOCATION,
        DETAILS,
        PHONE_E164,
    )
    assert client.get(f"/api/v1/cases/{case_id}/notes/").json()[0]["body"] == NOTE
    contact_id = recorded[("cases_contact", "summary")][0]
    assert client.get(f"/api/v1/contacts/{contact_id}/").json()["summary"] == SUMMARY


def one_row_of_each(operator):
    """One row of every model with encrypted columns (rows only: what is stored is under test)."""
    from channels_sms.models import Callback, ContacterFlag, InboundEvent, Message
    from helpline.models import CaseKey
    from notifications.models import Delivery as NotificationDelivery
    from notifications.models import Notification, Preference
    from referrals.models import Delivery, ReferralUpdate, WebhookChange

    now = timezone.now()
    helpline = operator.helpline
    case = factories.CaseFactory(helpline=helpline)
    contact = factories.ContactFactory(case=case)
    referral = factories.ReferralFactory(case=case)
    event = InboundEvent.objects.create(
        helpline=helpline, channel="sms", external_id="SM1", params="{}", received_at=now
    )
    return {
        Case: case,
        Contact: contact,
        Note: factories.NoteFactory(case=case, author=operator),
        Escalation: Escalation.objects.create(
            case=case, helpline=helpline, due_at=now, state=case.state, risk_level=case.risk_level
        ),
        CaseAccess: CaseAccess.objects.create(
            case=case, user=operator, kind="need_to_know", granted_by=operator
        ),
        Agency: referral.agency,
        Referral: referral,
        ReferralUpdate: ReferralUpdate.objects.create(
            referral=referral, from_party="helpline", author=operator, body="x"
        ),
        Delivery: Delivery.objects.create(
            referral=referral,
            agency=referral.agency,
            event="referral.sent",
            url="https://a.example/",
            body="{}",
        ),
        InboundEvent: event,
        Message: Message.objects.create(
            helpline=helpline, contact=contact, channel="sms", direction="inbound", at=now, event=event
        ),
        Callback: Callback.objects.create(
            helpline=helpline, contact=contact, reason="no-answer", requested_at=now
        ),
        ContacterFlag: ContacterFlag.objects.create(
            helpline=helpline,
            identifier_hash="0" * 64,
            flag="abusive",
            reason="x",
            expires_at=now,
            set_by=operator,
            set_at=now,
        ),
        CaseKey: CaseKey.objects.create(case_id=case.pk, key=Fernet.generate_key().decode()),
        WebhookChange: WebhookChange.objects.create(
            agency=referral.agency, url="https://a.example/hook", secret="x", proposed_by=operator
        ),
        NotificationDelivery: NotificationDelivery.objects.create(
            notification=Notification.objects.create(user=operator, helpline=helpline, kind="overdue"),
            channel="email",
            address="x@example.org",
        ),
        Preference: Preference.objects.create(user=operator, sms_number="+254700000111"),
        Export: Export.objects.create(
            helpline=helpline,
            requested_by=operator,
            dataset="cases",
            file_format="csv",
            mode="full",
            reason="An inquiry",
            date_from=date(2026, 11, 1),
            date_to=date(2026, 11, 30),
        ),
    }


def test_every_encrypted_column_stores_a_token_of_its_value(operator):
    """Walks every encrypted field of every model (helpline.crypto.encrypted_fields): a value written
    through it is stored as a Fernet token under the current key, in a column wide enough for it."""
    rows = one_row_of_each(operator)
    walked = encrypted_fields()
    assert set(walked) == set(rows), "give one_row_of_each a row of every model with encrypted columns"
    labels = {f"{model._meta.label}.{field.name}" for model, fields in walked.items() for field in fields}
    assert {"cases.Case.closure_reason", "referrals.Referral.outcome_note", "helpline.CaseKey.key"} <= labels
    for model, fields in walked.items():
        row = rows[model]
        for field in fields:
            label = f"{model._meta.label}.{field.name}"
            # Longer than any column's max_length: an unencrypted varchar column would refuse the token.
            marker = f"Amina Njeri, 0722 111 222, {label} " + "x" * 2000
            # Triggers lifted for this write only: some tables are append-only for people.
            with pgtrigger.ignore():
                model.objects.filter(pk=row.pk).update(**{field.name: marker})
            stored = raw(model._meta.db_table, field.column, row.pk, pk_column=model._meta.pk.column)
            assert stored.startswith("gAAAAA") and "Amina" not in stored, label
            assert current_key().decrypt(stored.encode()).decode() == marker, label
            assert getattr(model.objects.get(pk=row.pk), field.attname) == marker, label


def test_no_table_holds_the_plain_text(recorded):
    """Every table of the database, audit log and row history included, read as text."""
    secrets = [LOCATION, DETAILS, SUMMARY, NOTE, *PHONE_FORMS]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT table_name FROM information_schema.tables "
            "WHERE table_schema = 'public' AND table_type = 'BASE TABLE'"
        )
        tables = [name for (name,) in cursor.fetchall()]
        assert "cases_case" in tables
        for table in tables:
            cursor.execute(f'SELECT t::text FROM "{table}" AS t')
            dump = "\n".join(row for (row,) in cursor.fetchall())
            for secret in secrets:
                assert secret not in dump, (table, secret)


def test_altered_ciphertext_is_refused_not_decrypted_into_garbage(api, operator, recorded):
    case_id = recorded[("cases_case", "child_location")][0]
    token = raw("cases_case", "child_location", case_id)
    middle = len(token) // 2
    altered = token[:middle] + ("A" if token[middle] != "A" else "B") + token[middle + 1 :]
    raw_set("cases_case", "child_location", case_id, altered)

    with pytest.raises(DecryptionError) as refused:
        Case.objects.get(pk=case_id)
    assert "cases.Case.child_location" in str(refused.value)
    assert LOCATION not in str(refused.value) and altered not in str(refused.value)

    client = api(operator)
    client.raise_request_exception = False
    response = client.get(f"/api/v1/cases/{case_id}/")
    assert response.status_code == 500
    assert response.json()["type"] == "server_error"
    assert LOCATION not in response.content.decode()


@pytest.mark.parametrize(
    "stored",
    [
        pytest.param(lambda: Fernet(Fernet.generate_key()).encrypt(b"Kibera").decode(), id="unknown-key"),
        pytest.param(lambda: "Kibera, never encrypted", id="plain-text"),
    ],
)
def test_values_no_configured_key_made_are_refused(recorded, stored):
    note_id = recorded[("cases_note", "body")][0]
    # The append-only trigger is lifted here only to plant the bad value.
    with pgtrigger.ignore("cases.Note:note_append_only"), connection.cursor() as cursor:
        cursor.execute("UPDATE cases_note SET body = %s WHERE id = %s", [stored(), note_id])
    with pytest.raises(DecryptionError):
        Note.objects.get(pk=note_id)


def test_encrypted_columns_cannot_be_searched_by_value(recorded):
    with pytest.raises(FieldError):
        list(Case.objects.filter(child_location=LOCATION))
    with pytest.raises(FieldError):
        list(Note.objects.filter(body__icontains="teacher"))
    assert Case.objects.filter(child_location__isnull=False).count() == 1


def test_rotate_keys_re_encrypts_everything_under_the_new_key(api, supervisor, walk_in, recorded, settings):
    old_key = settings.FIELD_ENCRYPTION_KEYS[0]
    walk_in(child_location="Second case", reporter_phone="0722 000 111")  # two rows: several batches
    before = {(table, column): raw(table, column, pk) for (table, column), (pk, _) in recorded.items()}
    case_id = recorded[("cases_case", "child_location")][0]
    updated_at = Case.objects.get(pk=case_id).updated_at

    new_key = Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [new_key, old_key]
    out = io.StringIO()
    call_command("rotate_keys", "--batch-size", "1", stdout=out)
    assert "cases.Case.child_location: 2 re-encrypted, 0 already under the current key" in out.getvalue()
    assert "cases.Note.body: 1 re-encrypted" in out.getvalue()
    assert "done: 7 values re-encrypted, 0 already under the current key" in out.getvalue()

    # Idempotent: a second run finds everything under the current key.
    again = io.StringIO()
    call_command("rotate_keys", stdout=again)
    assert "done: 0 values re-encrypted, 7 already under the current key" in again.getvalue()

    settings.FIELD_ENCRYPTION_KEYS = [new_key]  # the old key is gone
    for (table, column), (pk, plain) in recorded.items():
        stored = raw(table, column, pk)
        assert stored != before[(table, column)]
        assert Fernet(new_key).decrypt(stored.encode()).decode() == plain
        with pytest.raises(InvalidToken):
            Fernet(old_key).decrypt(stored.encode())
    case = api(supervisor).get(f"/api/v1/cases/{case_id}/").json()
    assert (case["child_location"], case["reporter_phone"]) == (LOCATION, PHONE_E164)
    assert Note.objects.get(pk=recorded[("cases_note", "body")][0]).body == NOTE
    assert Case.objects.get(pk=case_id).updated_at == updated_at  # storage changed, content did not

    # The rotation lifted the append-only trigger for its own statement only.
    with pytest.raises(InternalError), transaction.atomic():
        Note.objects.filter(pk=recorded[("cases_note", "body")][0]).update(body="rewritten")

    first, second = AuditEntry.objects.filter(action="crypto.rotate_keys").order_by("id")
    assert (first.actor, first.object_type) == (None, "crypto")
    assert first.extra["rotated"] == 7
    assert first.extra["columns"]["cases.Case.reporter_phone"] == {"rotated": 2, "already_current": 0}
    assert (second.extra["rotated"], second.extra["already_current"]) == (0, 7)
    assert (
        AuditEntry.objects.filter(action="crypto.rotate_keys.batch").count() == 4
    )  # batches of one row: 2 cases, 1 contact, 1 note
    assert verify_chain(0).ok


def test_rotate_keys_stops_at_a_value_no_key_opens(recorded, settings):
    case_id = recorded[("cases_case", "child_location")][0]
    raw_set("cases_case", "child_location", case_id, Fernet(Fernet.generate_key()).encrypt(b"x").decode())
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode(), *settings.FIELD_ENCRYPTION_KEYS]
    with pytest.raises(Exception, match=rf"cases.Case.child_location \(id {case_id}\)"):
        call_command("rotate_keys", stdout=io.StringIO())


# --- phone numbers: keyed hash -----------------------------------------------------------------------


def test_the_same_number_in_any_format_has_the_same_hash():
    expected = hmac.new(
        django_settings.IDENTIFIER_HASH_KEY.encode(), PHONE_E164.encode(), hashlib.sha256
    ).hexdigest()
    assert identifier_hash(PHONE) == expected
    assert identifier_hash("+254712345678") == expected
    assert identifier_hash("0712 345678", region="KE") == expected
    assert identifier_hash("(0712) 345-678", region="ke") == expected
    assert identifier_hash("+254 712 345 679") != expected
    assert identifier_hash("0712345678", region="UG") != expected  # the same digits in Uganda
    assert normalise_phone("0712 345678", region="KE") == PHONE_E164
    with pytest.raises(ValueError, match="Not a phone number"):
        identifier_hash("call me maybe")


def test_another_hash_key_gives_another_hash(settings):
    first = identifier_hash(PHONE)
    settings.IDENTIFIER_HASH_KEY = "another-identifier-hash-key-of-enough-length"
    assert identifier_hash(PHONE) != first


def test_other_cases_from_the_same_number_are_found_by_hash(api, supervisor, walk_in):
    first = walk_in(reporter_phone="+254 712 345 678")
    second = walk_in(reporter_phone="0712-345-678")  # the helpline is in Kenya
    other = walk_in(reporter_phone="+254 733 000 000")
    none = walk_in()
    assert Case.objects.get(pk=second["id"]).reporter_phone == PHONE_E164
    assert none["reporter_phone"] == ""

    same = Case.objects.filter(reporter_phone_hash=identifier_hash(PHONE)).values_list("pk", flat=True)
    assert sorted(same) == sorted([first["id"], second["id"]])
    assert Case.objects.get(pk=none["id"]).reporter_phone_hash == ""

    client = api(supervisor)
    changed = client.patch(f"/api/v1/cases/{other['id']}/", {"reporter_phone": PHONE}, format="json")
    assert changed.status_code == 200 and changed.json()["reporter_phone"] == PHONE_E164
    assert Case.objects.filter(reporter_phone_hash=identifier_hash(PHONE)).count() == 3
    cleared = client.patch(f"/api/v1/cases/{first['id']}/", {"reporter_phone": ""}, format="json")
    assert cleared.json()["reporter_phone"] == ""
    assert Case.objects.get(pk=first["id"]).reporter_phone_hash == ""

    refused = client.patch(f"/api/v1/cases/{first['id']}/", {"reporter_phone": "not a number"}, format="json")
    assert refused.status_code == 400
    assert refused.json()["errors"][0]["attr"] == "reporter_phone"


def test_the_audit_log_never_holds_the_phone_number(api, operator, supervisor, walk_in):
    case = walk_in(reporter_phone=PHONE)
    api(operator).patch(f"/api/v1/cases/{case['id']}/", {"reporter_phone": "+254 733 000 001"}, format="json")
    api(operator).get(f"/api/v1/cases/{case['id']}/")

    update = AuditEntry.objects.get(action="case.update", case_id=case["id"])
    assert update.changes["reporter_phone"] == {"before": "[redacted]", "after": "[redacted]"}
    history = api(supervisor).get(f"/api/v1/cases/{case['id']}/history/")
    assert history.status_code == 200
    with connection.cursor() as cursor:
        cursor.execute("SELECT row_to_json(a)::text FROM helpline_auditentry AS a")
        log = "\n".join(row for (row,) in cursor.fetchall())
    assert "case.update" in log
    hashes = (identifier_hash(PHONE), identifier_hash("+254733000001"))
    for secret in (*PHONE_FORMS, "733000001", "+254733000001", *hashes):
        assert secret not in log
        assert secret not in history.content.decode()


def test_no_log_record_holds_personal_data(api, operator, supervisor, walk_in, caplog):
    """A whole case flow through the API with every logger at DEBUG, SQL included."""
    caplog.set_level(logging.DEBUG)  # the root logger and caplog's handler on it
    caplog.set_level(logging.DEBUG, logger="django.db.backends")
    secrets = [LOCATION, DETAILS, SUMMARY, NOTE, "Moved to Mathare", "Second note", *PHONE_FORMS]

    with CaptureQueriesContext(connection) as queries:  # SQL and its parameters are logged too
        case = walk_in(
            child_location=LOCATION, child_details_note=DETAILS, reporter_phone=PHONE, summary=SUMMARY
        )
        client = api(operator)
        url = f"/api/v1/cases/{case['id']}/"
        assert client.patch(url, {"child_location": "Moved to Mathare"}, format="json").status_code == 200
        assert client.patch(url, {"reporter_phone": "0712 345 678"}, format="json").status_code == 200
        assert client.patch(url, {"reporter_phone": "712 345 678 999 999"}, format="json").status_code == 400
        for body in (NOTE, "Second note"):
            assert client.post(f"{url}notes/", {"body": body}, format="json").status_code == 201
        assert client.get(url).json()["child_location"] == "Moved to Mathare"
        assert client.get(f"{url}notes/").status_code == 200
        assert client.get("/api/v1/cases/").status_code == 200
        assert client.get("/api/v1/contacts/").status_code == 200
        assert api(supervisor).get(f"{url}history/").status_code == 200
        assert (
            client.post(f"{url}transitions/", {"name": "start_assessment"}, format="json").status_code == 200
        )

    assert any(r.name == "django.db.backends" for r in caplog.records), "SQL was not logged"
    assert any(r.levelno == logging.DEBUG for r in caplog.records)
    for record in caplog.records:
        text = f"{record.getMessage()} {record.args!r} {record.__dict__!r}"
        for secret in secrets:
            assert secret not in text, (record.name, secret)
    sql = "\n".join(q["sql"] for q in queries.captured_queries)
    assert "cases_note" in sql
    for secret in secrets:
        assert secret not in sql


# --- configuration -----------------------------------------------------------------------------------


def _settings_load(env_changes):
    env = {k: v for k, v in os.environ.items() if k not in ("FIELD_ENCRYPTION_KEYS", "IDENTIFIER_HASH_KEY")}
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "config.settings.base",
            "SECRET_KEY": "x" * 50,
            "DATABASE_URL": "postgres://unused/x",
            "REDIS_URL": "redis://unused",
            "IDENTIFIER_HASH_KEY": "an-identifier-hash-key-of-enough-length",
            **env_changes,
        }
    )
    env = {k: v for k, v in env.items() if v is not None}
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("changes", "complaint"),
    [
        ({}, "Set FIELD_ENCRYPTION_KEYS"),
        ({"FIELD_ENCRYPTION_KEYS": "not-a-key"}, "key 1 is not a Fernet key"),
        ({"FIELD_ENCRYPTION_KEYS": Fernet.generate_key().decode() + ",short"}, "key 2 is not a Fernet key"),
        (
            {"FIELD_ENCRYPTION_KEYS": Fernet.generate_key().decode(), "IDENTIFIER_HASH_KEY": None},
            "IDENTIFIER",
        ),
    ],
)
def test_settings_refuse_to_start_without_keys(changes, complaint):
    result = _settings_load(changes)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr and complaint in result.stderr


def test_settings_start_with_keys():
    result = _settings_load(
        {"FIELD_ENCRYPTION_KEYS": f"{Fernet.generate_key().decode()},{Fernet.generate_key().decode()}"}
    )
    assert result.returncode == 0, result.stderr


def test_make_run_generates_its_encryption_key_once(tmp_path, monkeypatch):
    monkeypatch.setattr(launcher, "DATA", tmp_path)
    key = launcher.dev_secret("field-encryption-key", launcher.fernet_key)
    Fernet(key)  # a valid Fernet key
    path = tmp_path / "field-encryption-key.txt"
    assert path.stat().st_mode & 0o777 == 0o600
    assert launcher.dev_secret("field-encryption-key", launcher.fernet_key) == key  # kept, not replaced


# --- the data migration --------------------------------------------------------------------------------


@pytest.mark.migration_history
@pytest.mark.django_db(transaction=True)
def test_the_migration_encrypts_existing_rows_and_reverses(operator):
    case = factories.CaseFactory(
        helpline=operator.helpline, child_location=LOCATION, child_details_note=DETAILS
    )
    contact = factories.ContactFactory(case=case, summary=SUMMARY)
    note = factories.NoteFactory(case=case, author=operator, body=NOTE)
    plain = {
        ("cases_case", "child_location"): (case.pk, LOCATION),
        ("cases_case", "child_details_note"): (case.pk, DETAILS),
        ("cases_contact", "summary"): (contact.pk, SUMMARY),
        ("cases_note", "body"): (note.pk, NOTE),
    }
    executor = MigrationExecutor(connection)
    (migration,) = [key for key in executor.loader.graph.nodes if key[1].endswith("_personal_data_encrypted")]
    (before,) = [key for key in executor.loader.graph.node_map[migration].parents if key[0] == "cases"]
    try:
        executor.migrate([before])
        for (table, column), (pk, value) in plain.items():
            assert raw(table, column, pk) == value  # reversed: plain text again

        executor = MigrationExecutor(connection)
        executor.migrate([migration])
        for (table, column), (pk, value) in plain.items():
            stored = raw(table, column, pk)
            assert stored.startswith("gAAAAA") and value not in stored
            assert current_key().decrypt(stored.encode()).decode() == value
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())
    reread = Case.objects.get(pk=case.pk)
    assert (reread.child_location, reread.child_details_note) == (LOCATION, DETAILS)
    assert Note.objects.get(pk=note.pk).body == NOTE
