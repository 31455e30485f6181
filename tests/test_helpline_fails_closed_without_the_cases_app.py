"""helpline imports no app above it; the cases app hands down what the policy needs at start-up
(helpline/provided.py). Without it no rule is evaluated (an error, never an allow) and the system
check stops the start."""

import pytest
from django.core import checks
from django.core.exceptions import ImproperlyConfigured

from cases.models import Case, CaseAccess
from helpline import policy, provided


def test_the_cases_app_provides_its_case_data(db):
    given = provided.cases_provided()
    assert (given.case_model, given.grant_model) == (Case, CaseAccess)
    assert checks.run_checks(tags=[checks.Tags.compatibility]) == []


def test_without_it_no_rule_is_evaluated_and_start_up_stops(db, operator, monkeypatch):
    monkeypatch.setattr(provided, "_cases", None)
    with pytest.raises(ImproperlyConfigured):
        policy.case_filter(operator)
    with pytest.raises(ImproperlyConfigured):
        policy.visible_case_ids(operator, [1])
    assert [e.id for e in checks.run_checks(tags=[checks.Tags.compatibility])] == ["helpline.E001"]
