"""`manage.py twilio_webhooks` sets our numbers' webhooks at Twilio (a fake Twilio, a real local
HTTP server) so that Twilio retries a failed webhook (connection overrides) and then tries a
Fallback URL: a dry run reports each change and changes nothing, --apply makes exactly those
changes to our numbers only, a second run finds nothing to change, and failures exit non-zero with
a clear message, never the auth token."""

import contextlib
import io
import socket

import pytest
from django.core.management import load_command_class
from django.urls import resolve

from channels_sms.models import PhoneNumber

from . import factories
from .fake_twilio import FakeTwilio

# run_from_argv closes the database connections, as manage.py does: transactional tests.
pytestmark = pytest.mark.django_db(transaction=True)

ACCOUNT = "AC" + "7" * 32
TOKEN = "twilio-webhooks-secret-token-0123456789"
PUBLIC = "https://helpline.example.org"
FALLBACK = "https://fallback.example.org"
OVERRIDES = "#rc=3&rp=ct,rt,5xx&ct=2000&rt=5000&tt=12000"
BOTH, VOICE_ONLY, SMS_ONLY = "+15005550006", "+15005550007", "+15005550008"
NOT_OURS, INACTIVE, MISSING = "+15005550009", "+15005550010", "+15005550011"
WHATSAPP = "whatsapp:+14155238886"
APP = "AP" + "3" * 32

SMS_WANTED = {
    "sms_url": f"{PUBLIC}/webhooks/twilio/sms/{OVERRIDES}",
    "sms_method": "POST",
    "sms_fallback_url": f"{FALLBACK}/webhooks/twilio/sms/fallback/",
    "sms_fallback_method": "POST",
}
VOICE_WANTED = {
    "voice_url": f"{PUBLIC}/webhooks/twilio/voice/{OVERRIDES}",
    "voice_method": "POST",
    "voice_fallback_url": f"{FALLBACK}/webhooks/twilio/voice/fallback/",
    "voice_fallback_method": "POST",
    "status_callback": f"{PUBLIC}/webhooks/twilio/voice/status/{OVERRIDES}",
    "status_callback_method": "POST",
}


@pytest.fixture
def fake(settings):
    server = FakeTwilio().start()
    server.page_size = 2  # five numbers: three pages
    settings.TWILIO_ACCOUNT_SID = ACCOUNT
    settings.TWILIO_AUTH_TOKEN = TOKEN
    settings.TWILIO_API_BASE_URL = server.url
    settings.TWILIO_HTTP_TIMEOUT_SECONDS = 2.0
    settings.PUBLIC_BASE_URL = PUBLIC
    settings.TWILIO_FALLBACK_BASE_URL = FALLBACK
    yield server
    server.stop()


@pytest.fixture
def numbers(fake, helpline):
    """Ours: one number for SMS and voice, one for voice, one for SMS, a WhatsApp sender and an SMS
    number this account lacks; at Twilio also someone else's number and one we deactivated."""
    for number, channel in [(BOTH, "sms"), (BOTH, "voice"), (VOICE_ONLY, "voice"), (SMS_ONLY, "sms")]:
        PhoneNumber.objects.create(helpline=helpline, channel=channel, number=number)
    PhoneNumber.objects.create(helpline=helpline, channel="whatsapp", number=WHATSAPP)
    PhoneNumber.objects.create(helpline=helpline, channel="sms", number=MISSING)
    PhoneNumber.objects.create(helpline=helpline, channel="sms", number=INACTIVE, is_active=False)
    fake.add_number(
        ACCOUNT, BOTH, sms_url="https://old.example.org/sms", voice_url="https://old.example.org/voice"
    )
    fake.add_number(
        ACCOUNT, VOICE_ONLY, sms_url="https://elsewhere.example.org/sms", voice_application_sid=APP
    )
    fake.add_number(ACCOUNT, SMS_ONLY, sms_method="get")
    fake.add_number(
        ACCOUNT, NOT_OURS, sms_url="https://other-app.example.org/sms", voice_url="https://x.example/v"
    )
    fake.add_number(ACCOUNT, INACTIVE, sms_url="https://old.example.org/sms")
    fake.add_number("AC" + "8" * 32, "+15005550099")  # another account's: never listed
    return fake


def run(*args: str) -> tuple[int, str, str]:
    """Runs the command as manage.py does: (exit status, stdout, stderr). Never the token."""
    out, err = io.StringIO(), io.StringIO()
    status = 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        command = load_command_class("channels_sms", "twilio_webhooks")
        try:
            command.run_from_argv(["manage.py", "twilio_webhooks", *args])
        except SystemExit as exit:
            status = exit.code
    assert TOKEN not in out.getvalue() and TOKEN not in err.getvalue()
    return status, out.getvalue(), err.getvalue()


def snapshot(fake: FakeTwilio) -> dict[str, dict]:
    return {sid: dict(number) for sid, number in fake.numbers.items()}


def test_a_dry_run_reports_each_change_and_changes_nothing(numbers):
    before = snapshot(numbers)
    status, out, err = run()
    assert status == 0 and err == ""
    assert numbers.number_updates == [] and snapshot(numbers) == before
    lines = out.splitlines()
    assert f"{BOTH} (sms, voice) {numbers.number(BOTH)['sid']}:" in lines
    assert f"    sms_url: https://old.example.org/sms -> {SMS_WANTED['sms_url']}" in lines
    assert f"    voice_url: https://old.example.org/voice -> {VOICE_WANTED['voice_url']}" in lines
    assert f"    sms_fallback_url: (empty) -> {SMS_WANTED['sms_fallback_url']}" in lines
    assert f"    status_callback: (empty) -> {VOICE_WANTED['status_callback']}" in lines
    assert "    sms_method: get -> POST" in lines  # SMS_ONLY's
    assert not any(line.startswith("    voice_") for line in out.split(f"{SMS_ONLY} (sms)")[1].splitlines())
    assert "Dry run: 11 change(s) on 3 number(s); nothing was changed." in out
    # Every page of the account's numbers was read, with the account's credentials.
    pages = [r for r in numbers.requests if r["method"] == "GET"]
    assert len(pages) == 3 and all(r["auth"] == f"{ACCOUNT}:{TOKEN}" for r in pages)


def test_apply_sets_retrying_webhooks_and_fallbacks_on_our_numbers_only(numbers):
    before = snapshot(numbers)
    status, out, _ = run("--apply")
    assert status == 0 and "Applied: 11 change(s) on 3 number(s)." in out

    both, voice_only, sms_only = (numbers.number(n) for n in (BOTH, VOICE_ONLY, SMS_ONLY))
    assert {name: both[name] for name in SMS_WANTED | VOICE_WANTED} == SMS_WANTED | VOICE_WANTED
    assert {name: voice_only[name] for name in VOICE_WANTED} == VOICE_WANTED
    assert voice_only["sms_url"] == "https://elsewhere.example.org/sms"  # not an SMS number of ours
    assert {name: sms_only[name] for name in SMS_WANTED} == SMS_WANTED
    assert sms_only["voice_url"] == ""
    # Someone else's number and our deactivated one are as they were; one request per changed
    # number of ours, holding only its changed fields.
    for number in (NOT_OURS, INACTIVE):
        sid = numbers.number(number)["sid"]
        assert numbers.numbers[sid] == before[sid]
    updates = numbers.number_updates
    assert [u["path"].rsplit("/", 1)[1] for u in updates] == [
        f"{n['sid']}.json" for n in (both, voice_only, sms_only)
    ]
    assert set(updates[2]["form"]) == {"SmsUrl", "SmsMethod", "SmsFallbackUrl"}
    assert all(u["auth"] == f"{ACCOUNT}:{TOKEN}" for u in updates)
    # The primary URLs are our webhooks (the fragment never reaches us).
    for url, view in [
        (SMS_WANTED["sms_url"], "twilio-sms"),
        (VOICE_WANTED["voice_url"], "twilio-voice"),
        (VOICE_WANTED["status_callback"], "twilio-voice-status"),
    ]:
        assert resolve(url.removeprefix(PUBLIC).split("#")[0]).url_name == view


def test_a_second_run_finds_nothing_to_change(numbers):
    assert run("--apply")[0] == 0
    updates = len(numbers.number_updates)
    status, out, _ = run()
    assert status == 0
    for number in (BOTH, VOICE_ONLY, SMS_ONLY):
        assert any(
            line.startswith(number) and line.endswith(": nothing to change") for line in out.splitlines()
        )
    assert out.splitlines()[-1] == "Nothing to change."
    status, out, _ = run("--apply")
    assert status == 0 and out.splitlines()[-1] == "Nothing to change."
    assert len(numbers.number_updates) == updates


def test_numbers_not_ours_whatsapp_senders_and_overriding_settings_are_reported(numbers):
    _, out, _ = run()
    assert f"Not an active number of ours, left untouched: {NOT_OURS}, {INACTIVE}" in out
    assert f"Ours but not in this Twilio account: {MISSING} (sms)" in out
    assert "WhatsApp senders, not configurable here" in out and WHATSAPP in out
    assert f"    attention: voice_application_sid {APP} is set: Twilio uses its URLs for calls" in out
    assert "+15005550099" not in out  # another account's number


def test_the_fallback_base_defaults_to_the_public_base_url(numbers, settings):
    settings.TWILIO_FALLBACK_BASE_URL = ""
    status, out, _ = run("--apply")
    assert status == 0
    both = numbers.number(BOTH)
    assert both["sms_fallback_url"] == f"{PUBLIC}/webhooks/twilio/sms/fallback/"
    assert both["voice_fallback_url"] == f"{PUBLIC}/webhooks/twilio/voice/fallback/"
    assert "Note: The Fallback URLs point at PUBLIC_BASE_URL, the same node" in out


@pytest.mark.parametrize("missing", ["TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN"])
def test_missing_credentials_exit_non_zero_with_a_clear_message(numbers, settings, missing):
    setattr(settings, missing, "")
    status, out, err = run("--apply")
    assert status == 1 and out == ""
    assert err.startswith("CommandError: Twilio credentials are missing: set " + missing)
    assert numbers.requests == []


def test_a_twilio_error_exits_non_zero_with_what_twilio_said(numbers):
    numbers.plan = [401]
    status, out, err = run("--apply")
    assert status == 1 and out == ""
    assert "Listing the account's numbers at Twilio failed: Twilio answered HTTP 401 (error 20003" in err
    assert "Authentication Error" in err
    assert numbers.number_updates == []


def test_a_failed_update_names_what_was_done_and_a_rerun_finishes(numbers):
    numbers.plan = ["ok", "ok", "ok", "ok", 500]  # three pages, the first update, then a 500
    status, _, err = run("--apply")
    assert status == 1
    assert f"Updating {VOICE_ONLY} at Twilio failed: Twilio answered HTTP 500 (error 20500" in err
    assert f"Updated before it: {BOTH}; run again to finish" in err
    assert numbers.number(BOTH)["sms_url"] == SMS_WANTED["sms_url"]
    assert numbers.number(SMS_ONLY)["sms_url"] == ""
    tried = len(numbers.number_updates)
    status, out, _ = run("--apply")
    assert status == 0 and "Applied: 6 change(s) on 2 number(s)." in out
    assert len(numbers.number_updates) == tried + 2
    assert numbers.number(SMS_ONLY)["sms_url"] == SMS_WANTED["sms_url"]


def test_twilio_out_of_reach_exits_non_zero(numbers, settings):
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings.TWILIO_API_BASE_URL = f"http://127.0.0.1:{port}"
    status, _, err = run()
    assert status == 1
    assert (
        f"Listing the account's numbers at Twilio failed: could not connect to http://127.0.0.1:{port}" in err
    )


@pytest.mark.parametrize(
    ("name", "value"),
    [("PUBLIC_BASE_URL", "http://127.0.0.1:8000"), ("TWILIO_FALLBACK_BASE_URL", "http://localhost:8001")],
)
def test_an_address_twilio_cannot_reach_is_refused(numbers, settings, name, value):
    setattr(settings, name, value)
    status, _, err = run("--apply")
    assert status == 1 and "names this machine only: Twilio cannot reach it" in err
    assert numbers.requests == []


def test_numbers_of_other_helplines_are_configured_too(fake):
    # The account serves every helpline: numbers are matched whichever helpline they belong to.
    other = factories.HelplineFactory()
    PhoneNumber.objects.create(helpline=other, channel="sms", number=SMS_ONLY)
    fake.add_number(ACCOUNT, SMS_ONLY)
    assert run("--apply")[0] == 0
    assert fake.number(SMS_ONLY)["sms_url"] == SMS_WANTED["sms_url"]
