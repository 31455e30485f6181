"""The reports' roll-ups (the hours and days of contacts, the CHI report's days, the cases' days)
stay equal to a recount of the raw contacts and cases: after random inserts, changes of what they
count (call type, end, channel, start, direction, case, even another helpline; a case's child,
categories, risk, team, closing and reopening), deletes, and time zones with half and
three-quarter hours; a refresh that fails loses no change; a rebuild gives the same rows; the hours
are marked by the change's own transaction (a rolled-back change marks nothing)."""

import random
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core.management import call_command
from django.db import transaction

from cases.models import AgeRange, Case, Contact, Gender
from cases.workflow import CallType, RiskLevel
from reports import rollups
from reports.models import ContactHour, RollupDirty
from tests import factories

pytestmark = pytest.mark.django_db

CHANNELS = ["voice", "sms", "whatsapp", "chat", "walk_in"]
CALL_TYPES = ["", *CallType.values]
CATEGORIES = ["bullying", "neglect", "anxiety", "runaway", "school_violence", "information_request"]


def a_child(rng: random.Random) -> dict:
    return {
        "child_age": rng.choice([None, 3, 8, 12, 15, 17]),
        "child_age_range": rng.choice(AgeRange.values),
        "child_gender": rng.choice(Gender.values),
        "categories": rng.sample(CATEGORIES, rng.randrange(3)),
    }


START = datetime(2026, 3, 1, tzinfo=UTC)


def a_time(rng: random.Random) -> datetime:
    # Across a European daylight-saving change (29 March 2026) and many days and hours.
    return START + timedelta(minutes=rng.randrange(60 * 24 * 45))


def test_random_changes_leave_the_rollups_equal_to_a_recount():
    rng = random.Random(18)
    helplines = [
        factories.HelplineFactory(code="KATHMANDU", timezone="Asia/Kathmandu"),  # +5:45
        factories.HelplineFactory(code="DELHI", timezone="Asia/Kolkata"),  # +5:30
        factories.HelplineFactory(code="MADRID", timezone="Europe/Madrid"),  # DST
        factories.HelplineFactory(code="CDMX", timezone="America/Mexico_City"),
    ]
    teams = [factories.TeamFactory(helpline=h, name=f"Team {h.code}") for h in helplines]
    cases = []
    for _ in range(40):
        with time_machine.travel(a_time(rng), tick=False):  # opened on many days
            cases.append(factories.CaseFactory(helpline=rng.choice(helplines), **a_child(rng)))
    contacts = []
    for _ in range(300):
        case = rng.choice([None, *cases])
        contacts.append(
            factories.ContactFactory(
                helpline=case.helpline if case else rng.choice(helplines),
                case=case,
                channel=rng.choice(CHANNELS),
                call_type=rng.choice(CALL_TYPES),
                language=rng.choice(["", "en", "es", "mn"]),
                started_at=a_time(rng),
            )
        )
    rollups.rollups_refresh()
    assert rollups.rollups_differences() == []
    for round_ in range(3):
        for contact in rng.sample(contacts, 60):
            change = rng.choice(
                ["call_type", "ended_at", "channel", "started_at", "helpline", "summary", "direction", "case"]
            )
            if change == "call_type":
                contact.call_type = rng.choice(CALL_TYPES)
            elif change == "ended_at":
                contact.ended_at = contact.started_at + timedelta(seconds=rng.randrange(1, 3600))
            elif change == "channel":
                contact.channel = rng.choice(CHANNELS)
            elif change == "started_at":
                contact.started_at = a_time(rng)
                contact.ended_at = None
            elif change == "helpline":
                contact.helpline = rng.choice(helplines)
            elif change == "direction":
                contact.direction = rng.choice(["inbound", "outbound"])
            elif change == "case":
                contact.case = rng.choice([None, *cases])
            else:
                contact.summary = "nothing the roll-ups count"
            contact.save()
        for case in rng.sample(cases, 10):
            Case.objects.filter(pk=case.pk).update(**a_child(rng))
        for case in rng.sample(cases, 10):
            # The cases roll-up: risk, team, and closing or reopening at a random instant.
            case.refresh_from_db()
            change = rng.choice(["risk_level", "team", "closed"])
            if change == "risk_level":
                Case.objects.filter(pk=case.pk).update(risk_level=rng.choice(RiskLevel.values))
            elif change == "team":
                Case.objects.filter(pk=case.pk).update(team=rng.choice([None, *teams]))
            elif case.state == "closed":
                Case.objects.filter(pk=case.pk).update(state="assessment", closed_at=None)
            else:
                Case.objects.filter(pk=case.pk).update(state="closed", closed_at=a_time(rng))
        for contact in rng.sample(contacts, 10):
            contacts.remove(contact)
            contact.delete()
        if round_ == 1:
            # Not yet refreshed: the roll-ups are behind, and say so.
            waiting, lag = rollups.rollups_waiting()
            assert waiting > 0 and lag is not None
            assert rollups.rollups_differences() != []
        while rollups.rollups_refresh(limit=25):
            pass
        assert rollups.rollups_differences() == [], f"round {round_}"
    assert rollups.rollups_waiting() == (0, None)
    before = sorted(ContactHour.objects.values_list("helpline_id", "day", "hour", "channel", "contacts"))
    call_command("rollups_rebuild")
    after = sorted(ContactHour.objects.values_list("helpline_id", "day", "hour", "channel", "contacts"))
    assert after == before
    call_command("rollups_rebuild", "--check")


def test_a_refresh_that_fails_loses_no_change(helpline):
    contact = factories.ContactFactory(helpline=helpline, started_at=START)
    marks = RollupDirty.objects.count()
    assert marks == 1

    class Crash(Exception):
        pass

    with pytest.raises(Crash), transaction.atomic():
        rollups.rollups_refresh()
        assert not RollupDirty.objects.exists()  # taken...
        raise Crash  # ...and the worker dies before its commit
    assert RollupDirty.objects.count() == marks  # the marks are back
    assert not ContactHour.objects.exists()
    rollups.rollups_refresh()
    assert ContactHour.objects.get().contacts == 1
    Contact.objects.filter(pk=contact.pk).update(call_type="silent")
    rollups.rollups_refresh()
    assert ContactHour.objects.get().call_type == "silent"


def test_a_rolled_back_change_marks_nothing(helpline):
    with pytest.raises(RuntimeError), transaction.atomic():
        factories.ContactFactory(helpline=helpline, started_at=START)
        raise RuntimeError
    assert not RollupDirty.objects.exists()


def test_a_change_the_rollups_do_not_count_marks_nothing(helpline):
    contact = factories.ContactFactory(helpline=helpline, started_at=START)
    rollups.rollups_refresh()
    contact.summary = "a note on the contact"
    contact.save()
    assert not RollupDirty.objects.exists()


def test_a_change_of_time_zone_recounts_the_helpline_at_the_next_refresh(helpline):
    other = factories.HelplineFactory(code="OTHER")
    factories.ContactFactory(helpline=helpline, started_at=datetime(2026, 3, 1, 22, 30, tzinfo=UTC))
    factories.ContactFactory(helpline=other, started_at=datetime(2026, 3, 1, 22, 30, tzinfo=UTC))
    rollups.rollups_refresh()
    assert ContactHour.objects.get(helpline=helpline).day.isoformat() == "2026-03-02"  # Nairobi: 01:30
    helpline.timezone = "America/Mexico_City"
    helpline.save()
    assert RollupDirty.objects.filter(helpline_id=helpline.pk, at__isnull=True).exists()
    # A contact of the same helpline changed meanwhile: counted once, in the new zone.
    Contact.objects.filter(helpline=helpline).update(call_type="silent")
    assert rollups.rollups_refresh() == 1  # the helpline, whole
    assert ContactHour.objects.get(helpline=helpline).day.isoformat() == "2026-03-01"  # 16:30 the same day
    assert ContactHour.objects.get(helpline=helpline).call_type == "silent"
    assert ContactHour.objects.get(helpline=other).day.isoformat() == "2026-03-02"
    assert rollups.rollups_differences() == []
    # A change that leaves the zone as it was marks nothing.
    helpline.name = "Renamed"
    helpline.save()
    assert not RollupDirty.objects.exists()
    call_command("rollups_rebuild", "--helpline", str(helpline.pk))
    assert rollups.rollups_differences() == []
