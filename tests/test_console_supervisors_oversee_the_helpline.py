"""The supervisors' oversight pages (console/urls_oversight.py) are theirs alone: every route answers
404 to an operator, an agency user and an administrator, and a supervisor of another helpline has
the pages but none of this helpline's objects; nothing is written by a refused request. The pages
are secure as every console page (no inline script or style, the strict headers) and refuse the
fields and parameters they do not take."""

import pytest
from django.urls import reverse

from cases.models import AccessKind, CaseAccess
from cases.services import case_break_glass, case_set_access
from console import urls_oversight
from helpline.models import AuditEntry
from tests import factories
from tests.console import sign_in
from tests.test_console_is_secure_by_default import INLINE_HANDLER, INLINE_SCRIPT, INLINE_STYLE

pytestmark = pytest.mark.django_db

ROLES = ("operator", "supervisor", "agency", "admin", "stranger")

# route name -> (method, the roles who have it (others: 404)). "stranger" is a supervisor of
# another helpline: the pages are theirs, this helpline's objects are not.
MATRIX = {
    "oversight-audit": ("get", {"supervisor", "stranger"}),
    "oversight-audit-export": ("get", {"supervisor", "stranger"}),
    "oversight-audit-verify": ("get", {"supervisor", "stranger"}),
    "oversight-break-glass": ("get", {"supervisor", "stranger"}),
    "oversight-break-glass-review": ("post", {"supervisor"}),
    "oversight-restricted": ("get", {"supervisor", "stranger"}),
    "oversight-case-access": ("get", {"supervisor"}),
    "oversight-workload": ("get", {"supervisor", "stranger"}),
    "oversight-webhooks": ("get", {"supervisor", "stranger"}),
    # Posted empty: refused for what it lacks (400), never for scope.
    "oversight-webhook-approve": ("post", {"supervisor"}),
}


def test_the_matrix_names_every_route():
    assert {p.name for p in urls_oversight.urlpatterns} == set(MATRIX)


@pytest.fixture
def world(helpline, team, operator, supervisor, agency_user, admin_user):
    """A restricted case (need-to-know: the operator and `supervisor`) another supervisor of the
    helpline opened by break-glass, not yet reviewed."""
    case = factories.CaseFactory(helpline=helpline, assigned_to=operator, team=team, state="assessment")
    case_set_access(actor=supervisor, case=case, users=[operator])
    case.refresh_from_db()
    colleague = factories.SupervisorFactory(username="supervisor2", helpline=helpline, team=team)
    grant = case_break_glass(actor=colleague, case=case, reason="Child in danger")
    elsewhere = factories.HelplineFactory(code="ELSEWHERE")
    stranger = factories.SupervisorFactory(username="stranger", helpline=elsewhere)
    people = {
        "operator": operator,
        "supervisor": supervisor,
        "agency": agency_user,
        "admin": admin_user,
        "stranger": stranger,
    }
    agency = agency_user.agency_membership.agency
    return people, {"grant_id": grant.pk, "case_id": case.pk, "agency_id": agency.pk}, case, grant


def _path(name: str, kwargs: dict) -> str:
    pattern = next(p for p in urls_oversight.urlpatterns if p.name == name)
    wanted = {k: v for k, v in kwargs.items() if k in pattern.pattern.converters}
    return reverse(f"console:{name}", kwargs=wanted)


@pytest.mark.parametrize("role", ROLES)
def test_each_role_has_the_oversight_pages_or_not_found(world, role):
    people, kwargs, case, grant = world
    client = sign_in(people[role])
    writes = AuditEntry.objects.filter(
        outcome="allowed", action__in=["case.break_glass", "case.break_glass.review"]
    )
    before = writes.count()
    for name, (method, allowed) in MATRIX.items():
        path = _path(name, kwargs)
        answer = client.get(path) if method == "get" else client.post(path, {})
        if role in allowed:
            assert answer.status_code in (200, 302, 400), (role, name, answer.status_code)
        else:
            assert answer.status_code == 404, (role, name, answer.status_code)
    # A POST of the restricted-case form too: refused (404) for the other roles, nothing opened.
    answer = client.post(
        reverse("console:oversight-restricted"), {"case": case.reference, "reason": "Curious"}
    )
    if role == "supervisor":
        assert answer.status_code == 302  # on the list already: straight to the case
    else:
        assert answer.status_code == 404, role
    grant.refresh_from_db()
    assert (grant.reviewed_at is not None) == (role == "supervisor")
    assert not CaseAccess.objects.filter(kind=AccessKind.BREAK_GLASS).exclude(pk=grant.pk).exists()
    assert writes.count() - before == (1 if role == "supervisor" else 0)  # the review


def test_a_supervisor_of_another_helpline_reads_nothing_of_this_one(world):
    people, _kwargs, case, _grant = world
    client = sign_in(people["stranger"])
    for name in ("oversight-audit", "oversight-audit-export", "oversight-break-glass", "oversight-workload"):
        text = client.get(reverse(f"console:{name}")).content.decode()
        for word in ("supervisor1", "supervisor2", "operator1", case.reference, "Child in danger"):
            assert word not in text, (name, word)
    assert (
        client.get(reverse("console:oversight-audit"), {"case": case.pk})
        .content.decode()
        .count("data-entry=")
        == 0
    )


def test_the_menu_offers_the_oversight_pages_to_supervisors_only(world):
    people, _kwargs, _case, _grant = world
    for role, person in people.items():
        html = sign_in(person).get("/console/account/").content.decode()
        nav = html[html.index("<nav") : html.index("</nav>")]
        offered = [
            reverse(f"console:{n}") in nav
            for n in ("oversight-audit", "oversight-workload", "oversight-break-glass")
        ]
        assert offered == [role in ("supervisor", "stranger")] * 3, role


def test_the_pages_have_no_inline_script_or_style_and_the_strict_headers(world):
    people, _kwargs, case, _grant = world
    client = sign_in(people["supervisor"])
    client.get(reverse("console:oversight-audit"))  # entries of the audit log to show
    paths = [
        reverse("console:oversight-audit"),
        reverse("console:oversight-audit") + "?action=audit.&outcome=allowed",
        reverse("console:oversight-audit-verify"),
        reverse("console:oversight-break-glass"),
        reverse("console:oversight-break-glass") + "?reviewed=true",
        reverse("console:oversight-restricted"),
        reverse("console:oversight-workload"),
        reverse("console:oversight-case-access", args=[case.pk]),
        reverse("console:oversight-audit") + "?actor=nobody",  # the error page too
    ]
    for path in paths:
        answer = client.get(path)
        assert answer.status_code in (200, 400), path
        html = answer.content.decode()
        assert not INLINE_SCRIPT.search(html), path
        assert not INLINE_STYLE.search(html), path
        assert not INLINE_HANDLER.search(html), path
        policy = answer["Content-Security-Policy"]
        assert "script-src 'self'" in policy and "style-src 'self'" in policy, path
        assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
        assert answer["X-Frame-Options"] == "DENY"
        assert "no-store" in answer["Cache-Control"], path
    assert "no-store" in client.get(reverse("console:oversight-audit-export"))["Cache-Control"]


def test_every_control_has_a_label_every_table_a_caption_and_every_form_its_token(world):
    import re

    people, kwargs, _case, _grant = world
    client = sign_in(people["supervisor"])
    names = ("oversight-audit", "oversight-restricted", "oversight-break-glass", "oversight-case-access")
    for name in (*names, "oversight-workload", "oversight-audit-verify"):
        html = client.get(_path(name, kwargs)).content.decode()
        main = html[html.index("<main") :]
        for table in re.findall(r"<table\b.*?</table>", main, re.S):
            assert "<caption>" in table and '<th scope="col">' in table, name
        for control in re.findall(r"<(?:input|select|textarea)\b[^>]*>", main):
            if 'type="hidden"' in control or 'type="checkbox"' in control:
                continue  # the token; a checkbox inside its own label
            ident = re.search(r'id="([^"]+)"', control).group(1)
            assert f'<label for="{ident}">' in main, (name, control)
        for form in re.findall(r"<form\b[^>]*>.*?</form>", main, re.S):
            if 'method="post"' in form:
                assert "csrfmiddlewaretoken" in form, name
            else:
                assert 'method="get"' in form, name


@pytest.mark.parametrize(
    ("method", "name", "data"),
    [
        ("get", "oversight-audit", {"page": "2"}),
        ("get", "oversight-audit", {"search": "Oyunchimeg"}),
        ("get", "oversight-audit-export", {"before": "10"}),
        ("get", "oversight-audit-verify", {"chain": "1"}),
        ("get", "oversight-break-glass", {"page": "2"}),
        ("get", "oversight-restricted", {"case": "1"}),
        ("get", "oversight-workload", {"team": "1"}),
        ("post", "oversight-restricted", {"case": "1", "reason": "x", "minutes": "600"}),
        ("post", "oversight-break-glass-review", {"note": "fine"}),
        ("get", "oversight-case-access", {"user": "1"}),
        ("post", "oversight-case-access", {"users": "1", "restricted": "false"}),
    ],
)
def test_unknown_fields_and_parameters_are_refused(world, method, name, data):
    people, kwargs, _case, grant = world
    client = sign_in(people["supervisor"])
    before = AuditEntry.objects.count()
    path = _path(name, kwargs)
    answer = client.get(path, data) if method == "get" else client.post(path, data)
    assert answer.status_code == 400
    assert "This page does not take these fields" in answer.content.decode()
    assert AuditEntry.objects.count() == before  # nothing read, nothing written
    grant.refresh_from_db()
    assert grant.reviewed_at is None


@pytest.mark.parametrize(
    ("name", "data", "field"),
    [
        ("oversight-audit", {"actor": "someone"}, "actor"),
        ("oversight-audit", {"outcome": "maybe"}, "outcome"),
        ("oversight-audit", {"at_after": "yesterday"}, "at_after"),
        ("oversight-audit", {"before": "-1"}, "before"),
        ("oversight-audit-export", {"case": "one"}, "case"),
        ("oversight-break-glass", {"reviewed": "perhaps"}, "reviewed"),
    ],
)
def test_bad_values_are_refused_for_their_field(world, name, data, field):
    people, _kwargs, _case, _grant = world
    client = sign_in(people["supervisor"])
    before = AuditEntry.objects.count()
    answer = client.get(reverse(f"console:{name}"), data)
    assert answer.status_code == 400
    assert f'<span class="field">{field}</span>' in answer.content.decode()
    assert AuditEntry.objects.count() == before
