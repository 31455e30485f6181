"""The audit log's vocabulary is closed: every action written is an AuditAction member, a plain or
misspelt string is refused where it would be written, every workflow transition has its member,
and no member is dead."""

import re
from pathlib import Path

import pytest
from django.conf import settings

from cases.models import Case
from helpline import policy
from helpline.audit import audit_record
from helpline.models import AuditEntry, SignInChange
from helpline.vocabulary import AuditAction, PolicyAction
from referrals.models import Referral

APPS = ("helpline", "notifications", "cases", "referrals", "channels_sms", "reports", "demo", "bench")


def transitions(model) -> set[str]:
    return {t.name for t in model._meta.get_field("state").get_all_transitions(model)}


@pytest.mark.django_db
@pytest.mark.parametrize("action", ["case.read", "case.raed"])
def test_audit_record_refuses_a_plain_string(operator, action):
    with pytest.raises(TypeError, match="AuditAction"):
        audit_record(actor=operator, action=action, object_type="x")
    assert not AuditEntry.objects.filter(action=action).exists()


def test_a_misspelt_action_fails_where_it_is_named():
    with pytest.raises(AttributeError):
        AuditAction.CASE_RAED  # noqa: B018
    with pytest.raises(ValueError):
        AuditAction("case.transition.no_such_transition")


def test_every_case_transition_has_its_member():
    names = transitions(Case)
    assert names  # the workflow was read
    assert {AuditAction(f"case.transition.{name}") for name in names}


def test_every_referral_transition_has_its_member():
    names = transitions(Referral)
    assert names
    assert {AuditAction(f"referral.{name}") for name in names}


def test_sign_in_changes_are_audit_actions():
    assert set(SignInChange.values) <= {action.value for action in AuditAction}


def test_no_member_is_dead():
    """Each member is named somewhere in the code (`AuditAction.X`), or is a transition's, built
    from the transition's name."""
    base = Path(settings.BASE_DIR)
    source = "\n".join(
        path.read_text()
        for app in APPS
        for path in (base / app).rglob("*.py")
        if "migrations" not in path.parts and path.name != "vocabulary.py"
    )
    named = set(re.findall(r"AuditAction\.([A-Z_]+)", source))
    built = {f"case.transition.{name}" for name in transitions(Case)} | {
        f"referral.{name}" for name in transitions(Referral)
    }
    dead = [m.name for m in AuditAction if m.name not in named and m.value not in built]
    assert dead == []


@pytest.mark.django_db
@pytest.mark.parametrize("action", ["case.view", "case.veiw"])
def test_the_policy_refuses_a_plain_string(supervisor, action):
    for ask in (policy.can, policy.condition_sets, policy.case_filter):
        with pytest.raises(TypeError, match="PolicyAction"):
            ask(supervisor, action)


def test_the_policy_has_a_rule_for_every_policy_action_and_no_other():
    assert set(policy.RULES) == set(PolicyAction)
    assert all(isinstance(action, PolicyAction) for action in policy.RULES)


def test_every_transition_is_decided_by_a_policy_action():
    for name in transitions(Case):
        assert PolicyAction(f"case.transition.{name}")
    for name in transitions(Referral) - {"expire"}:  # expiry is the system's, never a person's
        assert PolicyAction(f"referral.{name}")
