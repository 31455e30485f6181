import os

import pytest
from knox.models import AuthToken
from rest_framework.test import APIClient

from . import factories

# The project's commands speak the shell's language (helpline.management.base): the suite runs them,
# and the processes it starts, in a shell that names none, whatever the developer's terminal says.
for _name in ("LANGUAGE", "LC_ALL", "LC_MESSAGES"):
    os.environ.pop(_name, None)
os.environ["LANG"] = "C.UTF-8"


@pytest.fixture
def helpline(db):
    return factories.HelplineFactory(code="DEMO")


@pytest.fixture
def team(helpline):
    return factories.TeamFactory(helpline=helpline, name="Day shift")


@pytest.fixture
def operator(helpline, team):
    return factories.OperatorFactory(username="operator1", helpline=helpline, team=team)


@pytest.fixture
def other_operator(helpline, team):
    """Same helpline and team as `operator`."""
    return factories.OperatorFactory(username="operator2", helpline=helpline, team=team)


@pytest.fixture
def supervisor(helpline, team):
    return factories.SupervisorFactory(username="supervisor1", helpline=helpline, team=team)


@pytest.fixture
def admin_user(helpline):
    return factories.AdminFactory(username="admin1", helpline=helpline)


@pytest.fixture
def agency_user(helpline):
    return factories.AgencyUserFactory(username="police1", helpline=helpline)


@pytest.fixture
def api():
    """api(user) -> an APIClient signed in as that user with a new real token; api() -> anonymous."""

    def make(user=None):
        client = APIClient()
        if user is not None:
            _, key = AuthToken.objects.create(user=user)
            client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
        return client

    return make


@pytest.fixture
def walk_in(api, operator):
    """Opens a walk-in case through the API as `operator`; returns the response JSON."""

    def make(user=None, **fields):
        body = {"call_type": "child", **fields}
        response = api(user or operator).post("/api/v1/cases/", body, format="json")
        assert response.status_code == 201, response.json()
        return response.json()

    return make


@pytest.fixture
def celery_worker():
    """A real Celery worker (in a thread of this process) consuming from the real Redis broker.
    Use with django_db(transaction=True): the worker has its own database connection."""
    from celery.contrib.testing.worker import start_worker

    from config.celery import app

    app.loader.import_default_modules()
    with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=10) as worker:
        yield worker


@pytest.fixture
def sms_number(helpline):
    """The helpline's SMS number (Twilio's test number): inbound webhooks name it as `To`."""
    from channels_sms.models import PhoneNumber

    return PhoneNumber.objects.create(helpline=helpline, channel="sms", number="+15005550006")


@pytest.fixture
def stack(transactional_db, tmp_path):
    """Real processes for one test (tests/processes.py); all stopped, and their database sessions
    gone, before the test database is flushed (transactional_db's teardown runs after this one's).
    Tests that need other settings define their own `stack`."""
    from django.db import connection

    from tests.processes import Stack

    processes = Stack(settings_dict=connection.settings_dict, directory=tmp_path / "processes")
    try:
        yield processes
    finally:
        processes.close()


@pytest.fixture(autouse=True)
def numbers_forgotten():
    """Each test starts with no helpline number kept from another test's database (a process keeps
    the numbers it looked up: channels_sms.selectors)."""
    from channels_sms.selectors import phone_numbers_forget

    phone_numbers_forget()


@pytest.fixture(autouse=True)
def own_spool(settings, tmp_path_factory):
    """Each test has its own empty spool directory (channels_sms.spool), counted afresh."""
    from channels_sms import spool

    settings.SPOOL_DIR = str(tmp_path_factory.mktemp("spool"))
    spool.counted(fresh=True)
