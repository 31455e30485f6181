"""A call nobody answered — no answer, busy, failed, cancelled, or the caller hung up (or left) in
the queue — enters the callback queue; operators list the callbacks of the cases they can see and
mark them done, once, with an audit entry."""

import pytest
from django.test import Client

from cases.models import Case, CaseAccess, Contact
from channels_sms.models import Callback, PhoneNumber
from channels_sms.voice import callback_request, voice_call_process
from helpline.models import AuditEntry, AuditOutcome
from tests.twilio_signing import PUBLIC, TOKEN, twilio_signature

from . import factories

CHILD = "+254712345678"
OURS = "+15005550006"
SID = "CA" + "c" * 32

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def twilio_settings(settings):
    settings.TWILIO_AUTH_TOKEN = TOKEN
    settings.PUBLIC_BASE_URL = PUBLIC


@pytest.fixture
def number(helpline):
    return PhoneNumber.objects.create(helpline=helpline, channel="voice", number=OURS)


def post(path, **params):
    body = {
        "AccountSid": "AC" + "0" * 32,
        "CallSid": SID,
        "From": CHILD,
        "To": OURS,
        "Direction": "inbound",
        "ApiVersion": "2010-04-01",
        **params,
    }
    signature = twilio_signature(path, body)
    response = Client().post(path, body, HTTP_X_TWILIO_SIGNATURE=signature)
    assert response.status_code == 200, response.content
    return response


def call(*statuses):
    """A call, then the given status callbacks ({"CallStatus": ...} or {"QueueResult": ...})."""
    post("/webhooks/twilio/voice/", CallStatus="ringing")
    for params in statuses:
        post("/webhooks/twilio/voice/status/", **params)
    voice_call_process(call_sid=SID)


@pytest.mark.parametrize("status", ["no-answer", "busy", "failed", "canceled"])
def test_each_abandoning_status_enters_one_callback(number, helpline, status):
    call({"CallStatus": status, "CallDuration": "0"})
    # Twilio retries the callback: still one.
    post("/webhooks/twilio/voice/status/", CallStatus=status, CallDuration="0")
    voice_call_process(call_sid=SID)
    callback = Callback.objects.get()
    contact = Contact.objects.get()
    assert (callback.helpline_id, callback.contact_id, callback.case_id) == (
        helpline.pk,
        contact.pk,
        contact.case_id,
    )
    assert callback.reason == status and callback.done_at is None
    assert contact.ended_at is not None
    entry = AuditEntry.objects.get(action="callback.request")
    assert entry.case_id == contact.case_id and entry.actor is None


@pytest.mark.parametrize("result", ["hangup", "leave"])
def test_hanging_up_in_the_queue_enters_one_callback(number, result):
    call(
        {"CallStatus": "in-progress", "QueueResult": result, "QueueSid": "QU" + "0" * 32, "QueueTime": "95"},
        {"CallStatus": "completed", "CallDuration": "97"},
    )
    assert Callback.objects.get().reason == f"queue-{result}"


def test_no_operator_answering_the_dial_enters_a_callback(number):
    call({"CallStatus": "in-progress", "DialCallStatus": "no-answer"}, {"CallStatus": "completed"})
    assert Callback.objects.get().reason == "dial-no-answer"


def test_a_completed_call_enters_none(number):
    call(
        {
            "CallStatus": "in-progress",
            "QueueResult": "bridged",
            "QueueSid": "QU" + "0" * 32,
            "QueueTime": "5",
        },
        {"CallStatus": "completed", "CallDuration": "300"},
    )
    assert not Callback.objects.exists()
    contact = Contact.objects.get()
    assert (contact.ended_at - contact.started_at).total_seconds() == 300


# --- the callback queue API --------------------------------------------------------------------------


def make_callback(case, **fields):
    contact = factories.ContactFactory(case=case, channel="voice")
    return callback_request(contact=contact, reason="no-answer", at=contact.started_at, **fields)


@pytest.fixture
def queue(helpline, team, supervisor):
    elsewhere = factories.HelplineFactory(code="ELSE")
    restricted = factories.CaseFactory(helpline=helpline, team=team, restricted=True, state="assessment")
    night = factories.TeamFactory(helpline=helpline, name="Night")
    mine = make_callback(factories.CaseFactory(helpline=helpline, team=team, state="intake"))
    return {
        "mine": mine,
        "else": make_callback(factories.CaseFactory(helpline=elsewhere, state="intake")),
        "restricted": make_callback(restricted),
        "night": make_callback(factories.CaseFactory(helpline=helpline, team=night, state="assessment")),
    }


def listed(response):
    assert response.status_code == 200, response.content
    return {row["id"] for row in response.json()["results"]}


def test_callbacks_are_listed_in_the_callers_scope_only(api, operator, supervisor, admin_user, queue):
    assert listed(api(operator).get("/api/v1/callbacks/")) == {queue["mine"].pk}
    assert listed(api(supervisor).get("/api/v1/callbacks/")) == {queue["mine"].pk, queue["night"].pk}
    assert listed(api(admin_user).get("/api/v1/callbacks/")) == set()
    assert api().get("/api/v1/callbacks/").status_code == 401
    # On the need-to-know list, a restricted case's callback shows.
    CaseAccess.objects.create(
        case=queue["restricted"].case, user=operator, kind="need_to_know", granted_by=supervisor
    )
    assert queue["restricted"].pk in listed(api(operator).get("/api/v1/callbacks/"))


def test_done_filter_and_completion(api, operator, queue):
    client = api(operator)
    assert listed(client.get("/api/v1/callbacks/?done=false")) == {queue["mine"].pk}
    assert listed(client.get("/api/v1/callbacks/?done=true")) == set()
    response = client.post(
        f"/api/v1/callbacks/{queue['mine'].pk}/done/", {"outcome": "Called back, she is safe"}, format="json"
    )
    assert response.status_code == 200, response.content
    assert response.json()["done"] is True and response.json()["done_by"] == operator.pk
    assert listed(client.get("/api/v1/callbacks/?done=true")) == {queue["mine"].pk}
    assert listed(client.get("/api/v1/callbacks/?done=false")) == set()
    assert client.get("/api/v1/callbacks/?done=maybe").status_code == 400
    stored = Callback.objects.get(pk=queue["mine"].pk)
    assert stored.outcome == "Called back, she is safe" and stored.done_by == operator
    entry = AuditEntry.objects.get(action="callback.complete", outcome=AuditOutcome.ALLOWED)
    assert entry.actor == operator and entry.case_id == stored.case_id
    assert "safe" not in str(entry.changes) + str(entry.extra)


def test_done_twice_is_409_and_audited(api, operator, other_operator, queue):
    url = f"/api/v1/callbacks/{queue['mine'].pk}/done/"
    assert api(operator).post(url).status_code == 200
    response = api(other_operator).post(url)
    assert response.status_code == 409 and response.json()["errors"][0]["code"] == "already_done"
    assert Callback.objects.get(pk=queue["mine"].pk).done_by == operator
    denied = AuditEntry.objects.get(action="callback.complete", outcome=AuditOutcome.DENIED)
    assert denied.actor == other_operator


@pytest.mark.parametrize("name", ["else", "restricted", "night"])
def test_done_outside_scope_is_404_and_changes_nothing(api, operator, queue, name):
    response = api(operator).post(f"/api/v1/callbacks/{queue[name].pk}/done/")
    assert response.status_code == 404
    assert Callback.objects.get(pk=queue[name].pk).done_at is None
    assert AuditEntry.objects.filter(action="callback.complete", outcome=AuditOutcome.DENIED).count() == 1


def test_supervisor_completes_another_teams_callback_but_not_another_helplines(api, supervisor, queue):
    assert api(supervisor).post(f"/api/v1/callbacks/{queue['night'].pk}/done/").status_code == 200
    assert api(supervisor).post(f"/api/v1/callbacks/{queue['else'].pk}/done/").status_code == 404
    assert Case.objects.filter(pk=queue["else"].case_id).exists()
