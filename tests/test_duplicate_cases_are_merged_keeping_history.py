"""A supervisor merges a duplicate case into the case that carries on (POST /api/v1/cases/{id}/merge/):
the duplicate is closed for good and points to the survivor, nothing is moved or deleted, every
audit entry stays and the chain still verifies, and the survivor reads the duplicate's notes,
contacts and history. Refused for other roles, bad input, and cases it would not be safe to merge."""

from datetime import timedelta

import pytest
from django.utils import timezone

from cases.models import Case, Contact, Note
from cases.services import anonymise_expired_cases
from helpline.audit import verify_chain
from helpline.models import AuditEntry

from . import factories

REASON = "Same child, called twice the same evening."


def merge(client, case_id, into, reason=REASON, **more):
    return client.post(
        f"/api/v1/cases/{case_id}/merge/", {"into": into, "reason": reason, **more}, format="json"
    )


@pytest.fixture
def pair(api, operator, walk_in):
    """Two cases opened by the operator, each with its first contact and a note."""
    duplicate, survivor = walk_in(summary="first call")["id"], walk_in(summary="second call")["id"]
    for case_id, body in ((duplicate, "Note on the duplicate"), (survivor, "Note on the survivor")):
        response = api(operator).post(f"/api/v1/cases/{case_id}/notes/", {"body": body}, format="json")
        assert response.status_code == 201
    return duplicate, survivor


def entries_of(*case_ids) -> dict[int, str]:
    return dict(AuditEntry.objects.filter(case_id__in=case_ids).values_list("pk", "hash"))


@pytest.mark.django_db
def test_the_duplicate_is_closed_and_points_to_the_survivor(api, supervisor, pair):
    duplicate, survivor = pair
    client = api(supervisor)

    response = merge(client, duplicate, survivor)

    assert response.status_code == 200, response.json()
    merged = response.json()
    assert merged["id"] == duplicate and merged["state"] == "closed"
    assert merged["merged_into"] == survivor and merged["closure_reason"] == REASON
    assert merged["available_transitions"] == []  # not even reopen
    # Still there, with where it went; the survivor names it.
    assert client.get(f"/api/v1/cases/{duplicate}/").json()["merged_into"] == survivor
    carrying_on = client.get(f"/api/v1/cases/{survivor}/").json()
    assert carrying_on["state"] == "intake" and carrying_on["merged_cases"] == [duplicate]
    assert Case.objects.filter(pk__in=(duplicate, survivor)).count() == 2


@pytest.mark.django_db
def test_every_audit_entry_is_kept_and_the_chain_still_verifies(api, supervisor, helpline, pair):
    duplicate, survivor = pair
    before = entries_of(duplicate, survivor)
    assert len(before) >= 6  # two cases, their contacts and notes, and reads

    assert merge(api(supervisor), duplicate, survivor).status_code == 200

    after = entries_of(duplicate, survivor)
    assert {pk: after[pk] for pk in before} == before  # every entry kept, unchanged
    new = AuditEntry.objects.filter(pk__in=set(after) - set(before)).order_by("pk")
    assert [(e.action, e.case_id, e.outcome) for e in new] == [
        ("case.transition.merge", duplicate, "allowed"),
        ("case.merge_receive", survivor, "allowed"),
    ]
    assert new[0].extra["case_ids"] == [survivor] and new[1].extra["case_ids"] == [duplicate]
    assert new[0].changes["state"] == {"before": "intake", "after": "closed"}
    assert REASON not in str(new[0].extra) + str(new[1].extra)  # sealed, not in clear
    assert verify_chain(helpline.pk).ok


@pytest.mark.django_db
def test_the_survivor_reads_the_duplicates_notes_contacts_and_history(api, supervisor, operator, pair):
    duplicate, survivor = pair
    assert merge(api(supervisor), duplicate, survivor).status_code == 200

    notes = api(operator).get(f"/api/v1/cases/{survivor}/notes/").json()
    contacts = api(operator).get("/api/v1/contacts/", {"case": survivor}).json()["results"]
    history = api(supervisor).get(f"/api/v1/cases/{survivor}/history/", {"page_size": 200}).json()

    assert {(n["case"], n["body"]) for n in notes} == {
        (duplicate, "Note on the duplicate"),
        (survivor, "Note on the survivor"),
    }
    assert {(c["case"], c["summary"]) for c in contacts} == {
        (duplicate, "first call"),
        (survivor, "second call"),
    }
    created = {(e["case_id"], e["action"]) for e in history["results"]}
    assert {
        (duplicate, "case.create"),
        (survivor, "case.create"),
        (duplicate, "case.transition.merge"),
    } <= created
    # Nothing moved: the rows are where they were written.
    assert Contact.objects.filter(case_id=duplicate).count() == 1
    assert Note.objects.filter(case_id=duplicate).count() == 1
    # The duplicate keeps its own history.
    own = api(supervisor).get(f"/api/v1/cases/{duplicate}/history/").json()["results"]
    assert {e["case_id"] for e in own} == {duplicate}


@pytest.mark.django_db
def test_operators_cannot_merge(api, operator, pair):
    duplicate, survivor = pair

    response = merge(api(operator), duplicate, survivor)

    assert response.status_code == 403
    assert Case.objects.get(pk=duplicate).state == "intake"
    refused = AuditEntry.objects.get(action="case.transition.merge")
    assert refused.outcome == "denied" and refused.actor == operator


@pytest.mark.django_db
@pytest.mark.parametrize("role", ["admin_user", "agency_user"])
def test_people_who_see_no_cases_get_404(request, api, pair, role):
    duplicate, survivor = pair
    assert merge(api(request.getfixturevalue(role)), duplicate, survivor).status_code == 404
    assert Case.objects.get(pk=duplicate).merged_into_id is None


@pytest.mark.django_db
@pytest.mark.parametrize(
    "body",
    [
        {"into": "SELF", "reason": REASON},
        {"into": "SURVIVOR"},
        {"into": "SURVIVOR", "reason": "   "},
        {"reason": REASON},
        {"into": "SURVIVOR", "reason": REASON, "keep": "both"},
        {"into": "abc", "reason": REASON},
        {"into": 0, "reason": REASON},
        {"into": "SURVIVOR", "reason": "x" * 501},
    ],
)
def test_bad_merge_requests_are_refused_with_400_and_nothing_written(api, supervisor, pair, body):
    duplicate, survivor = pair
    body = {k: {"SELF": duplicate, "SURVIVOR": survivor}.get(v, v) for k, v in body.items()}

    response = api(supervisor).post(f"/api/v1/cases/{duplicate}/merge/", body, format="json")

    assert response.status_code == 400, response.json()
    assert response.json()["type"] == "validation_error"
    assert Case.objects.get(pk=duplicate).state == "intake"
    assert not AuditEntry.objects.filter(action="case.transition.merge", outcome="allowed").exists()


@pytest.mark.django_db
def test_a_case_of_another_helpline_answers_as_a_case_that_does_not_exist(api, supervisor, pair):
    duplicate, _ = pair
    elsewhere = factories.CaseFactory(helpline=factories.HelplineFactory(code="ELSE"))

    foreign = merge(api(supervisor), duplicate, elsewhere.pk)
    nowhere = merge(api(supervisor), duplicate, 987654321)

    assert foreign.status_code == nowhere.status_code == 404
    assert foreign.json() == nowhere.json()
    assert Case.objects.get(pk=duplicate).merged_into_id is None


def _closed(helpline, **fields) -> Case:
    now = timezone.now()
    return factories.CaseFactory(helpline=helpline, state="closed", closed_at=now, **fields)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("make_survivor", "code"),
    [
        (lambda helpline: _closed(helpline), "case_closed"),
        (lambda helpline: _closed(helpline, anonymised_at=timezone.now()), "case_anonymised"),
    ],
    ids=["closed", "anonymised"],
)
def test_merging_into_a_closed_or_anonymised_case_is_refused(
    api, supervisor, helpline, pair, make_survivor, code
):
    duplicate, _ = pair
    survivor = make_survivor(helpline)

    response = merge(api(supervisor), duplicate, survivor.pk)

    assert response.status_code == 409
    assert response.json()["errors"][0]["code"] == code
    assert Case.objects.get(pk=duplicate).state == "intake"
    assert AuditEntry.objects.get(action="case.transition.merge").outcome == "denied"


@pytest.mark.django_db
def test_a_closed_or_already_merged_case_is_not_merged_again(api, supervisor, walk_in, helpline, pair):
    duplicate, survivor = pair
    third = walk_in()["id"]
    client = api(supervisor)
    assert merge(client, duplicate, survivor).status_code == 200

    again = merge(client, duplicate, third)
    closed = merge(client, _closed(helpline).pk, survivor)

    assert again.status_code == 409 and again.json()["errors"][0]["code"] == "case_already_merged"
    assert closed.status_code == 409 and closed.json()["errors"][0]["code"] == "case_closed"
    assert Case.objects.get(pk=duplicate).merged_into_id == survivor


@pytest.mark.django_db
def test_a_merged_case_cannot_be_reopened(api, supervisor, pair):
    duplicate, survivor = pair
    client = api(supervisor)
    assert merge(client, duplicate, survivor).status_code == 200

    response = client.post(
        f"/api/v1/cases/{duplicate}/transitions/", {"name": "reopen", "reason": "undo"}, format="json"
    )

    assert response.status_code == 409
    assert "merged into another case" in response.json()["errors"][0]["detail"]
    assert Case.objects.get(pk=duplicate).state == "closed"


@pytest.mark.django_db
def test_merge_is_not_a_transition_of_the_transitions_endpoint(api, supervisor, pair):
    duplicate, _ = pair
    response = api(supervisor).post(
        f"/api/v1/cases/{duplicate}/transitions/", {"name": "merge", "reason": REASON}, format="json"
    )
    assert response.status_code == 400
    assert Case.objects.get(pk=duplicate).state == "intake"


@pytest.mark.django_db
@pytest.mark.parametrize("state", ["awaiting_approval", "sent", "accepted"])
def test_a_duplicate_with_a_referral_in_flight_is_not_merged(api, supervisor, pair, state):
    duplicate, survivor = pair
    factories.ReferralFactory(case=Case.objects.get(pk=duplicate), state=state)

    response = merge(api(supervisor), duplicate, survivor)

    assert response.status_code == 409
    assert response.json()["errors"][0]["code"] == "case_has_open_referral"
    assert Case.objects.get(pk=duplicate).merged_into_id is None


@pytest.mark.django_db
def test_cases_restricted_differently_are_not_merged(api, supervisor, operator, pair):
    duplicate, survivor = pair
    client = api(supervisor)
    assert client.put(f"/api/v1/cases/{duplicate}/access/", {"users": []}, format="json").status_code == 200

    one_restricted = merge(client, duplicate, survivor)
    assert (
        client.put(f"/api/v1/cases/{survivor}/access/", {"users": [operator.pk]}, format="json").status_code
        == 200
    )
    other_lists = merge(client, duplicate, survivor)
    assert client.put(f"/api/v1/cases/{survivor}/access/", {"users": []}, format="json").status_code == 200
    same_lists = merge(client, duplicate, survivor)

    for refused in (one_restricted, other_lists):
        assert refused.status_code == 409
        assert refused.json()["errors"][0]["code"] == "case_restriction_differs"
    assert same_lists.status_code == 200
    assert Case.objects.get(pk=duplicate).merged_into_id == survivor


@pytest.mark.django_db
def test_a_merged_case_is_anonymised_after_its_survivor(api, supervisor, pair):
    duplicate, survivor = pair
    assert merge(api(supervisor), duplicate, survivor).status_code == 200
    long_ago = timezone.now() - timedelta(days=366 * 30)
    Case.objects.filter(pk=duplicate).update(closed_at=long_ago)

    anonymise_expired_cases()
    waiting = Case.objects.get(pk=duplicate).anonymised_at

    Case.objects.filter(pk=survivor).update(anonymised_at=timezone.now())
    anonymise_expired_cases()

    assert waiting is None
    assert Case.objects.get(pk=duplicate).anonymised_at is not None


@pytest.mark.django_db
def test_a_survivor_merged_in_turn_carries_every_merged_case(api, supervisor, walk_in, pair):
    first, second = pair
    third = walk_in()["id"]
    client = api(supervisor)
    assert merge(client, first, second).status_code == 200
    assert merge(client, second, third).status_code == 200

    last = client.get(f"/api/v1/cases/{third}/").json()
    notes = client.get(f"/api/v1/cases/{third}/notes/").json()

    assert last["merged_cases"] == sorted([first, second])
    assert {n["case"] for n in notes} == {first, second}
