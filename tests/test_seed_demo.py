"""The demo data `make run` loads: idempotent, and its logins work."""

import base64

from django.core.management import call_command
from django_otp.oath import totp

from cases.models import Case
from helpline.models import AuditEntry, User


def test_seed_demo_creates_the_demo_helpline_once(api, db):
    secret = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
    call_command("seed_demo", password="Another-demo-password", totp_secret=secret)
    call_command("seed_demo", password="Another-demo-password", totp_secret=secret)
    assert Case.objects.filter(helpline__code="DEMO").count() == 12
    assert set(Case.objects.values_list("state", flat=True)) == {
        "intake",
        "assessment",
        "referral",
        "follow_up",
        "closed",
    }
    usernames = set(User.objects.values_list("username", flat=True))
    assert usernames == {"operator1", "operator2", "supervisor1", "admin1", "police1", "health1", "social1"}
    assert User.objects.get(username="police1").agency_membership.agency.code == "police"
    # Demo cases are made through the services, so their history is on record like any other.
    assert AuditEntry.objects.filter(action="case.create").count() == 12

    # Supervisors sign in with a code of the demo authenticator too.
    otp = f"{totp(base64.b32decode(secret)):06d}"
    response = api().post(
        "/api/v1/auth/token/",
        {"username": "supervisor1", "password": "Another-demo-password", "otp": otp},
        format="json",
    )
    assert response.status_code == 200
