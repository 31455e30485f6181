"""A person's inbox: their own notifications only, newest first, cursor-paginated, `unread`
filter, unread count, mark one or all read (another person's: 404); and the live stream
(server-sent events) that replays what was missed since Last-Event-ID, delivers a new notification
as it is committed, sends heartbeats, ends after its time and refuses streams past the limit."""

import json

import pytest
from django.db import transaction

from cases.models import Case
from helpline.models import AuditEntry
from notifications import stream
from notifications.models import Notification
from notifications.services import notify_case_transferred

from . import factories


@pytest.fixture
def three_for_operator(walk_in, operator, supervisor):
    """Three notifications for operator1 (three cases transferred to them by supervisor1)."""
    ids = []
    for _ in range(3):
        case = Case.objects.get(pk=walk_in(supervisor)["id"])
        [notification] = notify_case_transferred(case=case, actor=supervisor, to_user=operator)
        ids.append(notification.pk)
    return ids


def test_the_inbox_lists_the_callers_own_newest_first_with_an_unread_filter(
    api, three_for_operator, operator, other_operator
):
    client = api(operator)
    page = client.get("/api/v1/notifications/?page_size=2").json()
    assert [n["id"] for n in page["results"]] == three_for_operator[::-1][:2]
    assert page["next"]  # cursor-paginated
    rest = client.get(page["next"]).json()
    assert [n["id"] for n in rest["results"]] == three_for_operator[:1]
    first = page["results"][0]
    assert first["kind"] == "case_transferred" and first["read_at"] is None
    assert first["link"] == f"/api/v1/cases/{first['case_id']}/"
    assert api(other_operator).get("/api/v1/notifications/").json()["results"] == []
    # The page read is on the record, naming the cases it points at.
    entry = AuditEntry.objects.filter(action="notification.list", actor=operator).first()
    assert entry.extra["ids"] == three_for_operator[::-1][:2]


def test_marking_read_one_and_all_and_the_unread_count(api, three_for_operator, operator, other_operator):
    client = api(operator)
    assert client.get("/api/v1/notifications/unread-count/").json() == {"unread": 3}
    one = three_for_operator[0]
    # Someone else's notification does not exist for them.
    assert api(other_operator).post(f"/api/v1/notifications/{one}/read/").status_code == 404
    response = client.post(f"/api/v1/notifications/{one}/read/")
    assert response.status_code == 200 and response.json()["read_at"]
    assert client.get("/api/v1/notifications/unread-count/").json() == {"unread": 2}
    unread = client.get("/api/v1/notifications/?unread=true").json()["results"]
    assert [n["id"] for n in unread] == three_for_operator[:0:-1]
    read = client.get("/api/v1/notifications/?unread=false").json()["results"]
    assert [n["id"] for n in read] == [one]
    assert client.post("/api/v1/notifications/read-all/").json() == {"marked": 2}
    assert client.get("/api/v1/notifications/unread-count/").json() == {"unread": 0}
    assert client.get("/api/v1/notifications/?unread=maybe").status_code == 400


def events_of(chunks) -> list[dict]:
    """The `notification` events in server-sent-event text chunks."""
    found = []
    for chunk in chunks:
        text = chunk.decode() if isinstance(chunk, bytes) else chunk
        if "event: notification" in text:
            data = next(line[6:] for line in text.splitlines() if line.startswith("data: "))
            found.append(json.loads(data))
    return found


def read_until(content, predicate, *, limit: int = 200) -> list:
    chunks = []
    for chunk in content:
        chunks.append(chunk)
        if predicate(chunk if isinstance(chunk, str) else chunk.decode()):
            return chunks
        assert len(chunks) < limit
    return chunks


@pytest.mark.django_db(transaction=True)
def test_the_stream_replays_what_was_missed_then_delivers_new_ones_live(
    api, settings, three_for_operator, walk_in, operator, supervisor
):
    settings.NOTIFICATION_STREAM_SECONDS = 5
    settings.NOTIFICATION_STREAM_HEARTBEAT_SECONDS = 0.2
    settings.NOTIFICATION_STREAM_LIMIT = 5
    response = api(operator).get(
        "/api/v1/notifications/stream/",
        HTTP_ACCEPT="text/event-stream",
        HTTP_LAST_EVENT_ID=str(three_for_operator[0]),
    )
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/event-stream")
    content = iter(response.streaming_content)
    first = read_until(content, lambda text: ": heartbeat" in text)
    # What came after the last event the console saw, oldest first; then heartbeats.
    assert [e["id"] for e in events_of(first)] == three_for_operator[1:]
    case = Case.objects.get(pk=walk_in(supervisor)["id"])
    with transaction.atomic():  # committed: published to the stream
        [new] = notify_case_transferred(case=case, actor=supervisor, to_user=operator)
    live = read_until(content, lambda text: "event: notification" in text)
    [event] = events_of(live)
    assert (event["id"], event["kind"], event["reference"]) == (new.pk, "case_transferred", case.reference)
    # The stream ends after its time with an `end` event (the console reconnects).
    rest = list(content)
    assert "event: end" in (rest[-1] if isinstance(rest[-1], str) else rest[-1].decode())


def test_streams_past_the_installations_limit_are_refused(api, settings, operator):
    settings.NOTIFICATION_STREAM_LIMIT = 1
    taken = stream.stream_slot()
    try:
        client = api(operator)
        client.raise_request_exception = False  # a 503 is reported as a server error: answer it
        response = client.get("/api/v1/notifications/stream/", HTTP_ACCEPT="text/event-stream")
        assert response.status_code == 503
        assert response["Retry-After"] == "30"
        assert response.json()["errors"][0]["code"] == "service_unavailable"
    finally:
        stream.stream_slot_release(taken)


def test_the_stream_needs_a_signed_in_caller(api):
    assert api().get("/api/v1/notifications/stream/").status_code == 401


def test_an_agency_address_notification_is_in_nobodys_inbox(api, helpline, operator):
    agency = factories.AgencyFactory(helpline=helpline, notify_email="duty@police.example")
    Notification.objects.create(helpline=helpline, kind="agency_referral", agency_id=agency.pk, reference="r")
    assert api(operator).get("/api/v1/notifications/").json()["results"] == []
