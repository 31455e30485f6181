"""Demo data: helpline DEMO with a team, staff, partner agencies and a dozen cases across states.
Idempotent: a second run changes nothing (and with --if-empty says so). Supervisors and
administrators sign in with a TOTP code too: their demo authenticator secret is --totp-secret, or one
made on the first run and printed then."""

import base64
import binascii
import secrets
from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from cases.models import Case
from cases.services import case_create, case_transition, case_update, category_defaults_install, note_create
from channels_sms.models import PhoneNumber
from helpline.models import Helpline, Role, Team, User
from helpline.services import SECOND_FACTOR_ROLES
from referrals.memberships import agency_membership_set
from referrals.models import Agency, AgencySector
from referrals.services import consent_record, referral_create

# Published demo password (README, docs/decisions.md); --password sets another.
DEFAULT_PASSWORD = "Lifeline-demo-2026"  # nosec B105
TOTP_DEVICE_NAME = "Demo authenticator"

STAFF = [
    ("operator1", Role.OPERATOR, "Amani", "Operator"),
    ("operator2", Role.OPERATOR, "Bat-Erdene", "Operator"),
    ("supervisor1", Role.SUPERVISOR, "Carmen", "Supervisor"),
    ("admin1", Role.ADMIN, "Dana", "Admin"),
]
AGENCIES = [
    ("police", "Police — Child Protection Unit", AgencySector.POLICE, "police1", ["investigation", "rescue"]),
    ("health", "District Hospital", AgencySector.HEALTH, "health1", ["medical_care", "forensic_exam"]),
    (
        "social",
        "Department of Children's Services",
        AgencySector.SOCIAL_SERVICES,
        "social1",
        ["child_protection", "alternative_care"],
    ),
]

# Twilio numbers of the demo helpline (+15005550006 is Twilio's test number, the other its
# WhatsApp sandbox).
NUMBERS = [("+15005550006", "sms"), ("+15005550006", "voice"), ("whatsapp:+14155238886", "whatsapp")]


class Command(BaseCommand):
    help = "Create the DEMO helpline, its users, agencies and example cases (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--password", default=None, help=f"Password for every demo user (default {DEFAULT_PASSWORD!r})."
        )
        parser.add_argument("--if-empty", action="store_true", help="Do nothing if the DEMO helpline exists.")
        parser.add_argument(
            "--totp-secret",
            default=None,
            help="Base32 TOTP secret for the demo supervisors' and administrators' authenticator "
            "(replaces theirs). Without it, the first run makes one and prints it.",
        )

    def handle(self, *args, password=None, if_empty=False, totp_secret=None, **options):
        if if_empty and Helpline.objects.filter(code="DEMO").exists():
            self.stdout.write("Demo data present; leaving it as it is.")
            return
        password = password or DEFAULT_PASSWORD
        totp_key = _totp_key(totp_secret) if totp_secret else None
        with transaction.atomic():
            helpline, _ = Helpline.objects.get_or_create(
                code="DEMO",
                defaults={
                    "name": "Demo Child Helpline 116",
                    "country": "KE",
                    "timezone": "Africa/Nairobi",
                    "default_language": "en",
                },
            )
            category_defaults_install(helpline=helpline)
            team, _ = Team.objects.get_or_create(helpline=helpline, name="Day shift")
            users = {}
            for username, role, first, last in STAFF:
                users[username] = self._user(
                    username,
                    password,
                    role=role,
                    helpline=helpline,
                    team=team if role in (Role.OPERATOR, Role.SUPERVISOR) else None,
                    first_name=first,
                    last_name=last,
                )
            for code, name, sector, username, services in AGENCIES:
                agency, _ = Agency.objects.get_or_create(
                    helpline=helpline,
                    code=code,
                    defaults={
                        "name": name,
                        "sector": sector,
                        "country": helpline.country,
                        "service_types": services,
                    },
                )
                users[username] = self._user(
                    username, password, role=Role.AGENCY, helpline=helpline, agency=agency
                )
            for number, channel in NUMBERS:
                PhoneNumber.objects.get_or_create(
                    number=number, channel=channel, defaults={"helpline": helpline}
                )
            if not Case.objects.filter(helpline=helpline).exists():
                self._cases(users)
            new_secret = self._authenticators(users, totp_key)
        self.stdout.write(
            self.style.SUCCESS(f"Demo helpline DEMO ready. Users: {', '.join(users)}; password: {password}")
        )
        needing = ", ".join(name for name, user in users.items() if user.role in SECOND_FACTOR_ROLES)
        if new_secret:
            # Shown this once: it is stored only as the devices' key.
            self.stdout.write(
                self.style.WARNING(
                    f"{needing} also sign in with a TOTP code. Authenticator secret: {new_secret} "
                    f"(otpauth://totp/Lifeline:demo?secret={new_secret}&issuer=Lifeline)"
                )
            )
        elif totp_secret:
            self.stdout.write(f"{needing} sign in with a TOTP code from the secret given (--totp-secret).")
        else:
            self.stdout.write(
                f"{needing} sign in with a TOTP code from the secret printed when the demo was first "
                "loaded (seed_demo --totp-secret BASE32 sets another)."
            )

    def _authenticators(self, users, key: str | None) -> str:
        """Gives each demo supervisor and administrator a confirmed TOTP device with `key` (hex); with
        no key, those without a device get one with a new secret, which is returned (base32)."""
        new_secret = ""  # nosec B105  # "no new secret yet", not a credential
        for user in users.values():
            if user.role not in SECOND_FACTOR_ROLES:
                continue
            device = TOTPDevice.objects.filter(user=user, name=TOTP_DEVICE_NAME).first()
            if key is None and device is not None:
                continue
            if key is None:
                new_secret = new_secret or base64.b32encode(secrets.token_bytes(20)).decode()
                device_key = base64.b32decode(new_secret).hex()
            else:
                device_key = key
            device = device or TOTPDevice(user=user, name=TOTP_DEVICE_NAME)
            if device.key != device_key:
                device.key, device.last_t = device_key, -1  # a new secret starts a new code sequence
            device.confirmed = True
            device.full_clean()
            device.save()
        return new_secret

    def _user(self, username, password, agency=None, **fields) -> User:
        user = User.objects.filter(username=username).first()
        if user is None:
            user = User(username=username, **fields)
            user.set_password(password)
            user.full_clean()
            user.save()
            if agency is not None:
                agency_membership_set(user, agency)
        return user

    def _cases(self, users) -> None:
        op1, op2, sup = users["operator1"], users["operator2"], users["supervisor1"]
        now = timezone.now()
        # Intake queue
        case_create(
            actor=op1,
            call_type="child",
            channel="walk_in",
            summary="Girl, 14, came to the office.",
            categories=["bullying"],
            child_age=14,
            child_gender="girl",
        )
        case_create(
            actor=op2,
            call_type="caller_about_child",
            channel="walk_in",
            risk_level="high",
            categories=["physical_violence"],
            reporter_relation="other_family",
        )
        case_create(
            actor=op1,
            call_type="child",
            channel="walk_in",
            risk_level="critical",
            categories=["suicidal_thoughts"],
            child_age_range="14-17",
        )
        case_create(
            actor=op2,
            call_type="child",
            channel="walk_in",
            vulnerability_flags=["child_on_the_move"],
            categories=["unaccompanied_migrant"],
        )
        silent = case_create(actor=op1, call_type="silent", channel="walk_in")
        case_transition(actor=op1, case=silent, name="dismiss", reason="Silent contact, no child identified.")
        prank = case_create(actor=op2, call_type="prank", channel="walk_in")
        case_transition(actor=op2, case=prank, name="dismiss", reason="Prank.")
        # Assessment
        for categories, risk in ((["anxiety"], "medium"), (["neglect"], "high")):
            case = case_create(actor=op1, call_type="child", channel="walk_in", categories=categories)
            case_transition(actor=op1, case=case, name="start_assessment")
            case_update(actor=op1, case=case, risk_level=risk)
            note_create(actor=op1, case=case, body="Initial assessment call held.")
        # Referral
        case = case_create(
            actor=op2,
            call_type="caller_about_child",
            channel="walk_in",
            categories=["sexual_violence"],
            child_first_name="Sarangerel",
            child_age=12,
            child_gender="girl",
            child_area="Bayanzurkh district",
            child_location="Khoroo 4, building 12",
            safe_contact="Through the school social worker, weekdays 9-15.",
        )
        case_transition(actor=op2, case=case, name="start_assessment")
        case_update(actor=op2, case=case, risk_level="high")
        consent_record(
            actor=op2,
            case=case,
            given_by="caregiver",
            given_at=now,
            scope=["referral", "information_sharing"],
        )
        for code, service in (("police", "investigation"), ("health", "forensic_exam")):
            referral_create(
                actor=op2,
                case=case,
                agency=Agency.objects.get(helpline=case.helpline, code=code),
                service_type=service,
                urgency="urgent",
                reason="Disclosure of sexual abuse by a neighbour.",
                summary="12-year-old girl disclosed abuse by an adult neighbour; needs protection "
                "and a medical examination.",
            )
        case_transition(actor=op2, case=case, name="refer")
        # Follow-up
        case = case_create(actor=op1, call_type="child", channel="walk_in", categories=["depression"])
        case_transition(actor=op1, case=case, name="start_assessment")
        case_update(actor=op1, case=case, risk_level="low")
        case_transition(
            actor=op1, case=case, name="start_follow_up", follow_up_due_at=now + timedelta(days=3)
        )
        # Closed
        case = case_create(actor=op2, call_type="child", channel="walk_in", categories=["loneliness"])
        case_transition(actor=op2, case=case, name="start_assessment")
        case_update(actor=op2, case=case, risk_level="low")
        case_transition(
            actor=op2, case=case, name="close", reason="Child supported; no further action needed."
        )
        case = case_create(actor=op1, call_type="child", channel="walk_in", categories=["child_marriage"])
        case_transition(actor=op1, case=case, name="start_assessment")
        case_update(actor=op1, case=case, risk_level="critical")
        case_transition(
            actor=sup, case=case, name="close", reason="Handed to the police child protection unit."
        )


def _totp_key(secret: str) -> str:
    """An authenticator app's base32 secret (spaces and letter case as people type them) as the hex
    key django-otp stores."""
    cleaned = secret.replace(" ", "").upper()
    try:
        raw = base64.b32decode(cleaned + "=" * (-len(cleaned) % 8))
    except binascii.Error:
        raise CommandError("--totp-secret must be base32 (letters A-Z and digits 2-7).") from None
    if not 10 <= len(raw) <= 40:
        raise CommandError("--totp-secret must hold 10 to 40 bytes (16 to 64 base32 characters).")
    return raw.hex()
