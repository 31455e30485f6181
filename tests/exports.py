"""Seeding and reading exports for the export tests: children's cases, contacts, messages and
referrals made through the API and the SMS webhook, with names, numbers and stories that must never
appear in a pseudonymised file; and each format opened with its own reader."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta

import openpyxl
import pyarrow.parquet as pq
from django.test import Client
from django.utils import timezone

from channels_sms.models import InboundEvent
from channels_sms.sms import inbound_event_process
from reports.exports.job import export_write
from tests import factories
from tests.twilio_signing import sms_params, twilio_signature

NAME, REPORTER, LOCATION = "Oyunchimeg", "Batbayar Dorj", "Bayanzurkh district, khoroo 7"
PHONE, CHILD_SMS = "+97699112233", "+97688776655"
NOTE, SUMMARY, SMS_BODY = "Lives with her aunt", "Talked about the beatings", "please help me im scared"
SECRETS = [NAME, REPORTER, LOCATION, PHONE, CHILD_SMS, NOTE, SUMMARY, SMS_BODY, "99112233", "88776655"]
REFERRAL_REASON = "Needs a forensic interview"


def seed(api, operator, walk_in) -> dict:
    """A case with every personal field filled, an SMS conversation from a child, a referral."""
    case = walk_in(
        child_first_name=NAME,
        child_age=12,
        child_location=LOCATION,
        child_details_note=NOTE,
        reporter_name=REPORTER,
        reporter_phone=PHONE,
        summary=SUMMARY,
    )
    data = sms_params("SMEXPORT1", CHILD_SMS, SMS_BODY)
    Client().post(
        "/webhooks/twilio/sms/", data, HTTP_X_TWILIO_SIGNATURE=twilio_signature("/webhooks/twilio/sms/", data)
    )
    assert inbound_event_process(event_id=InboundEvent.objects.get(external_id="SMEXPORT1").pk) == "threaded"
    from cases.models import Case

    referral = factories.ReferralFactory(case=Case.objects.get(pk=case["id"]), reason=REFERRAL_REASON)
    return {"case": case, "referral": referral}


def period() -> dict[str, str]:
    today = timezone.localdate()
    return {"date_from": str(today - timedelta(days=1)), "date_to": str(today + timedelta(days=1))}


def export(api, user, dataset: str, file_format: str, **more):
    """Asks for an export and writes it at once (the worker's job, in this process)."""
    answer = api(user).post(
        "/api/v1/exports/",
        {"dataset": dataset, "file_format": file_format, **period(), **more},
        format="json",
    )
    assert answer.status_code == 202, answer.json()
    export_write(export_id=answer.json()["id"])
    return answer.json()["id"]


def download(api, user, export_id: int):
    return api(user).get(f"/api/v1/exports/{export_id}/file/")


def content(answer) -> bytes:
    assert answer.status_code == 200, answer.content if not answer.streaming else answer.status_code
    return b"".join(answer.streaming_content)


def records(file_format: str, body: bytes) -> list[dict]:
    """The file's rows as dicts, read by the format's own reader."""
    if file_format == "csv":
        return list(csv.DictReader(io.StringIO(body.decode())))
    if file_format == "ndjson":
        return [json.loads(line) for line in body.decode().splitlines() if line]
    if file_format == "parquet":
        return pq.read_table(io.BytesIO(body)).to_pylist()
    sheet = openpyxl.load_workbook(io.BytesIO(body), read_only=True).active
    header, *rows = list(sheet.iter_rows(values_only=True))
    return [dict(zip(header, row, strict=True)) for row in rows]
