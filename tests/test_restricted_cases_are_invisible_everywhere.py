"""A restricted case is invisible to a supervisor who is not on its need-to-know list, on every route
of the API: no list, detail, filter, export, audit entry or user's activity shows it or anything of
it, and asking for it (or its contact, escalation, callback, referral) answers exactly what asking
for an object that does not exist answers.

The routes are read from the URL table, so a new route is covered the day it is added: a path
parameter this file does not know how to fill fails the test until it is taught. The hidden case has
a history made through the API by the people on its list (opened, restricted, worked on, read,
listed, searched for, a break-glass access by another supervisor); its id is a number that appears
nowhere else, so finding it anywhere in an answer is finding the case.

Each probe runs in a transaction rolled back after it: a refused request is recorded naming the id
asked for, whether a case with it exists or not, so the reader's own probes must not show up in the
next answer as if they were the case.

A few routes show a restricted case to such a supervisor by design; they are listed in `BY_DESIGN`
with the reason, and nothing else may be."""

import re
from datetime import date, timedelta
from typing import Any, NamedTuple

import pytest
from django.db import transaction
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone
from knox.models import AuthToken

from cases.models import Case, Contact, Escalation
from channels_sms.chat import chat_session_create
from channels_sms.models import CannedReply, Message, PhoneNumber, VoiceRoute
from channels_sms.voice import callback_request
from helpline.services import token_id
from notifications.models import Notification, NotificationKind
from referrals.models import Consent
from reports.models import Export

from . import factories

HIDDEN_ID = 770077007  # the restricted case's id: nine digits no other value has
NOWHERE = 987654321  # an id no object has
IDENTIFIER = "d" * 64  # the reporter's identifier hash: the hidden case's and a visible one's
MARKS = (
    str(HIDDEN_ID),
    "CASE-HIDDEN",
    "HIDDEN-LOCATION",
    "HIDDEN-CONTACT",
    "HIDDEN-NOTE",
    "HIDDEN-REFERRAL",
    "HIDDEN-MESSAGE",
    "HIDDEN-GLASS-REASON",
)
HTTP_METHODS = ("get", "post", "put", "patch", "delete")

# (method, route) -> why the route shows a restricted case to a supervisor not on its list.
BY_DESIGN = {
    ("get", "break-glass/"): "the review queue: every break-glass access is reviewed by another "
    "supervisor of the helpline, who need not be on the case's list (docs/decisions.md)",
    ("post", "break-glass/{grant_id}/review/"): "reviewing an access in that queue",
    ("post", "cases/{case_id}/break-glass/"): "breaking the glass is for the restricted cases of the "
    "caller's helpline they are not on the list of; a refusal is on the record",
}


class Operation(NamedTuple):
    method: str
    route: str  # under /api/v1/, with its path parameters as {name}
    view: type


def api_operations() -> list[Operation]:
    """Every method of every route under /api/v1/, from the URL table."""
    found: list[Operation] = []

    def walk(patterns, prefix: str) -> None:
        for entry in patterns:
            route = prefix + str(entry.pattern)
            if isinstance(entry, URLResolver):
                walk(entry.url_patterns, route)
            elif isinstance(entry, URLPattern) and route.startswith("api/v1/"):
                path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", route.removeprefix("api/v1/"))
                cls = entry.callback.cls
                found.extend(Operation(m, path, cls) for m in HTTP_METHODS if hasattr(cls, m))

    walk(get_resolver().url_patterns, "")
    return sorted(found, key=lambda op: (op.route, op.method))


OPERATIONS = api_operations()


class World:
    """Helpline DEMO: the hidden case, restricted by `member` to `operator`, with everything a case
    has, and a visible case of the same reporter; `reader` is a supervisor not on the list."""

    def __init__(self, api, helpline, team, operator, supervisor, agency_user):
        self.api = api
        self.reader = factories.SupervisorFactory(username="reader", helpline=helpline, team=team)
        member, self.member, self.operator = supervisor, supervisor, operator
        glass_breaker = factories.SupervisorFactory(username="glass", helpline=helpline, team=team)
        hidden = factories.CaseFactory(
            id=HIDDEN_ID,
            helpline=helpline,
            team=team,
            reference="CASE-HIDDEN",
            child_location="HIDDEN-LOCATION",
            state="referral",
            risk_level="high",
            assigned_to=operator,
            reporter_phone_hash=IDENTIFIER,
        )
        visible = factories.CaseFactory(
            helpline=helpline, team=team, reference="CASE-SEEN", reporter_phone_hash=IDENTIFIER
        )
        contact = factories.ContactFactory(case=hidden, summary="HIDDEN-CONTACT", channel="sms")
        factories.ContactFactory(case=visible, summary="CONTACT-SEEN")
        self.loose = factories.ContactFactory(helpline=helpline, case=None, summary="CONTACT-LOOSE")
        factories.NoteFactory(case=hidden, author=operator, body="HIDDEN-NOTE")
        Message.objects.create(
            helpline=helpline,
            case=hidden,
            contact=contact,
            channel="sms",
            direction="inbound",
            body="HIDDEN-MESSAGE",
            at=timezone.now(),
        )
        escalation = Escalation.objects.create(
            case=hidden,
            helpline_id=helpline.pk,
            team=team,
            due_at=timezone.now() - timedelta(minutes=5),
            state=hidden.state,
            risk_level=hidden.risk_level,
        )
        callback = callback_request(contact=contact, reason="no-answer", at=contact.started_at)
        Consent.objects.create(
            case=hidden, given_by="child", given_at=timezone.now(), scope=["referral"], recorded_by=operator
        )
        referral = factories.ReferralFactory(
            case=hidden,
            agency=agency_user.agency_membership.agency,
            created_by=operator,
            state="sent",
            summary="HIDDEN-REFERRAL",
        )
        # The hidden case handed over to its operator: their inbox names it.
        notification = Notification.objects.create(
            user=operator,
            helpline=helpline,
            kind=NotificationKind.CASE_TRANSFERRED,
            case_id=hidden.pk,
            reference=hidden.reference,
            link=f"/cases/{hidden.pk}/",
        )
        self.hidden_objects = {
            "notification_id": notification.pk,
            "case_id": hidden.pk,
            "contact_id": contact.pk,
            "escalation_id": escalation.pk,
            "callback_id": callback.pk,
            "referral_id": referral.pk,
        }

        # Its history, made by the people on its list and by a break-glass access.
        by_member, by_operator = api(member), api(operator)
        case_url = f"/api/v1/cases/{HIDDEN_ID}/"
        expect(by_member.put(case_url + "access/", {"users": [operator.pk]}, format="json"), 200)
        expect(
            by_operator.patch(
                case_url, {"categories": ["bullying"], "risk_level": "critical"}, format="json"
            ),
            200,
        )
        for url in (case_url, case_url + "notes/", case_url + "messages/", case_url + "referrals/"):
            expect(by_operator.get(url), 200)
        expect(by_operator.post(case_url + "transitions/", {}, format="json"), 400)  # a refusal naming it
        for url, params in (
            ("/api/v1/cases/", {"page_size": 200}),
            ("/api/v1/contacts/", {"page_size": 200}),
            ("/api/v1/escalations/", {}),
            ("/api/v1/callbacks/", {}),
            ("/api/v1/referrals/", {"case": HIDDEN_ID}),
            (f"/api/v1/contacters/{IDENTIFIER}/", {}),
            ("/api/v1/audit/", {"case": HIDDEN_ID}),
            ("/api/v1/audit/export/", {"case": HIDDEN_ID}),
            (f"/api/v1/users/{operator.pk}/activity/", {}),
        ):
            expect(by_member.get(url, params), 200)
        # Linked to the visible case: the link's entries on the visible case name it only in
        # `case_ids`, which the audit log shows a reader only for cases they may see.
        link = by_member.post(
            f"/api/v1/cases/{visible.pk}/links/", {"case": HIDDEN_ID, "kind": "sibling"}, format="json"
        )
        expect(link, 201)
        self.hidden_objects["link_id"] = link.json()["id"]
        expect(by_member.get(f"/api/v1/cases/{visible.pk}/links/"), 200)
        expect(
            api(glass_breaker).post(
                case_url + "break-glass/", {"reason": "HIDDEN-GLASS-REASON"}, format="json"
            ),
            201,
        )
        expect(api(glass_breaker).get(case_url), 200)

        token = AuthToken.objects.create(user=self.reader)[0]
        voice = PhoneNumber.objects.create(helpline=helpline, channel="voice", number="+254700000500")
        reply = CannedReply.objects.create(
            helpline=helpline, language="en", title="Hello", body="Hello.", created_by=member
        )
        self.bindings: dict[str, list[Any]] = {
            **{name: [pk] for name, pk in self.hidden_objects.items()},
            # A loose contact too: attaching it to the hidden case names the case in the body.
            "contact_id": [contact.pk, self.loose.pk],
            "user_id": [operator.pk, member.pk, self.reader.pk],
            "identifier_hash": [IDENTIFIER],
            "grant_id": [NOWHERE],
            "token_id": [token_id(token)],
            "helpline_id": [helpline.pk],
            "team_id": [team.pk],
            "agency_id": [agency_user.agency_membership.agency_id],
            "reply_id": [reply.pk],
            "phone_number_id": [voice.pk],
            "voice_route_id": [VoiceRoute.objects.create(number=voice, dial_numbers="+254700000501").pk],
            "session_id": [str(chat_session_create(helpline_code=helpline.code, language="en").session.pk)],
            # The reader's own full export of the month (queued): it must hold no hidden case either.
            "export_id": [
                Export.objects.create(
                    helpline=helpline,
                    requested_by=self.reader,
                    dataset="cases",
                    file_format="csv",
                    mode="full",
                    reason="An inquiry",
                    date_from=date(2026, 11, 1),
                    date_to=date(2026, 11, 30),
                ).pk
            ],
        }
        # Filters a list may be asked with, each chosen so that the hidden case would match it.
        self.filters = {
            "case": HIDDEN_ID,
            "reference": "CASE-HIDDEN",
            "object_id": str(HIDDEN_ID),
            "object_type": "cases.case",
            "actor": operator.pk,
            "state": "referral",
            "risk_level": "critical",
            "category": "bullying",
            "team": team.pk,
            "assigned_to": operator.pk,
            "channel": "sms",
        }


def expect(response, status: int) -> None:
    assert response.status_code == status, (response.status_code, response.content[:300])


@pytest.fixture
def world(api, helpline, team, operator, supervisor, agency_user):
    return World(api, helpline, team, operator, supervisor, agency_user)


# A filter's value for the twin request: one naming no case.
TWIN_FILTERS = {"case": NOWHERE, "reference": "CASE-NOWHERE", "object_id": str(NOWHERE)}


class Probe(NamedTuple):
    method: str
    url: str
    params: dict | None
    body: dict | None


def probes(w: World, op: Operation) -> list[tuple[Probe, Probe | None]]:
    """The requests to send for an operation, each with its twin for an object that does not exist
    (None when the request names nothing of the hidden case's own)."""
    names = re.findall(r"{(\w+)}", op.route)
    unknown = [name for name in names if name not in w.bindings]
    assert not unknown, f"{op.method.upper()} {op.route}: teach this test how to fill {unknown}"
    combinations: list[dict[str, Any]] = [{}]
    for name in names:
        combinations = [{**c, name: value} for c in combinations for value in w.bindings[name]]
    out = []
    for kwargs in combinations:
        twin_kwargs = {
            name: NOWHERE if w.hidden_objects.get(name) == value else value for name, value in kwargs.items()
        }

        def url(values: dict[str, Any]) -> str:
            return "/api/v1/" + op.route.format(**values)

        names_hidden = twin_kwargs != kwargs
        if op.method == "get":
            twin = Probe("get", url(twin_kwargs), None, None) if names_hidden else None
            out.append((Probe("get", url(kwargs), None, None), twin))
            declared = getattr(op.view, "filterset_class", None)
            for name in declared.base_filters if declared else ():
                if name not in w.filters:
                    continue
                params = {name: w.filters[name]}
                twin_params = {name: TWIN_FILTERS.get(name, w.filters[name])}
                twin = None
                if names_hidden or name in TWIN_FILTERS:
                    twin = Probe("get", url(twin_kwargs), twin_params, None)
                out.append((Probe("get", url(kwargs), params, None), twin))
        else:
            for body, twin_body in (({}, {}), ({"case": HIDDEN_ID}, {"case": NOWHERE})):
                twin = None
                if names_hidden or body:
                    twin = Probe(op.method, url(twin_kwargs), None, twin_body)
                out.append((Probe(op.method, url(kwargs), None, body), twin))
    return out


def send(w: World, probe: Probe) -> tuple[int, str]:
    """The status and the text of the answer (of every page, for a list)."""
    client = w.api(w.reader)
    client.raise_request_exception = False
    with transaction.atomic():
        if probe.method == "get":
            response = client.get(probe.url, probe.params)
        else:
            response = getattr(client, probe.method)(probe.url, probe.body, format="json")
        # The notification stream ends by itself after NOTIFICATION_STREAM_SECONDS.
        content = b"".join(response.streaming_content) if response.streaming else response.content
        status, text, pages = response.status_code, content.decode(errors="replace"), 0
        while response.status_code == 200 and response["Content-Type"] == "application/json":
            body = response.json()
            if not (isinstance(body, dict) and body.get("next")) or pages > 50:
                break
            response, pages = client.get(body["next"]), pages + 1
            text += response.content.decode(errors="replace")
            status = max(status, response.status_code)  # a later page that fails fails the probe
        transaction.set_rollback(True)
    return status, text


@pytest.mark.parametrize(
    "op",
    [op for op in OPERATIONS if (op.method, op.route) not in BY_DESIGN],
    ids=lambda op: f"{op.method.upper()} {op.route}",
)
def test_a_restricted_case_is_invisible_to_a_supervisor_not_on_its_list(world, op):
    problems = []
    for probe, twin in probes(world, op):
        status, content = send(world, probe)
        where = f"{probe.method.upper()} {probe.url} {probe.params or probe.body or ''}"
        if status >= 500:
            problems.append(f"{where}: {status}")
        shown = [mark for mark in MARKS if mark in content]
        if shown:
            problems.append(f"{where}: the answer shows {shown}: {content[:400]}")
        if twin is not None:
            twin_status, _ = send(world, twin)
            if twin_status != status:
                problems.append(
                    f"{where}: answers {status}, but {twin_status} for an object that does not exist "
                    f"({twin.url} {twin.params or twin.body or ''})"
                )
    assert not problems, "\n".join(problems)


def test_the_routes_shown_by_design_are_routes_the_api_serves():
    served = {(op.method, op.route) for op in OPERATIONS}
    assert set(BY_DESIGN) <= served


def test_the_world_hides_the_case_from_the_reader_and_shows_it_to_the_list(world):
    """The property is about something: the people on the list see the case and its history."""
    assert world.api(world.reader).get(f"/api/v1/cases/{HIDDEN_ID}/").status_code == 404
    assert world.api(world.member).get(f"/api/v1/cases/{HIDDEN_ID}/").status_code == 200
    rows = world.api(world.member).get("/api/v1/audit/", {"case": HIDDEN_ID}).json()["results"]
    assert {"case.restrict", "case.update", "case.read", "case.break_glass"} <= {
        row["action"] for row in rows
    }
    lists = world.api(world.member).get("/api/v1/audit/", {"action": "case.list"}).json()["results"]
    assert any(HIDDEN_ID in row["extra"]["case_ids"] for row in lists)
    assert Case.objects.get(pk=HIDDEN_ID).restricted
    assert Contact.objects.filter(case_id=HIDDEN_ID).exists()
