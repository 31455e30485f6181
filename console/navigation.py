"""The console's menu: each entry shown only to people the policy gives its page
(helpline.policy), so the console never offers what it would refuse."""

from __future__ import annotations

from dataclasses import dataclass

from django.urls import reverse
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from helpline import policy
from helpline.vocabulary import PolicyAction


@dataclass(frozen=True)
class Entry:
    url_name: str
    label: Promise
    action: PolicyAction | None  # None: everyone signed in has the page
    key: str  # the keyboard shortcut (g then this key): console.js


MENU = [
    Entry("console:queue", _("Queue"), PolicyAction.CASE_LIST, "q"),
    Entry("console:search", _("Search"), PolicyAction.CASE_LIST, "s"),
    Entry("console:callbacks", _("Callbacks"), PolicyAction.CALLBACK_VIEW, "c"),
    Entry("console:dashboard", _("Dashboard"), PolicyAction.DASHBOARD_VIEW, "d"),
    Entry("console:escalations", _("Escalations"), PolicyAction.DASHBOARD_VIEW, "e"),
    Entry("console:inbox", _("Referrals"), PolicyAction.REFERRAL_LIST_SENT_TO_AGENCY, "r"),
    # Everyone's own notifications (notifications.selectors.notification_list keeps them to their own).
    Entry("console:notifications", _("Notifications"), None, "n"),
]


def menu_for(user) -> list[dict]:
    return [
        {"url": reverse(e.url_name), "label": e.label, "key": e.key, "name": e.url_name.split(":")[1]}
        for e in MENU
        if e.action is None or policy.can(user, e.action)
    ]


def home_of(user) -> str:
    """The first page of the person's menu (an agency user: the referral inbox)."""
    entries = menu_for(user)
    return entries[0]["url"] if entries else reverse("console:account")
