"""Signing in is hard to abuse: lockout after repeated failures (per account and per address),
tokens hashed at rest that expire when idle and that their owner can list and revoke, and a TOTP
second factor for supervisors and administrators."""

import base64
import io
import json
import random
import re
from datetime import timedelta

import pytest
import time_machine
from axes.models import AccessAttempt
from django.core.management import CommandError, call_command
from django.utils import timezone
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice
from knox.models import AuthToken

from helpline.models import AuditEntry, User

from .factories import PASSWORD

WRONG = "Wrong-password-123"


def an_address() -> str:
    # Sign-in is also throttled per address in the shared Redis cache: each test signs in from
    # addresses of its own, so test runs never throttle one another.
    return f"10.{random.randrange(256)}.{random.randrange(256)}.{random.randrange(1, 255)}"


def sign_in(api, username, password=PASSWORD, *, ip, otp=None):
    body = {"username": username, "password": password}
    if otp is not None:
        body["otp"] = otp
    return api().post("/api/v1/auth/token/", body, format="json", REMOTE_ADDR=ip)


def error_code(response) -> str:
    body = response.json()
    assert set(body) == {"type", "errors"}, body
    (error,) = body["errors"]
    assert set(error) == {"code", "detail", "attr"} and error["attr"] is None, error
    return error["code"]


def client_with(api, key):
    client = api()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def authenticator(user) -> TOTPDevice:
    return TOTPDevice.objects.create(user=user, name="phone", confirmed=True)


def code(device: TOTPDevice) -> str:
    """The code the person's authenticator app shows now."""
    device.refresh_from_db()
    value = totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits)
    return f"{value:0{device.digits}d}"


def refusals(**filters) -> list[AuditEntry]:
    return list(AuditEntry.objects.filter(outcome="denied", **filters).order_by("id"))


# --- lockout -------------------------------------------------------------------------------------------


def test_five_failures_lock_the_account_whatever_the_address(api, operator, other_operator):
    answers = [sign_in(api, "operator1", WRONG, ip=an_address()) for _ in range(5)]
    assert [r.status_code for r in answers] == [401, 401, 401, 401, 429]
    assert [error_code(r) for r in answers[:4]] == ["authentication_failed"] * 4
    assert error_code(answers[4]) == "locked_out"
    assert "30 minutes" in answers[4].json()["errors"][0]["detail"]

    # The right password, from yet another address, is refused while the account is locked...
    elsewhere = an_address()
    locked = sign_in(api, "operator1", ip=elsewhere)
    assert (locked.status_code, error_code(locked)) == (429, "locked_out")
    # ...but that address is not: another account signs in from it.
    assert sign_in(api, "operator2", ip=elsewhere).status_code == 200

    denied = refusals(action="auth.login", actor=operator)
    assert [e.extra["reason"] for e in denied] == ["invalid_credentials"] * 5 + ["locked_out"]
    (lockout,) = refusals(action="auth.lockout")
    assert (lockout.actor, lockout.extra["username"], lockout.extra["failures"]) == (operator, "operator1", 5)
    assert lockout.helpline_id == operator.helpline_id  # so the helpline's supervisors see it
    recorded = json.dumps([e.extra for e in [*denied, lockout]]) + str(
        list(AccessAttempt.objects.values_list("post_data", "get_data"))
    )
    assert WRONG not in recorded and PASSWORD not in recorded
    assert not AuthToken.objects.filter(user=operator).exists()


def test_five_failures_from_one_address_lock_that_address(api, operator, other_operator):
    address = an_address()
    tried = ["operator2", "nobody", "supervisor9", "operator2", "someone"]
    answers = [sign_in(api, username, WRONG, ip=address) for username in tried]
    assert [r.status_code for r in answers] == [401, 401, 401, 401, 429]
    assert error_code(answers[4]) == "locked_out"

    # No account there had five failures; the address did, so nobody signs in from it...
    locked = sign_in(api, "operator1", ip=address)
    assert (locked.status_code, error_code(locked)) == (429, "locked_out")
    # ...while the same people sign in from elsewhere.
    assert sign_in(api, "operator1", ip=an_address()).status_code == 200
    assert sign_in(api, "operator2", ip=an_address()).status_code == 200

    (lockout,) = refusals(action="auth.lockout")
    assert lockout.client_ip == address and lockout.extra["username"] == "someone"
    assert [e.extra["username"] for e in refusals(action="auth.login", client_ip=address)] == [
        *tried,
        "operator1",
    ]


def test_lockout_ends_thirty_minutes_after_it_began_and_refusals_do_not_extend_it(api, operator):
    address = an_address()
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        for _ in range(5):
            sign_in(api, "operator1", WRONG, ip=address)
    with time_machine.travel(start + timedelta(minutes=29), tick=False):
        assert sign_in(api, "operator1", ip=address).status_code == 429
        assert sign_in(api, "operator1", WRONG, ip=address).status_code == 429
    with time_machine.travel(start + timedelta(minutes=30, seconds=1), tick=False):
        signed_in = sign_in(api, "operator1", ip=address)
        assert signed_in.status_code == 200, signed_in.json()
        # Failures from before the lockout no longer count: one more mistake is just a mistake.
        assert sign_in(api, "operator1", WRONG, ip=address).status_code == 401


def test_locked_out_admin_site_sign_in_answers_the_same_429(client, operator):
    for _ in range(5):
        client.post("/admin/login/", {"username": "operator1", "password": WRONG}, REMOTE_ADDR="10.9.9.9")
    response = client.post(
        "/admin/login/", {"username": "operator1", "password": PASSWORD}, REMOTE_ADDR="10.9.9.8"
    )
    assert response.status_code == 429
    assert error_code(response) == "locked_out"


# --- tokens ----------------------------------------------------------------------------------------------


def test_token_is_stored_only_as_a_hash(api, operator):
    response = sign_in(api, "operator1", ip=an_address())
    assert response.status_code == 200
    key = response.json()["token"]
    (token,) = AuthToken.objects.filter(user=operator)
    assert key not in token.digest and token.digest != key
    assert response.json()["expiry"] == token.expiry.isoformat().replace("+00:00", "Z")
    (entry,) = AuditEntry.objects.filter(action="auth.login", outcome="allowed")
    assert entry.extra == {"token": token.digest[:16], "second_factor": False}
    assert key not in json.dumps(entry.extra)
    operator.refresh_from_db()
    assert operator.last_login is not None


def test_token_expires_after_twelve_idle_hours_and_each_use_extends_it(api, operator):
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        key = sign_in(api, "operator1", ip=an_address()).json()["token"]
    client = client_with(api, key)
    last_use = start
    for hours in (11, 22, 33):  # used every 11 hours: never idle for 12
        last_use = start + timedelta(hours=hours)
        with time_machine.travel(last_use, tick=False):
            assert client.get("/api/v1/auth/me/").status_code == 200, hours
    with time_machine.travel(last_use + timedelta(hours=11, minutes=59), tick=False):
        assert client.get("/api/v1/auth/me/").status_code == 200
        last_use += timedelta(hours=11, minutes=59)
    with time_machine.travel(last_use + timedelta(hours=12, seconds=1), tick=False):
        response = client.get("/api/v1/auth/me/")
        assert (response.status_code, error_code(response)) == (401, "authentication_failed")
    assert not AuthToken.objects.filter(user=operator).exists()


def test_each_sign_in_is_its_own_token_listed_without_the_token_itself(api, operator, other_operator):
    first = sign_in(api, "operator1", ip=an_address()).json()["token"]
    second = sign_in(api, "operator1", ip=an_address()).json()["token"]
    sign_in(api, "operator2", ip=an_address())
    response = client_with(api, second).get("/api/v1/auth/tokens/")
    assert response.status_code == 200
    rows = response.json()["results"]
    assert len(rows) == 2  # the caller's own, not operator2's
    assert all(set(row) == {"id", "created", "expiry", "current"} for row in rows)
    assert [row["current"] for row in rows] == [True, False]  # newest first
    assert {row["id"] for row in rows} == {t.digest[:16] for t in AuthToken.objects.filter(user=operator)}
    body = response.content.decode()
    assert first not in body and second not in body
    assert first[:15] not in body and second[:15] not in body  # nor the stored start of the key


def test_revoking_one_of_my_tokens_signs_only_that_device_out(api, operator):
    phone = client_with(api, sign_in(api, "operator1", ip=an_address()).json()["token"])
    desk = client_with(api, sign_in(api, "operator1", ip=an_address()).json()["token"])
    phone_id = next(
        row["id"] for row in phone.get("/api/v1/auth/tokens/").json()["results"] if row["current"]
    )

    assert desk.delete(f"/api/v1/auth/tokens/{phone_id}/").status_code == 204
    assert phone.get("/api/v1/auth/me/").status_code == 401
    assert desk.get("/api/v1/auth/me/").status_code == 200
    assert phone_id not in {row["id"] for row in desk.get("/api/v1/auth/tokens/").json()["results"]}
    assert desk.delete(f"/api/v1/auth/tokens/{phone_id}/").status_code == 404  # already gone
    (entry,) = AuditEntry.objects.filter(action="auth.token_revoke")
    assert (entry.actor, entry.extra) == (operator, {"token": phone_id})


@pytest.mark.parametrize("token_id", ["theirs", "0123456789abcdef", "zz", "0123456789abcdef0"])
def test_revoking_a_token_that_is_not_mine_is_404_and_revokes_nothing(
    api, operator, other_operator, token_id
):
    theirs, their_key = AuthToken.objects.create(user=other_operator)
    if token_id == "theirs":
        token_id = theirs.digest[:16]
    response = api(operator).delete(f"/api/v1/auth/tokens/{token_id}/")
    assert (response.status_code, error_code(response)) == (404, "not_found")
    assert client_with(api, their_key).get("/api/v1/auth/me/").status_code == 200
    assert not AuditEntry.objects.filter(action="auth.token_revoke").exists()


def test_logout_revokes_only_the_token_it_is_sent_with(api, operator):
    phone = client_with(api, sign_in(api, "operator1", ip=an_address()).json()["token"])
    desk = client_with(api, sign_in(api, "operator1", ip=an_address()).json()["token"])
    assert phone.post("/api/v1/auth/logout/").status_code == 204
    assert phone.get("/api/v1/auth/me/").status_code == 401
    assert desk.get("/api/v1/auth/me/").status_code == 200
    assert AuthToken.objects.filter(user=operator).count() == 1


@pytest.mark.parametrize("change", [{"is_active": False}, {"role": "supervisor"}], ids=str)
def test_deactivation_or_a_new_role_revokes_every_token(api, admin_user, operator, change):
    clients = [api(operator), api(operator)]
    assert all(c.get("/api/v1/auth/me/").status_code == 200 for c in clients)
    response = api(admin_user).patch(f"/api/v1/users/{operator.pk}/", change, format="json")
    assert response.status_code == 200, response.json()
    assert [c.get("/api/v1/auth/me/").status_code for c in clients] == [401, 401]
    assert not AuthToken.objects.filter(user=operator).exists()
    entry = AuditEntry.objects.get(action="user.update")
    assert entry.extra == {"tokens_revoked": 2}


# --- second factor --------------------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["supervisor", "admin_user"])
def test_supervisors_and_admins_need_the_current_totp_code(request, api, who):
    user = request.getfixturevalue(who)
    device = authenticator(user)
    address = an_address()

    missing = sign_in(api, user.username, ip=address)
    assert (missing.status_code, error_code(missing)) == (401, "otp_required")
    assert missing["WWW-Authenticate"] == "Token"
    right = code(device)
    wrong = f"{(int(right) + 1) % 10**6:06d}"
    refused = sign_in(api, user.username, ip=address, otp=wrong)
    assert (refused.status_code, error_code(refused)) == (401, "otp_invalid")
    wrong_password = sign_in(api, user.username, WRONG, ip=address, otp=right)
    assert (wrong_password.status_code, error_code(wrong_password)) == (401, "authentication_failed")

    # django-otp slows down guessing after a wrong code; a moment later the right one works.
    with time_machine.travel(timezone.now() + timedelta(seconds=3)):
        current = code(device)
        accepted = sign_in(api, user.username, ip=address, otp=current)
        assert accepted.status_code == 200, accepted.json()
        assert client_with(api, accepted.json()["token"]).get("/api/v1/auth/me/").status_code == 200
        # A code works once: someone who saw it cannot sign in with it again.
        replayed = sign_in(api, user.username, ip=address, otp=current)
        assert (replayed.status_code, error_code(replayed)) == (401, "otp_invalid")

    assert [e.extra["reason"] for e in refusals(action="auth.login", actor=user)] == [
        "otp_required",
        "otp_invalid",
        "invalid_credentials",
        "otp_invalid",
    ]
    allowed = AuditEntry.objects.get(action="auth.login", outcome="allowed")
    assert allowed.extra["second_factor"] is True
    assert right not in json.dumps([e.extra for e in AuditEntry.objects.all()])


@pytest.mark.parametrize("who", ["supervisor", "admin_user"])
def test_supervisor_or_admin_without_an_authenticator_cannot_sign_in(request, api, who):
    user = request.getfixturevalue(who)
    TOTPDevice.objects.create(user=user, name="never confirmed", confirmed=False)
    response = sign_in(api, user.username, ip=an_address(), otp="123456")
    assert (response.status_code, error_code(response)) == (401, "otp_not_configured")
    assert [e.extra["reason"] for e in refusals(action="auth.login", actor=user)] == ["otp_not_configured"]
    assert not AuthToken.objects.filter(user=user).exists()


@pytest.mark.parametrize("who", ["operator", "agency_user"])
def test_operators_and_agency_users_sign_in_without_a_code(request, api, who):
    user = request.getfixturevalue(who)
    assert sign_in(api, user.username, ip=an_address()).status_code == 200


def test_wrong_codes_count_towards_the_lockout(api, supervisor):
    device = authenticator(supervisor)
    answers = [sign_in(api, "supervisor1", ip=an_address(), otp="000000") for _ in range(5)]
    assert [r.status_code for r in answers] == [401, 401, 401, 401, 429]
    with time_machine.travel(timezone.now() + timedelta(seconds=30)):
        locked = sign_in(api, "supervisor1", ip=an_address(), otp=code(device))
    assert (locked.status_code, error_code(locked)) == (429, "locked_out")
    assert refusals(action="auth.lockout", actor=supervisor)


def test_malformed_code_is_a_validation_error(api, supervisor):
    response = sign_in(api, "supervisor1", ip=an_address(), otp="12ab56")
    assert response.status_code == 400
    assert response.json()["errors"][0]["attr"] == "otp"


# --- demo data ------------------------------------------------------------------------------------------

DEMO_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


def demo_code(secret: str) -> str:
    key = base64.b32decode(secret)
    return f"{totp(key, step=30, t0=0, digits=6):06d}"


def test_seed_demo_gives_supervisors_and_admins_the_given_totp_secret(api, db):
    out = io.StringIO()
    call_command("seed_demo", totp_secret=DEMO_SECRET.lower(), stdout=out)
    assert DEMO_SECRET not in out.getvalue()  # the caller knows it already
    devices = TOTPDevice.objects.filter(confirmed=True)
    assert {d.user.username for d in devices} == {"supervisor1", "admin1"}
    assert {d.key for d in devices} == {base64.b32decode(DEMO_SECRET).hex()}

    for username in ("supervisor1", "admin1"):
        assert sign_in(api, username, "Lifeline-demo-2026", ip=an_address()).status_code == 401
        response = sign_in(api, username, "Lifeline-demo-2026", ip=an_address(), otp=demo_code(DEMO_SECRET))
        assert response.status_code == 200, (username, response.json())
    assert sign_in(api, "operator1", "Lifeline-demo-2026", ip=an_address()).status_code == 200


def test_seed_demo_without_a_secret_makes_one_and_prints_it_once(api, db):
    first, second = io.StringIO(), io.StringIO()
    call_command("seed_demo", stdout=first)
    call_command("seed_demo", stdout=second)
    (secret,) = re.findall(r"secret: ([A-Z2-7]{32})", first.getvalue())
    assert secret not in second.getvalue()
    assert TOTPDevice.objects.filter(user__username="supervisor1").count() == 1
    response = sign_in(api, "supervisor1", "Lifeline-demo-2026", ip=an_address(), otp=demo_code(secret))
    assert response.status_code == 200, response.json()


def test_seed_demo_refuses_a_secret_that_is_not_base32(db):
    with pytest.raises(CommandError, match="base32"):
        call_command("seed_demo", totp_secret="not-base32!")
    assert not User.objects.exists()


def test_password_validators_refuse_weak_passwords(api, admin_user):
    body = {"username": "newbie", "role": "operator"}
    response = api(admin_user).post("/api/v1/users/", body, format="json")
    token = response.json()["set_password"]["token"]
    weak = api().post("/api/v1/auth/password/", {"token": token, "password": "newbie2026"}, format="json")
    assert weak.status_code == 400
    assert {e["attr"] for e in weak.json()["errors"]} == {"password"}
    assert not User.objects.get(username="newbie").has_usable_password()
