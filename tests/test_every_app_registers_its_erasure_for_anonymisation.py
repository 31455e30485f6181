"""Each app above cases erases its own personal data about a case when the case is anonymised,
through an eraser it registers with cases; an app keeping rows about cases without one stops the
system check, so anonymisation never quietly erases less."""

import pytest
from django.core import checks
from django.core.exceptions import ImproperlyConfigured

from cases.services import retention
from cases.services.retention import erasure_check, register_erasure, registered_erasures


def test_referrals_and_conversations_register_their_erasers():
    assert registered_erasures() == {"messages": "channels_sms", "referrals": "referrals"}


def test_the_system_check_passes_with_every_eraser_registered():
    assert erasure_check() == []
    assert not [m for m in checks.run_checks() if m.id == "cases.E001"]


def test_an_app_with_case_rows_and_no_eraser_fails_the_system_check(monkeypatch):
    monkeypatch.setattr(
        retention, "_ERASERS", {k: v for k, v in retention._ERASERS.items() if k != "referrals"}
    )
    errors = erasure_check()
    assert {e.id for e in errors} == {"cases.E001"}
    named = {e.obj._meta.label for e in errors}
    assert {"referrals.Consent", "referrals.Referral"} <= named
    assert {label.split(".")[0] for label in named} == {"referrals"}  # the others registered theirs
    assert all(e.level == checks.ERROR for e in errors)


def test_a_second_eraser_under_a_taken_name_is_refused(monkeypatch):
    monkeypatch.setattr(retention, "_ERASERS", dict(retention._ERASERS))
    from channels_sms.erasure import conversations_erase
    from referrals.erasure import referrals_erase

    register_erasure("referrals", referrals_erase)  # the same one again: harmless
    with pytest.raises(ImproperlyConfigured):
        register_erasure("referrals", conversations_erase)
    with pytest.raises(ImproperlyConfigured):
        register_erasure("notes", conversations_erase)  # counted by cases itself
