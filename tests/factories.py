from datetime import timedelta

import factory
from django.db import transaction
from django.utils import timezone

from cases.models import Case, Contact, Note
from cases.services import category_defaults_install
from helpline.models import Helpline, Role, Team, User
from referrals.models import Agency, AgencyMembership, AgencySector, Referral

PASSWORD = "Correct-horse-battery-9"


class HelplineFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Helpline
        django_get_or_create = ("code",)
        skip_postgeneration_save = True

    code = factory.Sequence(lambda n: f"HL{n}")
    name = factory.LazyAttribute(lambda o: f"Helpline {o.code}")
    country = "KE"
    timezone = "Africa/Nairobi"

    @factory.post_generation
    def categories(self, create, extracted, **kwargs):
        if create:
            category_defaults_install(helpline=self)


class TeamFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Team

    helpline = factory.SubFactory(HelplineFactory)
    name = factory.Sequence(lambda n: f"Team {n}")


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    role = Role.OPERATOR
    helpline = factory.SubFactory(HelplineFactory)
    team = factory.LazyAttribute(
        lambda o: (
            TeamFactory(helpline=o.helpline)
            if o.role in (Role.OPERATOR, Role.SUPERVISOR) and o.helpline
            else None
        )
    )
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def _save(self, create, extracted, **kwargs):
        if create:
            self.save()


class OperatorFactory(UserFactory):
    role = Role.OPERATOR


class SupervisorFactory(UserFactory):
    role = Role.SUPERVISOR


class AdminFactory(UserFactory):
    role = Role.ADMIN
    team = None


class AgencyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Agency

    helpline = factory.SubFactory(HelplineFactory)
    code = factory.Sequence(lambda n: f"agency{n}")
    name = factory.LazyAttribute(lambda o: o.code.title())
    sector = AgencySector.POLICE
    country = factory.LazyAttribute(lambda o: o.helpline.country)
    service_types = factory.LazyFunction(list)


class AgencyUserFactory(UserFactory):
    """A partner-agency user and the agency they work for (`agency=`; a new one by default)."""

    role = Role.AGENCY
    team = None
    agency = factory.SubFactory(AgencyFactory, helpline=factory.SelfAttribute("..helpline"))

    @classmethod
    def _create(cls, model_class, *args, agency, **kwargs):
        # One transaction: the database checks at commit that an agency user works for an agency.
        with transaction.atomic():
            user = super()._create(model_class, *args, **kwargs)
            AgencyMembership.objects.create(user=user, agency=agency)
        return user


class CaseFactory(factory.django.DjangoModelFactory):
    """A case written straight to the table (no service, no audit): for setting up scope tests.
    Tests of behaviour create cases through the API or services."""

    class Meta:
        model = Case

    helpline = factory.SubFactory(HelplineFactory)
    reference = factory.Sequence(lambda n: f"T-{n:06d}")
    state = "intake"
    state_changed_at = factory.LazyFunction(timezone.now)


class ContactFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Contact

    helpline = factory.LazyAttribute(lambda o: o.case.helpline if o.case else HelplineFactory())
    case = None
    channel = "walk_in"
    call_type = "child"
    started_at = factory.LazyFunction(timezone.now)


class NoteFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Note

    case = factory.SubFactory(CaseFactory)
    author = factory.SubFactory(OperatorFactory)
    body = "A note."


class ReferralFactory(factory.django.DjangoModelFactory):
    """A referral written straight to the table (no consent check, no audit, no notification): for
    setting up cases whose workflow depends on their referrals. Behaviour tests refer through the
    API."""

    class Meta:
        model = Referral

    case = factory.SubFactory(CaseFactory)
    helpline = factory.LazyAttribute(lambda o: o.case.helpline)
    agency = factory.LazyAttribute(lambda o: AgencyFactory(helpline=o.case.helpline))
    created_by = factory.LazyAttribute(lambda o: OperatorFactory(helpline=o.case.helpline))
    state = "sent"
    service_type = "investigation"
    urgency = "urgent"
    reason = "Reason for the helpline."
    summary = "Summary for the agency."
    consent_basis = "consent"
    sent_at = factory.LazyFunction(timezone.now)
    respond_by = factory.LazyFunction(lambda: timezone.now() + timedelta(hours=24))
