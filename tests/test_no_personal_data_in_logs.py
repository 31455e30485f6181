"""An SMS from a child, from webhook to operator's screen, leaves neither the child's number nor
the message in any log record or SQL statement, even with every logger at DEBUG."""

import logging

from django.db import connection
from django.test.utils import CaptureQueriesContext

from channels_sms.models import InboundEvent, PhoneNumber
from channels_sms.sms import inbound_event_process
from tests.test_twilio_sms_webhook import TOKEN, post, sms_params

NUMBER = "+254711222333"
BODY = "My uncle hurts me at night, please help"


def test_an_sms_flow_logs_no_personal_data(api, operator, supervisor, helpline, caplog, settings):
    settings.TWILIO_AUTH_TOKEN = TOKEN
    settings.PUBLIC_BASE_URL = "https://helpline.example.org"
    PhoneNumber.objects.create(helpline=helpline, channel="sms", number="+15005550006")
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="django.db.backends")

    with CaptureQueriesContext(connection) as queries:
        assert post(sms_params(body=BODY, sender=NUMBER)).status_code == 200
        assert post(sms_params(sid="SM" + "b" * 32, body="still there?", sender=NUMBER)).status_code == 200
        for event in InboundEvent.objects.order_by("id"):
            inbound_event_process(event_id=event.pk)
        case_id = api(supervisor).get("/api/v1/cases/").json()["results"][0]["id"]
        messages = api(supervisor).get(f"/api/v1/cases/{case_id}/messages/").json()["results"]
        assert [m["body"] for m in messages] == [BODY, "still there?"]  # the flow really ran
        assert api(supervisor).get(f"/api/v1/cases/{case_id}/history/").status_code == 200
        assert api(operator).get(f"/api/v1/cases/{case_id}/").status_code == 200

    secrets = [NUMBER, NUMBER[1:], "711222333", BODY, "still there?"]
    assert any(r.name == "django.db.backends" for r in caplog.records), "SQL was not logged"
    for record in caplog.records:
        text = f"{record.getMessage()} {record.args!r} {record.__dict__!r}"
        for secret in secrets:
            assert secret not in text, (record.name, secret)
    sql = "\n".join(q["sql"] for q in queries.captured_queries)
    for secret in secrets:
        assert secret not in sql
