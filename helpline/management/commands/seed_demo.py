"""Demo data: helpline DEMO with a team, staff, partner agencies and a dozen cases across states.
Idempotent: a second run changes nothing (and with --if-empty says so)."""

from datetime import timedelta

from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from cases.models import Case
from cases.services import case_create, case_transition, case_update, category_defaults_install, note_create
from helpline.models import Helpline, Role, Team, User
from referrals.models import Agency, AgencyKind

DEFAULT_PASSWORD = "Lifeline-demo-2026"

STAFF = [
    ("operator1", Role.OPERATOR, "Amani", "Operator"),
    ("operator2", Role.OPERATOR, "Bat-Erdene", "Operator"),
    ("supervisor1", Role.SUPERVISOR, "Carmen", "Supervisor"),
    ("admin1", Role.ADMIN, "Dana", "Admin"),
]
AGENCIES = [
    ("police", "Police — Child Protection Unit", AgencyKind.POLICE, "police1"),
    ("health", "District Hospital", AgencyKind.HEALTH, "health1"),
    ("social", "Department of Children's Services", AgencyKind.SOCIAL_SERVICES, "social1"),
]


class Command(BaseCommand):
    help = "Create the DEMO helpline, its users, agencies and example cases (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--password", default=None, help=f"Password for every demo user (default {DEFAULT_PASSWORD!r})."
        )
        parser.add_argument("--if-empty", action="store_true", help="Do nothing if the DEMO helpline exists.")

    def handle(self, *args, password=None, if_empty=False, **options):
        if if_empty and Helpline.objects.filter(code="DEMO").exists():
            self.stdout.write("Demo data present; leaving it as it is.")
            return
        password = password or DEFAULT_PASSWORD
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
            for code, name, kind, username in AGENCIES:
                agency, _ = Agency.objects.get_or_create(
                    helpline=helpline, code=code, defaults={"name": name, "kind": kind}
                )
                users[username] = self._user(
                    username, password, role=Role.AGENCY, helpline=helpline, agency=agency
                )
            if not Case.objects.filter(helpline=helpline).exists():
                self._cases(users)
        self.stdout.write(
            self.style.SUCCESS(f"Demo helpline DEMO ready. Users: {', '.join(users)}; password: {password}")
        )

    def _user(self, username, password, **fields) -> User:
        user = User.objects.filter(username=username).first()
        if user is None:
            user = User(username=username, **fields)
            user.set_password(password)
            user.full_clean()
            user.save()
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
            actor=op2, call_type="caller_about_child", channel="walk_in", categories=["sexual_violence"]
        )
        case_transition(actor=op2, case=case, name="start_assessment")
        case_update(actor=op2, case=case, risk_level="high")
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
