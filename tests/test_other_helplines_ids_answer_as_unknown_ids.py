"""An id of another helpline's user, team, agency or helpline is answered exactly as an id that does
not exist (issue #13, leak 8b): a different text would confirm that the id exists in another tenant.
Input serializers validate relations against rows of the caller's helpline only.

The relations are found, not listed: every writable primary-key relation of every input serializer
of the project is checked."""

from types import SimpleNamespace

import pytest
from django.urls import get_resolver
from rest_framework import serializers

from channels_sms.models import PhoneNumber
from helpline.models import Helpline, Team, User
from referrals.models import Agency

from . import factories

APPS = ("helpline.", "cases.", "referrals.", "channels_sms.", "notifications.", "reports.")


def _subclasses(cls: type) -> list[type]:
    found = []
    for sub in cls.__subclasses__():
        found += [sub, *_subclasses(sub)]
    return found


def _relations() -> list[tuple[type, str]]:
    get_resolver().url_patterns  # imports every view module, and with them their serializers  # noqa: B018
    found = []
    for serializer in sorted(set(_subclasses(serializers.Serializer)), key=lambda s: s.__qualname__):
        if not serializer.__module__.startswith(APPS):
            continue
        for name, field in serializer().fields.items():
            relation = field.child_relation if isinstance(field, serializers.ManyRelatedField) else field
            if isinstance(relation, serializers.PrimaryKeyRelatedField) and not field.read_only:
                found.append((serializer, name))
    return found


RELATIONS = _relations()


def _row(model: type, helpline: Helpline):
    if model is User:
        return factories.OperatorFactory(helpline=helpline)
    if model is Team:
        return factories.TeamFactory(helpline=helpline)
    if model is Agency:
        return factories.AgencyFactory(helpline=helpline)
    if model is Helpline:
        return helpline
    if model is PhoneNumber:  # a voice number, which a voice route needs
        number = f"+2547000{PhoneNumber.objects.count():05d}"
        return PhoneNumber.objects.create(helpline=helpline, channel="voice", number=number)
    raise AssertionError(f"No row of {model} for this test: add one.")


def _model(serializer: type, name: str) -> type:
    field = serializer().fields[name]
    relation = field.child_relation if isinstance(field, serializers.ManyRelatedField) else field
    return relation.queryset.model


def _errors(serializer: type, name: str, pk: int, user: User):
    field = serializer().fields[name]
    value = [pk] if isinstance(field, serializers.ManyRelatedField) else pk
    checked = serializer(data={name: value}, context={"request": SimpleNamespace(user=user)}, partial=True)
    checked.is_valid()
    return checked.errors.get(name)


def test_the_relations_are_found():
    assert {(s.__name__, n) for s, n in RELATIONS} >= {
        ("CaseUpdateInput", "assigned_to"),
        ("CaseAccessInput", "users"),
        ("UserUpdateInput", "team"),
    }


@pytest.mark.parametrize(("serializer", "name"), RELATIONS, ids=[f"{s.__name__}.{n}" for s, n in RELATIONS])
def test_another_helplines_id_is_refused_as_an_unknown_one(helpline, admin_user, serializer, name):
    model = _model(serializer, name)
    other = factories.HelplineFactory(code="OTHER")
    theirs = _row(model, other)
    ours = _row(model, helpline)
    unknown = (model.objects.order_by("-pk").values_list("pk", flat=True).first() or 0) + 1000

    assert _errors(serializer, name, ours.pk, admin_user) is None
    refused = _errors(serializer, name, theirs.pk, admin_user)
    assert refused is not None
    assert str(refused).replace(str(theirs.pk), "ID") == str(
        _errors(serializer, name, unknown, admin_user)
    ).replace(str(unknown), "ID")


@pytest.fixture
def other_helpline(db):
    return factories.HelplineFactory(code="OTHER")


def _same_answer(first, second, *ids):
    def plain(response, pk):
        return response.content.decode().replace(str(pk), "ID")

    assert first.status_code == second.status_code == 400
    assert plain(first, ids[0]) == plain(second, ids[1])


def test_assigning_a_case_to_another_helplines_user(api, walk_in, supervisor, other_helpline):
    case = walk_in(user=supervisor)
    theirs = factories.OperatorFactory(helpline=other_helpline).pk
    unknown = theirs + 1000
    client = api(supervisor)

    answers = [
        client.patch(f"/api/v1/cases/{case['id']}/", {"assigned_to": pk}, format="json")
        for pk in (theirs, unknown)
    ]

    _same_answer(*answers, theirs, unknown)


def test_putting_another_helplines_user_on_a_need_to_know_list(api, walk_in, supervisor, other_helpline):
    case = walk_in(user=supervisor)
    theirs = factories.OperatorFactory(helpline=other_helpline).pk
    unknown = theirs + 1000
    client = api(supervisor)

    answers = [
        client.put(f"/api/v1/cases/{case['id']}/access/", {"users": [pk]}, format="json")
        for pk in (theirs, unknown)
    ]

    _same_answer(*answers, theirs, unknown)


def test_moving_a_user_to_another_helplines_team(api, admin_user, operator, other_helpline):
    theirs = factories.TeamFactory(helpline=other_helpline).pk
    unknown = theirs + 1000
    client = api(admin_user)

    answers = [
        client.patch(f"/api/v1/users/{operator.pk}/", {"team": pk}, format="json") for pk in (theirs, unknown)
    ]

    _same_answer(*answers, theirs, unknown)


def test_creating_a_user_of_another_helplines_agency(api, admin_user, other_helpline):
    theirs = factories.AgencyFactory(helpline=other_helpline).pk
    unknown = theirs + 1000
    client = api(admin_user)
    body = {"username": "newagent", "password": factories.PASSWORD, "role": "agency"}

    answers = [
        client.post("/api/v1/users/", {**body, "agency": pk}, format="json") for pk in (theirs, unknown)
    ]

    _same_answer(*answers, theirs, unknown)
