"""The access policy is one module of rules; its documentation is generated from it."""

from pathlib import Path

from django.conf import settings

from helpline import policy


def test_permissions_doc_is_generated_from_the_policy_and_current():
    doc = Path(settings.BASE_DIR) / "docs" / "permissions.md"
    assert doc.read_text() == policy.matrix_markdown(), "run `python manage.py permissions_doc`"


def test_every_rule_names_known_conditions_and_roles():
    roles = {"operator", "supervisor", "agency", "admin"}
    for action, by_role in policy.RULES.items():
        assert set(by_role) <= roles, action
        for sets in by_role.values():
            for conditions in sets:
                assert set(conditions) <= set(policy.CONDITIONS), (action, conditions)


def test_agency_users_and_admins_have_no_rule_on_case_content():
    for action, by_role in policy.RULES.items():
        if action.startswith(("case.", "note.", "contact.", "audit.")):
            assert "agency" not in by_role and "admin" not in by_role, action


def test_inactive_users_may_do_nothing(db, supervisor):
    supervisor.is_active = False
    assert not any(policy.can(supervisor, action) for action in policy.RULES)
