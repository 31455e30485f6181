"""Agency webhook URLs cannot reach Lifeline's own network (server-side request forgery).

Only https is accepted (http only where AGENCY_WEBHOOK_ALLOW_HTTP says so), and no host that is
or resolves to a non-public address: refused when the URL is saved, and again when a request goes
out, after the name is resolved (DNS rebinding), connecting to the checked address. The delivery
log agencies read shows a generic outcome, never the connection error's text."""

from __future__ import annotations

import ipaddress
import json

import pytest
from django.conf import settings as django_settings

from referrals import endpoints, tasks
from referrals.models import Delivery
from tests import factories
from tests.processes import free_port
from tests.test_agency_webhooks_are_signed_and_retried import SECRET, Receiver, refer

PUBLIC = "93.184.216.34"  # a public address (nothing is sent to it in these tests)

NOT_ALLOWED = [
    "ftp://files.example.org/lifeline",
    "file:///etc/passwd",
    "gopher://127.0.0.1:6379/_INFO",
    "http://police.example.org/lifeline",  # plain http: only where a setting allows it
    "https://127.0.0.1/lifeline",
    "https://127.1.2.3:8443/lifeline",
    "https://localhost/lifeline",
    "https://10.1.2.3/lifeline",
    "https://172.16.0.1/lifeline",
    "https://192.168.1.1/lifeline",
    "https://169.254.169.254/latest/meta-data/",
    "https://100.64.0.1/lifeline",
    "https://0.0.0.0/lifeline",
    "https://224.0.0.1/lifeline",
    "https://255.255.255.255/lifeline",
    "https://[::1]/lifeline",
    "https://[::]/lifeline",
    "https://[fd00::1]/lifeline",
    "https://[fe80::1]/lifeline",
    "https://[::ffff:127.0.0.1]/lifeline",
    "https://[::ffff:10.0.0.1]/lifeline",
    "https://[2002:7f00:1::1]/lifeline",  # 6to4 around 127.0.0.1
    "https://[64:ff9b::a00:1]/lifeline",  # NAT64 around 10.0.0.1
    "https://[ff02::1]/lifeline",
    "https://user:pass@police.example.org/lifeline",
]


@pytest.fixture
def dns(monkeypatch):
    """Plays DNS: `dns[name] = [addresses]`, or a list of answers given in turn (DNS rebinding).
    Every look-up is recorded in `dns.asked`."""

    class Dns(dict):
        asked: list[str]

    table = Dns()
    table.asked = []

    def resolve(host: str, port: int) -> list:
        table.asked.append(host)
        answer = table.get(host)
        if answer is None:
            raise OSError(f"{host} does not resolve")
        if answer and isinstance(answer[0], list):  # answers in turn
            answer = answer.pop(0) if len(answer) > 1 else answer[0]
        return [ipaddress.ip_address(a) for a in answer]

    monkeypatch.setattr(endpoints, "resolve", resolve)
    return table


@pytest.fixture
def receiver():
    receiver = Receiver(SECRET)
    receiver.start()
    yield receiver
    receiver.stop()


def test_the_relaxations_are_off_by_default():
    assert django_settings.AGENCY_WEBHOOK_ALLOW_HTTP is False
    assert django_settings.AGENCY_WEBHOOK_ALLOW_NON_PUBLIC is False


@pytest.mark.parametrize("url", NOT_ALLOWED)
def test_a_webhook_url_that_is_not_https_on_a_public_address_is_refused_when_saved(
    api, admin_user, helpline, dns, url
):
    dns["localhost"] = ["127.0.0.1"]
    dns["police.example.org"] = [PUBLIC]
    agency = api(admin_user).post(
        "/api/v1/agencies/",
        {
            "code": "police",
            "name": "Police",
            "sector": "police",
            "webhook_url": url,
            "webhook_secret": SECRET,
        },
        format="json",
    )
    assert agency.status_code == 400, (url, agency.json())
    assert [e["attr"] for e in agency.json()["errors"]] == ["webhook_url"]
    assert agency.json()["type"] == "validation_error"

    existing = factories.AgencyFactory(helpline=helpline)
    patched = api(admin_user).patch(
        f"/api/v1/agencies/{existing.pk}/", {"webhook_url": url, "webhook_secret": SECRET}, format="json"
    )
    assert patched.status_code == 400, (url, patched.json())
    assert [e["attr"] for e in patched.json()["errors"]] == ["webhook_url"]
    existing.refresh_from_db()
    assert existing.webhook_url == "" and not existing.webhook_changes.exists()


@pytest.mark.parametrize("addresses", [["10.0.0.7"], [PUBLIC, "127.0.0.1"], ["fd12:3456::1"]])
def test_a_name_resolving_to_a_non_public_address_is_refused_when_saved(
    api, admin_user, helpline, dns, addresses
):
    dns["hooks.police.example.org"] = addresses
    response = api(admin_user).post(
        "/api/v1/agencies/",
        {
            "code": "police",
            "name": "Police",
            "sector": "police",
            "webhook_url": "https://hooks.police.example.org/lifeline",
            "webhook_secret": SECRET,
        },
        format="json",
    )
    assert response.status_code == 400, response.json()
    assert response.json()["errors"][0]["attr"] == "webhook_url"


def test_https_on_a_public_address_is_accepted(api, admin_user, dns):
    dns["hooks.police.example.org"] = [PUBLIC, "2606:2800:220:1:248:1893:25c8:1946"]
    response = api(admin_user).post(
        "/api/v1/agencies/",
        {
            "code": "police",
            "name": "Police",
            "sector": "police",
            "webhook_url": "https://hooks.police.example.org:8443/lifeline?unit=7",
            "webhook_secret": SECRET,
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    [change] = response.json()["webhook_changes"]
    assert change["url"] == "https://hooks.police.example.org:8443/lifeline?unit=7"


def test_plain_http_is_accepted_only_where_the_setting_allows_it(api, admin_user, helpline, dns, settings):
    dns["police.example.org"] = [PUBLIC]
    agency = factories.AgencyFactory(helpline=helpline)
    body = {"webhook_url": "http://police.example.org/lifeline", "webhook_secret": SECRET}
    assert api(admin_user).patch(f"/api/v1/agencies/{agency.pk}/", body, format="json").status_code == 400
    settings.AGENCY_WEBHOOK_ALLOW_HTTP = True
    assert api(admin_user).patch(f"/api/v1/agencies/{agency.pk}/", body, format="json").status_code == 200
    refused = api(admin_user).patch(
        f"/api/v1/agencies/{agency.pk}/", {"webhook_url": "ftp://police.example.org/x"}, format="json"
    )
    assert refused.status_code == 400 and refused.json()["errors"][0]["attr"] == "webhook_url"


def test_every_kind_of_non_public_address_is_recognised():
    public = ["8.8.8.8", PUBLIC, "2606:4700:4700::1111", "2a00:1450:4001:80b::200e"]
    non_public = [
        "127.0.0.1", "10.0.0.1", "172.31.255.255", "192.168.0.1", "169.254.169.254", "100.64.0.1",
        "100.127.255.254", "0.0.0.0", "224.0.0.251", "239.255.255.250", "240.0.0.1", "255.255.255.255",
        "192.0.2.1", "198.18.0.1", "::1", "::", "fc00::1", "fd00::1", "fe80::1", "ff02::1", "ff0e::1",
        "::ffff:127.0.0.1", "::ffff:192.168.0.1", "2002:7f00:1::1", "2002:a00:1::1", "64:ff9b::7f00:1",
        "2001:db8::1", "2001:0:4136:e378:8000:63bf:3fff:fdd2",
    ]  # fmt: skip
    assert [a for a in public if not endpoints.is_public(ipaddress.ip_address(a))] == []
    assert [a for a in non_public if endpoints.is_public(ipaddress.ip_address(a))] == []


# --- at send time ---------------------------------------------------------------------------------


@pytest.fixture
def local_http(settings):
    """Plain http to a receiver on this machine's loopback, but addresses checked (the default)."""
    settings.AGENCY_WEBHOOK_ALLOW_HTTP = True
    settings.AGENCY_WEBHOOK_ALLOW_NON_PUBLIC = False
    return settings


def with_endpoint(agency, url: str):
    """An endpoint already in use (approved and verified earlier), straight in the table."""
    agency.webhook_url, agency.webhook_secret = url, SECRET
    agency.save()
    return agency


def shown_attempts(api, user, referral_id: int) -> list[dict]:
    [shown] = api(user).get(f"/api/v1/referrals/{referral_id}/deliveries/").json()
    return shown["attempt_log"]


def test_an_endpoint_in_use_on_a_loopback_address_is_not_called(
    api, operator, agency_user, walk_in, receiver, local_http
):
    agency = with_endpoint(agency_user.agency_membership.agency, receiver.url)  # http://127.0.0.1:<port>/...
    referral_id = refer(api, operator, walk_in, agency)
    delivery = Delivery.objects.get(referral_id=referral_id)
    assert tasks.deliver_to_agency(delivery.pk) == "retry"
    assert receiver.requests == [], "nothing may reach a loopback address"
    attempts = shown_attempts(api, agency_user, referral_id)
    assert [(a["outcome"], a["status_code"], a["error"]) for a in attempts] == [
        ("unreachable", None, "refused: address not allowed")
    ]


def test_a_name_that_resolves_to_an_internal_address_at_send_time_is_not_called(
    api, operator, agency_user, walk_in, receiver, local_http, dns
):
    """DNS rebinding: the name was public when saved; now it answers the loopback address."""
    dns["hooks.police.example.org"] = [[PUBLIC], ["127.0.0.1"]]
    url = f"http://hooks.police.example.org:{receiver.server.server_port}/lifeline/webhook"
    assert endpoints.url_problem(url) is None  # when it was saved
    agency = with_endpoint(agency_user.agency_membership.agency, url)
    referral_id = refer(api, operator, walk_in, agency)
    delivery = Delivery.objects.get(referral_id=referral_id)
    assert tasks.deliver_to_agency(delivery.pk) == "retry"
    assert receiver.requests == []
    assert [a["error"] for a in shown_attempts(api, agency_user, referral_id)] == [
        "refused: address not allowed"
    ]


def test_the_request_goes_to_the_address_checked_with_the_urls_host_kept(
    api, operator, agency_user, walk_in, receiver, settings, dns
):
    """Resolved once per attempt, connected to that very address; the Host header stays the URL's."""
    settings.AGENCY_WEBHOOK_ALLOW_HTTP = True
    settings.AGENCY_WEBHOOK_ALLOW_NON_PUBLIC = True  # the checked address is this machine's
    dns["hooks.police.example.org"] = ["127.0.0.1"]  # a name no real resolver knows
    port = receiver.server.server_port
    agency = with_endpoint(
        agency_user.agency_membership.agency, f"http://hooks.police.example.org:{port}/lifeline/webhook"
    )
    referral_id = refer(api, operator, walk_in, agency)
    delivery = Delivery.objects.get(referral_id=referral_id)
    dns.asked.clear()
    assert tasks.deliver_to_agency(delivery.pk) == "delivered"
    assert dns.asked == ["hooks.police.example.org"]
    [received] = receiver.requests
    assert received.refusal == "" and received.event["delivery_id"] == str(delivery.delivery_id)
    assert received.headers["Host"] == f"hooks.police.example.org:{port}"


def test_the_delivery_log_shows_a_generic_outcome_not_the_connection_error(
    api, operator, supervisor, agency_user, walk_in, settings
):
    settings.AGENCY_WEBHOOK_ALLOW_HTTP = True
    settings.AGENCY_WEBHOOK_ALLOW_NON_PUBLIC = True
    port = free_port()  # nothing listens there
    agency = with_endpoint(agency_user.agency_membership.agency, f"http://127.0.0.1:{port}/lifeline/webhook")
    referral_id = refer(api, operator, walk_in, agency)
    delivery = Delivery.objects.get(referral_id=referral_id)
    assert tasks.deliver_to_agency(delivery.pk) == "retry"
    for reader in (agency_user, supervisor):
        response = api(reader).get(f"/api/v1/referrals/{referral_id}/deliveries/")
        assert [a["error"] for a in response.json()[0]["attempt_log"]] == ["connection failed"]
        text = json.dumps(response.json())
        assert "Errno" not in text and "Connection refused" not in text and "HTTPConnectionPool" not in text


# --- https: the address is pinned, the name still checked -------------------------------------------


def make_tls_files(directory, name: str) -> tuple[str, str, str]:
    """A private CA and a certificate it signed for `name`: (CA file, certificate file, key file)."""
    from datetime import UTC, datetime, timedelta

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.now(UTC)

    def certificate(subject, issuer, public_key, signing_key, *, ca: bool, san: str | None = None):
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
            .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(now + timedelta(hours=1))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )
        if san:
            builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(san)]), critical=False)
        return builder.sign(signing_key, hashes.SHA256())

    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca = certificate("Test agency CA", "Test agency CA", ca_key.public_key(), ca_key, ca=True)
    cert = certificate(name, "Test agency CA", key.public_key(), ca_key, ca=False, san=name)
    files = (directory / "ca.pem", directory / "cert.pem", directory / "key.pem")
    files[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    files[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    files[2].write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return tuple(str(f) for f in files)


@pytest.fixture
def tls_receiver(tmp_path, monkeypatch):
    """An https endpoint on the loopback with a certificate for hooks.police.test only, from a CA
    Lifeline is made to trust."""
    import ssl
    from types import SimpleNamespace

    ca_file, cert_file, key_file = make_tls_files(tmp_path, "hooks.police.test")
    monkeypatch.setattr(endpoints, "certifi", SimpleNamespace(where=lambda: ca_file))
    receiver = Receiver(SECRET)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    receiver.server.socket = context.wrap_socket(receiver.server.socket, server_side=True)
    receiver.start()
    yield receiver
    receiver.stop()


@pytest.mark.parametrize("name", ["hooks.police.test", "impostor.police.test"])
def test_over_https_the_pinned_address_is_checked_against_the_urls_name(
    api, operator, agency_user, walk_in, tls_receiver, settings, dns, name
):
    settings.AGENCY_WEBHOOK_ALLOW_NON_PUBLIC = True  # the endpoint is this machine's
    dns[name] = ["127.0.0.1"]
    port = tls_receiver.server.server_port
    agency = with_endpoint(agency_user.agency_membership.agency, f"https://{name}:{port}/lifeline/webhook")
    referral_id = refer(api, operator, walk_in, agency)
    delivery = Delivery.objects.get(referral_id=referral_id)
    outcome = tasks.deliver_to_agency(delivery.pk)
    if name == "hooks.police.test":  # the certificate's name: sent to the address, as that name
        assert outcome == "delivered"
        [received] = tls_receiver.requests
        assert received.refusal == "" and received.headers["Host"] == f"{name}:{port}"
    else:  # the same address, but not the certificate's name
        assert outcome == "retry"
        assert tls_receiver.requests == []
        assert [a["error"] for a in shown_attempts(api, agency_user, referral_id)] == ["TLS handshake failed"]
