"""A supervisor not on a restricted case's need-to-know list opens it in an emergency from the
console, with a reason (cases.services.case_break_glass): the case page is then theirs for a while,
and the access is on record and listed for another supervisor, who marks it reviewed. Refusals are
on record as the API's (tests/test_audit_completeness.py): the same actions, denied."""

import re

import pytest
from django.urls import reverse

from cases.models import AccessKind, Case, CaseAccess
from cases.services import case_break_glass, case_set_access
from helpline.models import AuditEntry
from tests import factories
from tests.console import sign_in

pytestmark = pytest.mark.django_db

RESTRICTED = reverse("console:oversight-restricted")
BREAK_GLASS = reverse("console:oversight-break-glass")


@pytest.fixture
def keeper(helpline, team):
    """The supervisor who restricted the case (on its list)."""
    return factories.SupervisorFactory(username="keeper", helpline=helpline, team=team)


@pytest.fixture
def restricted(helpline, team, operator, keeper):
    case = factories.CaseFactory(helpline=helpline, assigned_to=operator, team=team, state="assessment")
    case_set_access(actor=keeper, case=case, users=[operator])
    return Case.objects.get(pk=case.pk)


def review_path(grant) -> str:
    return reverse("console:oversight-break-glass-review", args=[grant.pk])


def denied(action: str, actor) -> list[AuditEntry]:
    return list(AuditEntry.objects.filter(action=action, actor=actor, outcome="denied").order_by("id"))


@pytest.mark.parametrize("named_by", ["reference", "lower-case reference", "number"])
def test_a_supervisor_opens_a_restricted_case_with_a_reason_and_reaches_its_page(
    supervisor, restricted, named_by
):
    client = sign_in(supervisor)
    case_page = reverse("console:case", args=[restricted.pk])
    assert client.get(case_page).status_code == 404
    named = {
        "reference": restricted.reference,
        "lower-case reference": f"  {restricted.reference.lower()} ",
        "number": str(restricted.pk),
    }[named_by]

    answer = client.post(RESTRICTED, {"case": named, "reason": "Child in danger tonight"})

    assert answer.status_code == 302 and answer["Location"] == case_page
    page = client.get(case_page)
    assert page.status_code == 200 and restricted.reference in page.content.decode()
    grant = CaseAccess.objects.get(case=restricted, user=supervisor, kind=AccessKind.BREAK_GLASS)
    assert grant.reason == "Child in danger tonight" and grant.expires_at is not None
    opened = AuditEntry.objects.get(action="case.break_glass", actor=supervisor)
    assert opened.outcome == "allowed" and opened.case_id == restricted.pk
    assert opened.extra["break_glass"] is True and opened.extra["grant_id"] == grant.pk
    # The read the access allowed is flagged for review.
    read = AuditEntry.objects.filter(action="case.read", actor=supervisor, outcome="allowed").latest("id")
    assert read.case_id == restricted.pk and read.extra.get("break_glass") is True


def test_the_form_names_the_case_in_the_body_never_in_the_address(supervisor):
    form = sign_in(supervisor).get(RESTRICTED).content.decode()
    assert re.search(r'<form method="post">\s*<input type="hidden" name="csrfmiddlewaretoken"', form)
    assert '<label for="case">' in form and '<label for="reason">' in form


def test_a_reason_is_required_and_its_absence_is_on_record(supervisor, restricted):
    client = sign_in(supervisor)

    answer = client.post(RESTRICTED, {"case": restricted.reference, "reason": "   "})

    assert answer.status_code == 400
    assert '<span class="field">reason</span>' in answer.content.decode()
    assert not CaseAccess.objects.filter(kind=AccessKind.BREAK_GLASS).exists()
    [entry] = denied("case.break_glass", supervisor)
    assert entry.case_id == restricted.pk and entry.extra == {"status": 400}
    assert client.get(reverse("console:case", args=[restricted.pk])).status_code == 404


@pytest.mark.parametrize("named", ["elsewhere", "unknown", "number of another helpline"])
def test_a_case_of_another_helpline_or_none_is_not_found_and_on_record(supervisor, named):
    other = factories.CaseFactory(helpline=factories.HelplineFactory(code="ELSEWHERE"), restricted=True)
    case = {"elsewhere": other.reference, "unknown": "T-999999", "number of another helpline": str(other.pk)}[
        named
    ]
    client = sign_in(supervisor)

    answer = client.post(RESTRICTED, {"case": case, "reason": "Child in danger"})

    assert answer.status_code == 404
    [entry] = denied("case.break_glass", supervisor)
    assert entry.case_id is None  # an unseen case is never connected to the attempt
    assert not CaseAccess.objects.filter(kind=AccessKind.BREAK_GLASS).exists()


def test_a_case_the_supervisor_may_see_needs_no_broken_glass(supervisor, helpline):
    case = factories.CaseFactory(helpline=helpline, state="intake")
    client = sign_in(supervisor)

    answer = client.post(RESTRICTED, {"case": case.reference, "reason": "Just looking"})

    assert answer.status_code == 302 and answer["Location"] == reverse("console:case", args=[case.pk])
    assert not CaseAccess.objects.filter(kind=AccessKind.BREAK_GLASS).exists()
    assert not AuditEntry.objects.filter(action="case.break_glass").exists()


def test_a_case_must_be_named(supervisor):
    answer = sign_in(supervisor).post(RESTRICTED, {"case": " ", "reason": "Child in danger"})
    assert answer.status_code == 400
    assert '<span class="field">case</span>' in answer.content.decode()


def test_another_supervisor_reviews_the_access_once(supervisor, keeper, restricted, helpline, team):
    grant = case_break_glass(actor=supervisor, case=restricted, reason="Child in danger")
    third = factories.SupervisorFactory(username="third", helpline=helpline, team=team)

    # The one who broke the glass sees it listed as theirs, with nothing to press.
    own = sign_in(supervisor)
    mine = own.get(BREAK_GLASS).content.decode()
    assert restricted.reference in mine and "Yours: another supervisor reviews it." in mine
    assert review_path(grant) not in mine
    refused = own.post(review_path(grant))
    assert refused.status_code == 403
    [entry] = denied("case.break_glass.review", supervisor)
    assert (
        entry.case_id == restricted.pk and entry.object_id == str(grant.pk) and entry.extra == {"status": 403}
    )

    # Another supervisor not on the list reads the reason, but not the case.
    reviewer = sign_in(third)
    listed = reviewer.get(BREAK_GLASS).content.decode()
    assert "Child in danger" in listed and review_path(grant) in listed
    assert f'href="/console/cases/{restricted.pk}/"' not in listed
    read = AuditEntry.objects.filter(action="case.break_glass.list", actor=third).latest("id")
    assert read.extra == {"ids": [grant.pk], "case_ids": [restricted.pk]}

    answer = reviewer.post(review_path(grant))

    assert answer.status_code == 302 and answer["Location"] == BREAK_GLASS
    grant.refresh_from_db()
    assert grant.reviewed_by == third and grant.reviewed_at is not None
    reviewed = AuditEntry.objects.get(action="case.break_glass.review", actor=third)
    assert reviewed.outcome == "allowed" and reviewed.case_id == restricted.pk
    assert reviewed.extra == {"grant_id": grant.pk, "accessed_by": supervisor.pk}
    assert "Nothing to review." in reviewer.get(BREAK_GLASS).content.decode()
    done = reviewer.get(BREAK_GLASS, {"reviewed": "true"}).content.decode()
    assert restricted.reference in done and "<td>third, " in done

    # Not twice: a conflict, on record.
    assert reviewer.post(review_path(grant)).status_code == 409
    [twice] = denied("case.break_glass.review", third)
    assert twice.case_id == restricted.pk and twice.extra == {"status": 409}

    # The supervisor on the list gets a link to the case.
    listed_for_keeper = sign_in(keeper).get(BREAK_GLASS, {"reviewed": "true"}).content.decode()
    assert f'href="/console/cases/{restricted.pk}/"' in listed_for_keeper


def test_an_access_of_another_helpline_is_not_found_and_on_record(supervisor):
    elsewhere = factories.HelplineFactory(code="ELSEWHERE")
    case = factories.CaseFactory(helpline=elsewhere, restricted=True)
    other = factories.SupervisorFactory(username="other", helpline=elsewhere)
    grant = case_break_glass(actor=other, case=case, reason="Child in danger")
    client = sign_in(supervisor)

    assert "Child in danger" not in client.get(BREAK_GLASS).content.decode()
    assert client.post(review_path(grant)).status_code == 404

    grant.refresh_from_db()
    assert grant.reviewed_at is None
    [entry] = denied("case.break_glass.review", supervisor)
    assert entry.case_id is None and entry.extra == {"status": 404}


def test_the_reason_reads_in_the_audit_log_as_written(supervisor, keeper, restricted):
    case_break_glass(actor=supervisor, case=restricted, reason="Niña en peligro — Хүүхэд")
    page = sign_in(keeper).get(reverse("console:oversight-audit"), {"action": "case.break_glass"})
    assert "Niña en peligro — Хүүхэд" in page.content.decode()  # sealed in the entry, opened for the reader
