"""Every field an edit endpoint accepts shows up in the `changes` of the entry that records the edit
(issue #13, leak 5: `PATCH /helplines/{id}/ {"retention_years": 1}` recorded `changes: {}`).

The fields are not listed here: they are read from each endpoint's input serializer, so a field
added to an endpoint is checked without touching this test. Each field is changed alone, to a value
derived from its serializer field and different from the current one. Personal and secret fields
may be recorded as changed without their values (helpline.audit.REDACTED), never left out."""

import re
from datetime import timedelta
from typing import Any, NamedTuple

import pytest
from django.utils import timezone
from rest_framework import serializers

from cases.api.serializers import CaseUpdateInput, ContactUpdateInput
from cases.models import Case, Contact
from channels_sms.api.number_views import PhoneNumberUpdateInput, _VoiceRouteFieldsInput
from channels_sms.api.serializers import CannedReplyUpdateInput
from channels_sms.models import CannedReply, PhoneNumber, VoiceRoute
from helpline.api.serializers import HelplineUpdateInput, MeUpdateInput, TeamUpdateInput, UserUpdateInput
from helpline.audit import REDACTED
from helpline.models import AuditEntry, Helpline, Team, User
from referrals.api.serializers import AgencyUpdateInput
from referrals.models import Agency

from . import factories

# Values a field's type cannot tell (a valid time zone, a category of the helpline, a phone number).
SPECIAL: dict[str, Any] = {
    "timezone": "Africa/Kampala",
    "country": "UG",
    "due_policy": {"intake": {"critical": 7}},
    "categories": ["violence"],
    "reporter_phone": "+254700000999",
    "notify_sms": "+254700000998",
    "default_language": "mn",
    "child_language": "sw",
    "label_overrides": {"es": {"channel.chat": "Chat de la línea"}},
    "opening_hours": [{"weekday": "monday", "opens": "08:00", "closes": "20:00"}],
    "chat_greeting": {"en": "Hello from {helpline}, changed."},
    "out_of_hours_message": {"en": "We are closed, changed."},
    "language": "mn",  # a person's, a number's (its helpline speaks it), a canned reply's
    "queue_name": "changed-queue",
    "dial_numbers": ["+254700000997"],
    "emergency_digit": "7",
}


class Edit(NamedTuple):
    """One edit endpoint: who calls it, its input serializer, its path, the row it edits."""

    action: str
    serializer: type[serializers.Serializer]
    who: str
    path: str  # "{pk}": the edited row's id
    model: type


EDITS = [
    Edit("helpline.update", HelplineUpdateInput, "admin", "/api/v1/helplines/{pk}/", Helpline),
    Edit("user.update", UserUpdateInput, "admin", "/api/v1/users/{pk}/", User),
    Edit("user.update", MeUpdateInput, "supervisor", "/api/v1/auth/me/", User),  # their own
    Edit("case.update", CaseUpdateInput, "supervisor", "/api/v1/cases/{pk}/", Case),
    Edit("contact.update", ContactUpdateInput, "supervisor", "/api/v1/contacts/{pk}/", Contact),
    Edit("agency.update", AgencyUpdateInput, "admin", "/api/v1/agencies/{pk}/", Agency),
    Edit("team.update", TeamUpdateInput, "admin", "/api/v1/teams/{pk}/", Team),
    Edit("phone_number.update", PhoneNumberUpdateInput, "admin", "/api/v1/phone-numbers/{pk}/", PhoneNumber),
    Edit("voice_route.update", _VoiceRouteFieldsInput, "admin", "/api/v1/voice-routes/{pk}/", VoiceRoute),
    Edit(
        "canned_reply.update",
        CannedReplyUpdateInput,
        "supervisor",
        "/api/v1/canned-replies/{pk}/",
        CannedReply,
    ),
]


def _writable(serializer: type[serializers.Serializer]) -> list[str]:
    return [name for name, field in serializer().fields.items() if not field.read_only]


CASES = [(edit, name) for edit in EDITS for name in _writable(edit.serializer)]


class World:
    def __init__(self, helpline, supervisor, admin_user, api, walk_in):
        self.helpline = helpline
        self.who = {"supervisor": supervisor, "admin": admin_user}
        self.api = api
        self.case_id = walk_in(user=supervisor)["id"]

    def target(self, edit: Edit, field: str):
        if edit.model is Helpline:
            return self.helpline
        if edit.model is User:
            if edit.path == "/api/v1/auth/me/":
                return self.who[edit.who]
            if field == "agency":  # only agency users belong to an agency
                return factories.AgencyUserFactory(helpline=self.helpline)
            return factories.OperatorFactory(helpline=self.helpline)
        if edit.model is Case:
            return Case.objects.get(pk=self.case_id)
        if edit.model is Contact:
            return Contact.objects.get(case_id=self.case_id)
        if edit.model is Team:  # no one in it, so that retiring it is possible
            return factories.TeamFactory(helpline=self.helpline)
        if edit.model is PhoneNumber:
            self.helpline.languages = ["mn"]  # a number speaks one of its helpline's languages
            self.helpline.save()
            return PhoneNumber.objects.create(
                helpline=self.helpline, channel="sms", number="+254700000991", acknowledgement="Old text."
            )
        if edit.model is VoiceRoute:
            number = PhoneNumber.objects.create(
                helpline=self.helpline, channel="voice", number="+254700000990"
            )
            return VoiceRoute.objects.create(
                number=number, greeting="Old greeting.", dial_numbers="+254700000996"
            )
        if edit.model is CannedReply:
            return CannedReply.objects.create(
                helpline=self.helpline,
                language="en",
                title="Old",
                body="Old body.",
                created_by=self.who["supervisor"],
            )
        return factories.AgencyFactory(
            helpline=self.helpline,
            webhook_url="https://old.example.org/",
            webhook_secret="old-secret-0123456789",
        )

    def new_value(self, field: serializers.Field, name: str, current: Any) -> Any:
        if name in SPECIAL:
            return SPECIAL[name]
        if isinstance(field, serializers.BooleanField):
            return not current
        if isinstance(field, serializers.ChoiceField):
            return next(choice for choice in field.choices if choice != current and choice != "")
        if isinstance(field, serializers.EmailField):
            return "changed@example.org"
        if isinstance(field, serializers.URLField):
            return "https://changed.example.org/hook"
        if isinstance(field, serializers.CharField):  # RegexField's are in SPECIAL
            return ("changed-" + name + "-0123456789")[: field.max_length or 100]
        if isinstance(field, serializers.IntegerField):
            low = field.min_value or 0
            return low + 1 if current == low else low
        if isinstance(field, serializers.DateTimeField):
            return (timezone.now() + timedelta(minutes=5)).isoformat()
        if isinstance(field, serializers.ListField):
            child = field.child
            if isinstance(child, serializers.ChoiceField):
                return [next(iter(child.choices))]
            return ["changed"]
        if isinstance(field, serializers.PrimaryKeyRelatedField):
            model = field.get_queryset().model if field.queryset is not None else None
            if name == "assigned_to" or model is User:
                return factories.OperatorFactory(helpline=self.helpline).pk
            if name in ("team", "intake_team"):
                return factories.TeamFactory(helpline=self.helpline).pk
            if name == "agency":
                return factories.AgencyFactory(helpline=self.helpline).pk
        if isinstance(field, serializers.Serializer):  # nested: change each of its fields
            return {sub: (field.fields[sub].min_value or 0) + 2 for sub in field.fields}
        raise AssertionError(f"No test value for {name} ({type(field).__name__}): add one to SPECIAL.")


@pytest.fixture
def world(helpline, supervisor, admin_user, api, walk_in):
    return World(helpline, supervisor, admin_user, api, walk_in)


@pytest.mark.parametrize(("edit", "name"), CASES, ids=[f"{e.action}.{n}" for e, n in CASES])
def test_each_editable_field_is_in_the_changes(world, edit, name):
    target = world.target(edit, name)
    field = edit.serializer().fields[name]
    current = getattr(target, name, None) if name != "password" else None
    if isinstance(current, Helpline | User | Agency) or hasattr(current, "pk"):
        current = current.pk
    value = world.new_value(field, name, current)
    if name == "password":
        value = factories.PASSWORD + "-new"
    last = AuditEntry.objects.order_by("-id").values_list("id", flat=True).first() or 0

    response = world.api(world.who[edit.who]).patch(
        edit.path.format(pk=target.pk), {name: value}, format="json"
    )

    assert response.status_code == 200, response.json()
    # An agency's webhook is not changed by an edit but proposed, for a supervisor to approve
    # (issue #13, leak 2): the proposal's entry records the change.
    action = "agency.webhook_propose" if name in ("webhook_url", "webhook_secret") else edit.action
    entries = AuditEntry.objects.filter(id__gt=last, action=action, object_id=str(target.pk))
    assert len(entries) == 1, [e.action for e in AuditEntry.objects.filter(id__gt=last)]
    changes = entries[0].changes
    assert name in changes, f"{action} with {name} changed recorded {changes}"
    assert changes[name]["before"] != changes[name]["after"] or changes[name]["after"] == REDACTED


def _edit_paths() -> set[str]:
    """Every API path whose view edits a row in place (PATCH or PUT), from the URL configuration."""
    from django.urls import URLPattern, URLResolver, get_resolver

    found: set[str] = set()

    def walk(patterns, prefix: str) -> None:
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns, prefix + str(pattern.pattern))
            elif isinstance(pattern, URLPattern):
                view = getattr(pattern.callback, "cls", None)
                if view is not None and (hasattr(view, "patch") or hasattr(view, "put")):
                    found.add(re.sub(r"<[^>]+>", "{pk}", "/" + prefix + str(pattern.pattern)))

    walk(get_resolver().url_patterns, "")
    return found


def test_every_edit_endpoint_is_checked_above():
    # These PUTs replace a whole set, and their entries record it before and after in `extra`
    # (each checked in its own test): a case's need-to-know list (who was added and removed), a
    # person's notification channels, the on-call rota, the helpline's required channels.
    not_field_edits = {
        "/api/v1/cases/{pk}/access/",
        "/api/v1/notifications/preferences/",
        "/api/v1/notifications/on-call/",
        "/api/v1/notifications/requirements/",
    }
    assert _edit_paths() - not_field_edits == {edit.path for edit in EDITS}
