"""The console's menu: each entry shown only to people the policy gives its page
(helpline.policy), so the console never offers what it would refuse."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.urls import reverse
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from channels_sms.models import CannedReply
from helpline import policy
from helpline.vocabulary import PolicyAction


@dataclass(frozen=True)
class Entry:
    url_name: str
    label: Promise
    action: PolicyAction | None  # None: everyone signed in has the page
    key: str  # the keyboard shortcut (g then this key): console.js
    # The object the rule is decided on when it needs one (as the page's `page_probe`).
    probe: Callable[[Any], Any] | None = None


MENU = [
    Entry("console:queue", _("Queue"), PolicyAction.CASE_LIST, "q"),
    # The web chats waiting for an operator's first reply, with the place each child is shown.
    Entry("console:chats", _("Waiting chats"), PolicyAction.CASE_LIST, "i"),
    Entry("console:search", _("Search"), PolicyAction.CASE_LIST, "s"),
    Entry("console:callbacks", _("Callbacks"), PolicyAction.CALLBACK_VIEW, "c"),
    Entry("console:dashboard", _("Dashboard"), PolicyAction.DASHBOARD_VIEW, "d"),
    Entry("console:escalations", _("Escalations"), PolicyAction.DASHBOARD_VIEW, "e"),
    Entry("console:inbox", _("Referrals"), PolicyAction.REFERRAL_LIST_SENT_TO_AGENCY, "r"),
    # The administrators' pages (console/urls_admin.py), before Notifications so that an
    # administrator lands on People (home_of). Canned replies are decided on a reply of the
    # person's own helpline: administrators and supervisors manage them.
    Entry("console:admin-users", _("People"), PolicyAction.USER_MANAGE, "p"),
    Entry("console:admin-teams", _("Teams"), PolicyAction.TEAM_MANAGE, "t"),
    Entry(
        "console:admin-canned-replies",
        _("Canned replies"),
        PolicyAction.CANNED_REPLY_MANAGE,
        "m",
        probe=lambda user: CannedReply(helpline_id=user.helpline_id),
    ),
    Entry("console:admin-agencies", _("Agencies"), PolicyAction.AGENCY_MANAGE, "o"),
    Entry("console:admin-helplines", _("Settings"), PolicyAction.HELPLINE_MANAGE, "h"),
    # The helpline's numbers and voice routes (console/views/numbers.py): supervisors read them.
    Entry("console:admin-numbers", _("Numbers"), PolicyAction.PHONE_NUMBER_VIEW, "u"),
    # The on-call rota (console/views/on_call.py): operators read it; supervisors and
    # administrators keep it.
    Entry("console:admin-on-call", _("On-call rota"), PolicyAction.ON_CALL_VIEW, "l"),
    # Everyone's own notifications (notifications.selectors.notification_list keeps them to their own).
    Entry("console:notifications", _("Notifications"), None, "n"),
    # The supervisors' oversight pages (console/views/oversight.py).
    Entry("console:oversight-audit", _("Audit"), PolicyAction.AUDIT_READ, "a"),
    Entry("console:oversight-workload", _("Workload"), PolicyAction.DASHBOARD_VIEW, "w"),
    Entry("console:oversight-break-glass", _("Break-glass"), PolicyAction.AUDIT_READ, "b"),
]


def menu_for(user) -> list[dict]:
    return [
        {"url": reverse(e.url_name), "label": e.label, "key": e.key, "name": e.url_name.split(":")[1]}
        for e in MENU
        if e.action is None or policy.can(user, e.action, e.probe(user) if e.probe else None)
    ]


def home_of(user) -> str:
    """The first page of the person's menu (an agency user: the referral inbox)."""
    entries = menu_for(user)
    return entries[0]["url"] if entries else reverse("console:account")
