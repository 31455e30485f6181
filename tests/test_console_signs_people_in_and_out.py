"""Signing in to the console: a session, the second factor for supervisors and administrators,
refusals and lockouts on record, the idle timeout (the page's own refreshes do not keep a session
alive), signing out, and the person's language for every word, switchable."""

from datetime import timedelta

import pytest
import time_machine
from django.test import Client
from django.utils import timezone

from helpline.models import AuditEntry
from tests.console import an_address, authenticator, current_code, sign_in
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db


def test_the_sign_in_form_has_labelled_fields():
    html = Client().get("/console/sign-in/").content.decode()
    for label, field in (("Username", "username"), ("Password", "password"), ("Authentication code", "otp")):
        assert f'<label for="{field}">{label}</label>' in html


def test_an_operator_signs_in_with_a_password_and_lands_on_the_queue(operator):
    answer = Client(REMOTE_ADDR=an_address()).post(
        "/console/sign-in/", {"username": "operator1", "password": PASSWORD}
    )
    assert (answer.status_code, answer["Location"]) == (302, "/console/queue/")
    entry = AuditEntry.objects.filter(actor=operator, action="auth.login").last()
    assert entry.extra["session"] is True


def test_a_wrong_password_is_refused_and_recorded(operator):
    answer = Client(REMOTE_ADDR=an_address()).post(
        "/console/sign-in/", {"username": "operator1", "password": "wrong"}
    )
    assert answer.status_code == 401
    assert "Unable to sign in" in answer.content.decode()
    assert AuditEntry.objects.filter(action="auth.login", outcome="denied").exists()


def test_a_supervisor_needs_the_authentication_code(supervisor):
    device = authenticator(supervisor)
    client = Client(REMOTE_ADDR=an_address())
    without = client.post("/console/sign-in/", {"username": "supervisor1", "password": PASSWORD})
    assert without.status_code == 401
    wrong = client.post(
        "/console/sign-in/", {"username": "supervisor1", "password": PASSWORD, "otp": "000000"}
    )
    assert wrong.status_code == 401
    assert client.get("/console/dashboard/").status_code == 302  # still signed out
    # django-otp makes a device wait after a wrong code: a minute later.
    with time_machine.travel(timezone.now() + timedelta(minutes=1), tick=False):
        body = {"username": "supervisor1", "password": PASSWORD, "otp": current_code(device)}
        assert client.post("/console/sign-in/", body)["Location"] == "/console/queue/"
        assert client.get("/console/dashboard/").status_code == 200


def test_five_failures_lock_signing_in(operator):
    client = Client(REMOTE_ADDR=an_address())
    for _ in range(5):
        client.post("/console/sign-in/", {"username": "operator1", "password": "wrong"})
    locked = client.post("/console/sign-in/", {"username": "operator1", "password": PASSWORD})
    assert locked.status_code == 429
    assert AuditEntry.objects.filter(action="auth.lockout").exists()


def test_signed_out_people_are_sent_to_sign_in():
    answer = Client().get("/console/queue/")
    assert (answer.status_code, answer["Location"]) == (302, "/console/sign-in/")
    htmx = Client().get("/console/queue/rows/", headers={"HX-Request": "true"})
    assert htmx.headers["HX-Redirect"] == "/console/sign-in/"


def test_sign_out_ends_the_session(operator):
    client = sign_in(operator)
    assert client.post("/console/sign-out/").status_code == 302
    assert client.get("/console/queue/").status_code == 302
    assert AuditEntry.objects.filter(actor=operator, action="auth.logout").exists()


def test_the_idle_timeout_signs_out_and_refreshes_do_not_count(operator, settings):
    settings.CONSOLE_IDLE_MINUTES = 15
    with time_machine.travel(timezone.now(), tick=False) as clock:
        client = sign_in(operator)
        assert client.get("/console/queue/").status_code == 200
        for _ in range(3):  # the queue refreshing itself for 15 minutes
            clock.shift(300)
            client.get("/console/queue/rows/?poll=1", headers={"HX-Request": "true"})
        clock.shift(60)
        answer = client.get("/console/queue/")
        assert (answer.status_code, answer["Location"]) == (302, "/console/sign-in/?idle=1")
    entry = AuditEntry.objects.filter(actor=operator, action="auth.logout").last()
    assert entry.extra == {"session": True, "idle": True}


def test_activity_keeps_the_session(operator, settings):
    settings.CONSOLE_IDLE_MINUTES = 15
    with time_machine.travel(timezone.now(), tick=False) as clock:
        client = sign_in(operator)
        for _ in range(4):
            clock.shift(600)
            assert client.get("/console/queue/").status_code == 200


def test_every_word_in_the_persons_language_switchable(operator):
    client = sign_in(operator)
    assert "Queue" in client.get("/console/queue/").content.decode()
    answer = client.post("/console/language/", {"language": "es", "back": "/console/queue/"})
    assert answer["Location"] == "/console/queue/"
    operator.refresh_from_db()
    assert operator.language == "es"
    page = client.get("/console/queue/")
    assert page.content.decode().count('lang="es"') >= 1
    assert "Queue</h1>" not in page.content.decode()
    assert client.post("/console/language/", {"language": "xx"}).status_code == 400


def test_a_language_switch_goes_back_only_to_the_console(operator):
    client = sign_in(operator)
    answer = client.post("/console/language/", {"language": "mn", "back": "https://evil.example/"})
    assert answer["Location"] == "/console/queue/"
    answer = client.post("/console/language/", {"language": "mn", "back": "/console//evil.example"})
    assert answer["Location"] == "/console/queue/"


def test_a_dismissal_from_the_live_queue_is_the_persons_activity(operator, helpline, settings):
    from tests import factories

    settings.CONSOLE_IDLE_MINUTES = 15
    with time_machine.travel(timezone.now(), tick=False) as clock:
        client = sign_in(operator)
        for _ in range(4):
            clock.shift(600)
            case = factories.CaseFactory(helpline=helpline)
            factories.ContactFactory(case=case, channel="sms", call_type="")
            dismissed = client.post(
                f"/console/cases/{case.pk}/dismiss/", {"call_type": "silent"}, headers={"HX-Request": "true"}
            )
            assert dismissed.status_code == 200
        assert client.get("/console/queue/").status_code == 200


def test_a_session_the_console_did_not_start_counts_as_idle(operator):
    client = Client(REMOTE_ADDR=an_address())
    client.force_login(operator)  # as the admin site's sign-in would leave it
    answer = client.get("/console/queue/")
    assert answer["Location"] == "/console/sign-in/?idle=1"


def test_one_address_is_throttled_across_the_console_and_the_api(api, operator, settings):
    settings.SIGN_IN_RATE = "3/min"
    address = an_address()
    wrong = {"username": "nobody-here", "password": "wrong"}
    assert api().post("/api/v1/auth/token/", wrong, format="json", REMOTE_ADDR=address).status_code == 401
    client = Client(REMOTE_ADDR=address)
    assert client.post("/console/sign-in/", wrong).status_code == 401
    assert client.post("/console/sign-in/", wrong).status_code == 401
    # The fourth attempt from the address, right password or not: refused before it is checked.
    throttled = client.post("/console/sign-in/", {"username": "operator1", "password": PASSWORD})
    assert throttled.status_code == 429
    assert int(throttled["Retry-After"]) >= 1
    assert "Too many sign-in attempts from this address" in throttled.content.decode()
    assert client.get("/console/queue/").status_code == 302  # not signed in
    assert not AuditEntry.objects.filter(actor=operator, action="auth.login").exists()
    assert api().post("/api/v1/auth/token/", wrong, format="json", REMOTE_ADDR=address).status_code == 429
    # Another address is not held back.
    assert sign_in(operator).get("/console/queue/").status_code == 200
