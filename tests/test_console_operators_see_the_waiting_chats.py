"""Operators see the web chats waiting for an operator's first reply on a page of their own, in
the order the children wait, each with the place the child is shown in the chat; the rows refresh
themselves and a refresh is on record only when the rows change. A chat whose case the operator
may not see is left out and keeps its place."""

import re

import pytest

from cases.models import Case
from helpline.models import AuditEntry
from tests.console import sign_in
from tests.test_chat_greets_and_tells_the_queue_position import case_of, poll, start, write

pytestmark = pytest.mark.django_db

CHATS = "/console/chats/"
ROWS = "/console/chats/rows/?poll=1"


@pytest.fixture(autouse=True)
def chat_rates(settings):
    settings.CHAT_RATES = {
        "chat_session_create": "1000/min",
        "chat_message_session": "1000/min",
        "chat_message_ip": "1000/min",
    }


def shown(html: str) -> list[tuple[int, str]]:
    """(place, case reference) of each row, top to bottom."""
    return [
        (int(place), reference)
        for place, reference in re.findall(
            r"<tr data-row[^>]*>\s*<td>(\d+)</td>\s*<td><a [^>]*>([^<]+)</a>", html
        )
    ]


def reference(session) -> str:
    return Case.objects.get(pk=case_of(session)).reference


def test_the_waiting_chats_in_the_order_the_children_wait_with_their_places(api, operator, helpline):
    helpline.languages = ["es"]
    helpline.save()
    first, second, third = start(helpline), start(helpline), start(helpline, "es")
    start(helpline)  # opened, never written: not waiting for anyone
    write(second, "I wrote first")
    write(first)
    write(third)
    client = sign_in(operator)
    page = client.get(CHATS)
    assert page.status_code == 200
    html = page.content.decode()
    assert shown(html) == [(1, reference(second)), (2, reference(first)), (3, reference(third))]
    assert "Spanish" in html
    assert [poll(s)["queue_position"] for s in (second, first, third)] == [1, 2, 3]  # what they see
    assert 'hx-trigger="every' in html
    assert "Waiting chats" in html[html.index("<nav") : html.index("</nav>")]

    # Answered: out of the line, and everyone behind moves up.
    answer = api(operator).post(f"/api/v1/cases/{case_of(second)}/messages/", {"body": "Hi"}, format="json")
    assert answer.status_code == 201
    assert shown(client.get(ROWS).content.decode()) == [(1, reference(first)), (2, reference(third))]


def test_a_chat_hidden_from_the_operator_is_left_out_and_keeps_its_place(operator, helpline):
    first, second = start(helpline), start(helpline)
    write(first)
    write(second)
    Case.objects.filter(pk=case_of(first)).update(restricted=True)
    html = sign_in(operator).get(CHATS).content.decode()
    assert shown(html) == [(2, reference(second))]
    assert reference(first) not in html


def test_the_page_is_on_record_and_its_refreshes_only_when_the_rows_change(operator, helpline):
    first = start(helpline)
    write(first)
    client = sign_in(operator)
    client.get(CHATS)
    entries = AuditEntry.objects.filter(actor=operator, action="case.list")
    assert entries.count() == 1
    assert entries.get().extra["case_ids"] == [case_of(first)]
    for _ in range(3):
        assert client.get(ROWS).status_code == 200
    assert entries.count() == 1
    second = start(helpline)
    write(second)
    client.get(ROWS)
    assert entries.count() == 2
    assert entries.order_by("-id").first().extra["case_ids"] == [case_of(first), case_of(second)]


def test_nobody_waiting_says_so(operator):
    html = sign_in(operator).get(CHATS).content.decode()
    assert "No chat is waiting" in html


@pytest.mark.parametrize("role", ["agency", "admin"])
def test_people_who_see_no_cases_have_no_such_page(role, agency_user, admin_user):
    client = sign_in({"agency": agency_user, "admin": admin_user}[role])
    assert client.get(CHATS).status_code == 404
    assert client.get(ROWS).status_code == 404
