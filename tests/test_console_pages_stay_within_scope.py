"""The permission matrix of the console's routes, like the API's: every page and form answers 404
to a person whose role does not have it or whose scope does not hold its object (never 403, so ids
do not leak), and writes nothing. The table names every route of console/urls.py: a new route
fails here until it is given its row."""

import pytest
from django.urls import URLPattern

from cases.models import Case, Note
from console import urls
from tests import factories
from tests.console import sign_in

pytestmark = pytest.mark.django_db

ROLES = ("operator", "supervisor", "agency", "admin", "stranger")
OK = (200, 302)

# route name -> (method, the roles answered (others: 404)).
MATRIX = {
    "home": ("get", {"operator", "supervisor", "agency", "admin", "stranger"}),
    "sign-in": ("get", {"operator", "supervisor", "agency", "admin", "stranger"}),
    "sign-out": ("post", {"operator", "supervisor", "agency", "admin", "stranger"}),
    "language": ("post", {"operator", "supervisor", "agency", "admin", "stranger"}),
    "account": ("get", {"operator", "supervisor", "agency", "admin", "stranger"}),
    "password": ("get", {"operator", "supervisor", "agency", "admin", "stranger"}),
    "notifications": ("get", {"operator", "supervisor", "agency", "admin", "stranger"}),
    "queue": ("get", {"operator", "supervisor", "stranger"}),
    "queue-rows": ("get", {"operator", "supervisor", "stranger"}),
    "chats": ("get", {"operator", "supervisor", "stranger"}),
    "chat-rows": ("get", {"operator", "supervisor", "stranger"}),
    "search": ("get", {"operator", "supervisor", "stranger"}),
    "callbacks": ("get", {"operator", "supervisor", "stranger"}),
    "dashboard": ("get", {"supervisor"}),
    "dashboard-figures": ("get", {"supervisor"}),
    "escalations": ("get", {"supervisor"}),
    "inbox": ("get", {"agency"}),
    # The objects below belong to the operator's helpline and case: a stranger (another helpline's
    # operator) has the page, not the object.
    "case": ("get", {"operator", "supervisor"}),
    "conversation": ("get", {"operator", "supervisor"}),
    "history": ("get", {"supervisor"}),
    "dismiss": ("post", {"operator", "supervisor"}),
    "transition": ("post", {"operator", "supervisor"}),
    "details": ("post", {"operator", "supervisor"}),
    "note": ("post", {"operator", "supervisor"}),
    "reply": ("post", {"operator", "supervisor"}),
    "consent": ("post", {"operator", "supervisor"}),
    "refer": ("post", {"operator", "supervisor"}),
    "acknowledge": ("post", {"supervisor"}),
    "referral": ("get", {"agency"}),
    "contact": ("post", {"operator", "supervisor"}),
    "transfer": ("post", {"operator", "supervisor"}),
    "link": ("post", {"operator", "supervisor"}),
    "callback-done": ("post", {"operator", "supervisor"}),
    "notification-rows": ("get", {"operator", "supervisor", "agency", "admin", "stranger"}),
}


def test_the_matrix_names_every_route():
    """The console's own routes here; the administrators' and the supervisors' oversight pages in
    their own tests' matrices (tests/test_console_admins_*.py, test_console_supervisors_*.py)."""
    names = {p.name for p in urls.urlpatterns if isinstance(p, URLPattern)}
    assert names == set(MATRIX)


@pytest.fixture
def world(helpline, operator, supervisor, agency_user, admin_user):
    from cases.models import Escalation
    from channels_sms.models import Callback
    from referrals.models import AgencyMembership

    case = factories.CaseFactory(helpline=helpline, assigned_to=operator, state="assessment")
    factories.ContactFactory(case=case, channel="sms", call_type="")
    agency = AgencyMembership.objects.get(user=agency_user).agency
    referral = factories.ReferralFactory(case=case, agency=agency, packet_json='{"reference": "R"}')
    escalation = Escalation.objects.create(
        case=case, helpline=helpline, due_at=case.state_changed_at, state=case.state
    )
    elsewhere = factories.HelplineFactory(code="ELSEWHERE")
    stranger = factories.OperatorFactory(username="stranger", helpline=elsewhere)
    people = {
        "operator": operator,
        "supervisor": supervisor,
        "agency": agency_user,
        "admin": admin_user,
        "stranger": stranger,
    }
    contact = case.contacts.get()
    callback = Callback.objects.create(
        helpline=helpline, contact=contact, case=case, reason="no-answer", requested_at=case.state_changed_at
    )
    kwargs = {
        "case_id": case.pk,
        "referral_id": referral.pk,
        "escalation_id": escalation.pk,
        "contact_id": contact.pk,
        "callback_id": callback.pk,
    }
    return people, kwargs, case


def _path(name: str, kwargs: dict) -> str:
    from django.urls import reverse

    pattern = next(p for p in urls.urlpatterns if p.name == name)
    wanted = {k: v for k, v in kwargs.items() if k in pattern.pattern.converters}
    return reverse(f"console:{name}", kwargs=wanted)


@pytest.mark.parametrize("role", ROLES)
def test_each_role_has_its_pages_and_nothing_else(world, role):
    people, kwargs, case = world
    client = sign_in(people[role])
    for name, (method, allowed) in MATRIX.items():
        if name in ("sign-out",):
            continue
        path = _path(name, kwargs)
        answer = client.get(path) if method == "get" else client.post(path, {})
        if role in allowed:
            # A form posted empty is refused for what it lacks (400/409), never for scope.
            assert answer.status_code != 404, (role, name, answer.status_code)
        else:
            assert answer.status_code == 404, (role, name, answer.status_code)
    case.refresh_from_db()
    assert case.state == "assessment"


def test_a_case_outside_scope_is_not_found_and_not_written(world, helpline):
    people, _kwargs, _case = world
    restricted = factories.CaseFactory(helpline=helpline, restricted=True, state="assessment")
    client = sign_in(people["operator"])
    assert client.get(f"/console/cases/{restricted.pk}/").status_code == 404
    assert client.post(f"/console/cases/{restricted.pk}/notes/", {"body": "x"}).status_code == 404
    assert (
        client.post(
            f"/console/cases/{restricted.pk}/transition/", {"name": "close", "reason": "x"}
        ).status_code
        == 404
    )
    assert not Note.objects.filter(case=restricted).exists()
    assert Case.objects.get(pk=restricted.pk).state == "assessment"
    assert client.get("/console/cases/999999999/").status_code == 404


def test_another_agencys_referral_is_not_found(world, helpline):
    _people, kwargs, _case = world
    other = factories.AgencyUserFactory(username="health1", helpline=helpline)
    client = sign_in(other)
    assert client.get(f"/console/referrals/{kwargs['referral_id']}/").status_code == 404
    answer = client.post(f"/console/referrals/{kwargs['referral_id']}/", {"answer": "accept"})
    assert answer.status_code == 404


def test_the_menu_offers_only_the_persons_pages(world):
    people, _kwargs, _case = world
    expected = {
        "operator": ["Queue", "Waiting chats", "Search", "Callbacks", "On-call rota", "Notifications"],
        "supervisor": [
            "Queue",
            "Waiting chats",
            "Search",
            "Callbacks",
            "Dashboard",
            "Escalations",
            "Canned replies",
            "Numbers",
            "On-call rota",
            "Notifications",
            "Audit",
            "Workload",
            "Break-glass",
        ],
        "agency": ["Referrals", "Notifications"],
        "admin": [
            "People",
            "Teams",
            "Canned replies",
            "Agencies",
            "Settings",
            "Numbers",
            "On-call rota",
            "Notifications",
        ],
    }
    import re

    for role, labels in expected.items():
        html = sign_in(people[role]).get("/console/account/").content.decode()
        nav = html[html.index("<nav") : html.index("</nav>")]
        assert re.findall(r'data-key="[a-z]">([^<]+)</a>', nav) == labels, role
