"""Who may do what: the whole access policy as data, in one place.

`RULES[action][role]` is a list of condition sets. A user may take an action on an object when all
conditions of at least one set hold for their role (the shape Aselo's permission rules use). A
role missing from an action may never take it. Conditions are defined once below, each both as a
check on one object and as a database filter, so the same rule decides an object check and what
a list shows — `case_queryset_for` and the workflow's transition checks both read from here, and
nothing else decides. `docs/permissions.md` is generated from this module
(`manage.py permissions_doc`); a test keeps it current.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from .models import Role
from .provided import agencies_provided, cases_provided
from .vocabulary import PolicyAction

if TYPE_CHECKING:
    from .models import User

OPERATOR, SUPERVISOR, AGENCY, ADMIN = Role.OPERATOR, Role.SUPERVISOR, Role.AGENCY, Role.ADMIN
ELEVATED_RISK = ("high", "critical")


@dataclass(frozen=True)
class Condition:
    name: str
    description: str
    # True when the condition holds for this user and object (a Case, unless noted).
    check: Callable[[Any, Any], bool]
    # The same condition as a filter on Case rows, for lists and counts; None if it only
    # depends on the user (then `check(user, None)` is evaluated once).
    case_filter: Callable[[Any], Q] | None = None


def _grant_exists(user: User, kind: str) -> Exists:
    grants = cases_provided().grant_model
    now = timezone.now()
    return Exists(
        grants.objects.filter(case=OuterRef("pk"), user=user, kind=kind, revoked_at__isnull=True).filter(
            Q(expires_at__isnull=True) | Q(expires_at__gt=now)
        )
    )


def _helpline_of(obj: Any) -> int | None:
    from .models import Helpline

    return obj.pk if isinstance(obj, Helpline) else obj.helpline_id


def _has_grant(user: User, case, kind: str) -> bool:
    grants = cases_provided().grant_model
    return (
        grants.objects.filter(case=case, user=user, kind=kind, revoked_at__isnull=True)
        .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=timezone.now()))
        .exists()
    )


def _agency_id(user: User) -> int | None:
    """The id of the agency the user works for (referrals.AgencyMembership), None for staff."""
    agency = agencies_provided().agency_of(user)
    return agency.pk if agency is not None else None


CONDITIONS: dict[str, Condition] = {
    c.name: c
    for c in [
        Condition(
            "is_helpline_member",
            "the object belongs to the user's own helpline",
            lambda user, obj: obj is not None and obj.helpline_id == user.helpline_id,
            lambda user: Q(helpline_id=user.helpline_id),
        ),
        Condition(
            "is_unrestricted",
            "the case is not restricted (need-to-know)",
            lambda user, case: not case.restricted,
            lambda user: Q(restricted=False),
        ),
        Condition(
            "is_in_intake",
            "the case waits in the intake queue",
            lambda user, case: case.state == "intake",
            lambda user: Q(state="intake"),
        ),
        Condition(
            "is_case_open",
            "the case is not closed",
            lambda user, case: case.state != "closed",
            lambda user: ~Q(state="closed"),
        ),
        Condition(
            "is_assigned",
            "the case is assigned to the user",
            lambda user, case: case.assigned_to_id == user.pk,
            lambda user: Q(assigned_to_id=user.pk),
        ),
        Condition(
            "is_unassigned",
            "the case is assigned to nobody",
            lambda user, case: case.assigned_to_id is None,
            lambda user: Q(assigned_to__isnull=True),
        ),
        Condition(
            "is_team_member",
            "the case belongs to the user's team",
            lambda user, case: user.team_id is not None and case.team_id == user.team_id,
            lambda user: Q(team_id=user.team_id) if user.team_id is not None else Q(pk__in=[]),
        ),
        Condition(
            "is_risk_below_high",
            "the case's risk level is below high",
            lambda user, case: case.risk_level not in ELEVATED_RISK,
            lambda user: ~Q(risk_level__in=ELEVATED_RISK),
        ),
        Condition(
            "has_need_to_know",
            "the user is on the restricted case's need-to-know list",
            lambda user, case: _has_grant(user, case, "need_to_know"),
            lambda user: Q(_grant_exists(user, "need_to_know")),
        ),
        Condition(
            "has_break_glass",
            "the user opened the case by break-glass and the grant has not expired",
            lambda user, case: _has_grant(user, case, "break_glass"),
            lambda user: Q(_grant_exists(user, "break_glass")),
        ),
        Condition(
            "is_restricted",
            "the case is restricted (need-to-know)",
            lambda user, case: case.restricted,
            lambda user: Q(restricted=True),
        ),
        Condition(
            "may_see_reporter_phone",
            "the user holds the `cases.view_reporter_phone` permission",
            lambda user, obj: user.has_perm("cases.view_reporter_phone"),
        ),
        Condition(
            "has_helpline",
            "the user belongs to a helpline",
            lambda user, obj: user.helpline_id is not None,
        ),
        Condition(
            "has_agency",
            "the user belongs to an agency",
            lambda user, obj: _agency_id(user) is not None,
        ),
        Condition(
            "is_referral_agency",
            "the referral was sent to the user's agency",
            lambda user, referral: (
                referral is not None
                and _agency_id(user) is not None
                and referral.agency_id == _agency_id(user)
            ),
        ),
        Condition(
            "is_in_admin_scope",
            "the object is in the administrator's helpline (any, for a platform administrator)",
            lambda user, obj: (
                user.helpline_id is None or obj is None or _helpline_of(obj) == user.helpline_id
            ),
        ),
        Condition(
            "is_platform_admin",
            "the administrator belongs to no helpline (manages the installation)",
            lambda user, obj: user.helpline_id is None,
        ),
    ]
}

# Seeing a case: the gate every case read and write goes through first.
_SEE_CASE_OPERATOR = [
    ["is_helpline_member", "is_in_intake", "is_unrestricted"],
    ["is_helpline_member", "is_assigned", "is_unrestricted"],
    ["is_helpline_member", "is_team_member", "is_unrestricted"],
    ["is_helpline_member", "has_need_to_know"],
    ["is_helpline_member", "has_break_glass"],
]
_SEE_CASE_SUPERVISOR = [
    ["is_helpline_member", "is_unrestricted"],
    ["is_helpline_member", "has_need_to_know"],
    ["is_helpline_member", "has_break_glass"],
]
_STAFF = {OPERATOR: [["is_helpline_member"]], SUPERVISOR: [["is_helpline_member"]]}

RULES: dict[PolicyAction, dict[str, list[list[str]]]] = {
    PolicyAction.CASE_VIEW: {OPERATOR: _SEE_CASE_OPERATOR, SUPERVISOR: _SEE_CASE_SUPERVISOR},
    PolicyAction.CASE_LIST: {OPERATOR: [["has_helpline"]], SUPERVISOR: [["has_helpline"]]},
    PolicyAction.CASE_CREATE: {OPERATOR: [["has_helpline"]], SUPERVISOR: [["has_helpline"]]},
    PolicyAction.CASE_UPDATE: _STAFF,
    PolicyAction.CASE_RESTRICT: {SUPERVISOR: [["is_helpline_member"]]},
    PolicyAction.CASE_BREAK_GLASS: {SUPERVISOR: [["is_helpline_member", "is_restricted"]]},
    PolicyAction.CASE_HISTORY: {SUPERVISOR: [["is_helpline_member"]]},
    # Linking two cases (and removing the link): staff who can see both ("case.view" on each).
    PolicyAction.CASE_LINK: _STAFF,
    # Merging a duplicate into another case of the helpline (cases.services.case_merge).
    PolicyAction.CASE_TRANSITION_MERGE: {SUPERVISOR: [["is_helpline_member"]]},
    PolicyAction.CASE_VIEW_REPORTER_PHONE: {
        OPERATOR: [["is_helpline_member", "may_see_reporter_phone"]],
        SUPERVISOR: [["is_helpline_member"]],
    },
    PolicyAction.CASE_TRANSITION_START_ASSESSMENT: _STAFF,
    PolicyAction.CASE_TRANSITION_DISMISS: _STAFF,
    PolicyAction.CASE_TRANSITION_REFER: _STAFF,
    PolicyAction.CASE_TRANSITION_START_FOLLOW_UP: _STAFF,
    PolicyAction.CASE_TRANSITION_CLOSE: {
        OPERATOR: [["is_helpline_member", "is_risk_below_high"]],
        SUPERVISOR: [["is_helpline_member"]],
    },
    PolicyAction.CASE_TRANSITION_REOPEN: {SUPERVISOR: [["is_helpline_member"]]},
    PolicyAction.NOTE_CREATE: _STAFF,
    PolicyAction.MESSAGE_SEND: _STAFF,
    # Canned replies (channels_sms.canned_replies): the helpline's staff use them; supervisors (who
    # know what the floor needs to say) and administrators write, change and retire them.
    PolicyAction.CANNED_REPLY_VIEW: {
        OPERATOR: [["has_helpline"]],
        SUPERVISOR: [["has_helpline"]],
        ADMIN: [["is_in_admin_scope"]],
    },
    PolicyAction.CANNED_REPLY_MANAGE: {
        SUPERVISOR: [["is_helpline_member"]],
        ADMIN: [["is_in_admin_scope"]],
    },
    PolicyAction.CONTACT_VIEW: {OPERATOR: [["has_helpline"]], SUPERVISOR: [["has_helpline"]]},
    PolicyAction.ESCALATION_VIEW: {OPERATOR: [["has_helpline"]], SUPERVISOR: [["has_helpline"]]},
    PolicyAction.ESCALATION_ACKNOWLEDGE: {SUPERVISOR: [["is_helpline_member"]]},
    PolicyAction.CALLBACK_VIEW: {OPERATOR: [["has_helpline"]], SUPERVISOR: [["has_helpline"]]},
    PolicyAction.CALLBACK_COMPLETE: _STAFF,
    # Repeat contacters (channels_sms.contacters): what the caller may see of an identifier's
    # contacts and cases still goes through "case.view"/"contact.view".
    PolicyAction.CONTACTER_VIEW: {OPERATOR: [["has_helpline"]], SUPERVISOR: [["has_helpline"]]},
    PolicyAction.CONTACTER_FLAG: {SUPERVISOR: [["has_helpline"]]},
    # Referrals (referrals.selectors/services): staff act on the referrals of cases they can see
    # ("case.view" first); agency users on the referrals sent to their agency, nothing else.
    PolicyAction.CONSENT_RECORD: _STAFF,
    # Which referrals a person's lists and look-ups draw from: staff the referrals of the cases
    # they can see (with the case's details), agency users those sent to their agency (the frozen
    # packet only, once a supervisor approved them).
    PolicyAction.REFERRAL_LIST_OF_VISIBLE_CASES: {
        OPERATOR: [["has_helpline"]],
        SUPERVISOR: [["has_helpline"]],
    },
    PolicyAction.REFERRAL_LIST_SENT_TO_AGENCY: {AGENCY: [["has_agency"]]},
    PolicyAction.REFERRAL_VIEW: {**_STAFF, AGENCY: [["is_referral_agency"]]},
    PolicyAction.REFERRAL_CREATE: _STAFF,
    PolicyAction.REFERRAL_OVERRIDE_CONSENT: {SUPERVISOR: [["is_helpline_member"]]},
    PolicyAction.REFERRAL_APPROVE: {SUPERVISOR: [["is_helpline_member"]]},
    PolicyAction.REFERRAL_ACCEPT: {AGENCY: [["is_referral_agency"]]},
    PolicyAction.REFERRAL_REJECT: {AGENCY: [["is_referral_agency"]]},
    PolicyAction.REFERRAL_COMPLETE: {AGENCY: [["is_referral_agency"]]},
    PolicyAction.REFERRAL_WITHDRAW: _STAFF,
    PolicyAction.REFERRAL_POST_UPDATE: {**_STAFF, AGENCY: [["is_referral_agency"]]},
    PolicyAction.REFERRAL_DELIVERIES: {**_STAFF, AGENCY: [["is_referral_agency"]]},
    PolicyAction.AUDIT_READ: {SUPERVISOR: [["has_helpline"]]},
    PolicyAction.DASHBOARD_VIEW: {SUPERVISOR: [["has_helpline"]]},
    PolicyAction.USER_ACTIVITY: {SUPERVISOR: [["is_helpline_member"]]},
    PolicyAction.USER_MANAGE: {ADMIN: [["is_in_admin_scope"]]},
    PolicyAction.HELPLINE_MANAGE: {ADMIN: [["is_in_admin_scope"]]},
    PolicyAction.AGENCY_MANAGE: {ADMIN: [["is_in_admin_scope"]]},
    # The agencies staff may refer to (their helpline's active ones); an agency user sees their own.
    PolicyAction.AGENCY_LIST_ACTIVE: {OPERATOR: [["has_helpline"]], SUPERVISOR: [["has_helpline"]]},
    PolicyAction.AGENCY_VIEW_OWN: {AGENCY: [["has_agency"]]},
    # A change of an agency's webhook URL or secret (an administrator's proposal) takes effect
    # only once a supervisor of its helpline approves it (referrals.webhooks).
    PolicyAction.AGENCY_APPROVE_WEBHOOK: {SUPERVISOR: [["is_helpline_member"]]},
    PolicyAction.HELPLINE_CREATE: {ADMIN: [["is_platform_admin"]]},
    # Staff notifications (notifications.services): who is told of an event on a case. Everyone
    # told must also see the case ("case.view"); "supervise": told as the case's supervisor
    # (critical cases, escalations, break-glass); "on_call": may be on the helpline's rota and be
    # paged out of hours.
    PolicyAction.NOTIFICATION_RECEIVE: _STAFF,
    PolicyAction.NOTIFICATION_SUPERVISE: {SUPERVISOR: [["is_helpline_member"]]},
    PolicyAction.NOTIFICATION_ON_CALL: _STAFF,
    # The rota of the caller's own helpline (the object is the helpline).
    PolicyAction.ON_CALL_VIEW: {
        OPERATOR: [["has_helpline"]],
        SUPERVISOR: [["has_helpline"]],
        ADMIN: [["is_in_admin_scope"]],
    },
    PolicyAction.ON_CALL_MANAGE: {SUPERVISOR: [["has_helpline"]], ADMIN: [["is_in_admin_scope"]]},
    # The helpline's numbers (reports; the object is the helpline): its supervisors, who answer for
    # them to its ministry, donors and Child Helpline International.
    PolicyAction.REPORT_VIEW: {SUPERVISOR: [["has_helpline"]]},
    # Exports of the helpline's records (reports.exports; the object is the helpline): its
    # supervisors, pseudonymised or (with a reason, flagged for review) in full, of the cases they
    # may read; its administrators review full exports (their metadata, never the file). Only the
    # requester downloads an export (reports.exports.selectors).
    PolicyAction.EXPORT_REQUEST: {SUPERVISOR: [["has_helpline"]]},
    PolicyAction.EXPORT_REQUEST_FULL: {SUPERVISOR: [["has_helpline"]]},
    PolicyAction.EXPORT_REVIEW: {ADMIN: [["has_helpline", "is_in_admin_scope"]]},
    # Which channels the helpline's staff must keep per kind (the object is the helpline): its
    # staff read the rules their preferences must meet; its administrators set them.
    PolicyAction.NOTIFICATION_REQUIREMENTS_VIEW: {
        OPERATOR: [["has_helpline"]],
        SUPERVISOR: [["has_helpline"]],
        ADMIN: [["is_in_admin_scope"]],
    },
    PolicyAction.NOTIFICATION_REQUIREMENTS_MANAGE: {ADMIN: [["is_in_admin_scope"]]},
    # A helpline's Twilio numbers and voice routes: its administrators change them, its supervisors
    # read them (to know which number a child wrote to and how calls are answered); the selectors
    # keep every reader to their own helpline (a platform administrator: all).
    PolicyAction.PHONE_NUMBER_VIEW: {
        SUPERVISOR: [["has_helpline"]],
        ADMIN: [["is_in_admin_scope"]],
    },
    PolicyAction.PHONE_NUMBER_MANAGE: {ADMIN: [["is_in_admin_scope"]]},
    # Teams (helpline.teams): administrators create, rename, retire and reactivate them and set
    # their round-robin; staff read their helpline's teams and members (whom to hand a case over to).
    PolicyAction.TEAM_VIEW: {
        OPERATOR: [["is_helpline_member"]],
        SUPERVISOR: [["is_helpline_member"]],
        ADMIN: [["is_in_admin_scope"]],
    },
    PolicyAction.TEAM_MANAGE: {ADMIN: [["is_in_admin_scope"]]},
    # Handing a case over (cases.services.transfers): supervisors any case of their helpline they
    # see; an operator a case assigned to them, or one of their team's that nobody has taken yet.
    PolicyAction.CASE_TRANSFER: {
        OPERATOR: [
            ["is_helpline_member", "is_assigned"],
            ["is_helpline_member", "is_team_member", "is_unassigned"],
        ],
        SUPERVISOR: [["is_helpline_member"]],
    },
    # Who may be handed a case (the receiver is `user`, the case the object): active staff who work
    # cases, of the case's helpline.
    PolicyAction.CASE_RECEIVE: {OPERATOR: [["is_helpline_member"]], SUPERVISOR: [["is_helpline_member"]]},
    # Who a team's round-robin hands new intake cases to: its active operators.
    PolicyAction.CASE_AUTO_ASSIGN_RECEIVE: {OPERATOR: [["is_helpline_member"]]},
}


def condition_sets(user: User, action: PolicyAction) -> list[list[str]]:
    # Only a member: a misspelt or foreign (audit) action must not quietly mean "nobody may".
    if not isinstance(action, PolicyAction):
        raise TypeError(f"policy: action must be a PolicyAction member, not {action!r}.")
    if user is None or not user.is_active:
        return []
    return RULES.get(action, {}).get(user.role, [])


def can(user: User, action: PolicyAction, obj: Any = None) -> bool:
    """May `user` take `action` on `obj`? (`obj` may be None for actions on no object.)"""
    return any(
        all(CONDITIONS[name].check(user, obj) for name in conditions)
        for conditions in condition_sets(user, action)
    )


def transition_permission(action: PolicyAction) -> Callable[[Any, Any], bool]:
    """A django-fsm `permission=` for a workflow transition, decided by the rule for `action`."""

    def permission(obj: Any, user: User) -> bool:
        return can(user, action, obj)

    permission.__name__ = f"may_{action.rsplit('.', 1)[-1]}"
    return permission


def case_filter(user: User, action: PolicyAction = PolicyAction.CASE_VIEW) -> Q:
    """The rule for `action` as a filter on cases: OR of the user's condition sets, each an AND."""
    combined = Q(pk__in=[])
    for conditions in condition_sets(user, action):
        part = Q()
        for name in conditions:
            condition = CONDITIONS[name]
            if condition.case_filter is None:
                if not condition.check(user, None):
                    part = Q(pk__in=[])
                    break
            else:
                part &= condition.case_filter(user)
        combined |= part
    return combined


def case_linked_filter(user: User, field: str = "case", action: PolicyAction = PolicyAction.CASE_VIEW) -> Q:
    """The rule for `action` as a filter on rows that reference a case through `field` (a foreign
    key, or a plain id column such as the audit log's `case_id`): a row matches when the user may
    `action` its case. Rows that reference no case do not match; a caller adds its own rule for
    those. The one case rule, applied to the row's case, so every case-linked read follows it."""
    return Q(Exists(_case_model().objects.filter(case_filter(user, action), pk=OuterRef(field))))


def visible_case_ids(
    user: User, case_ids: Iterable[Any], action: PolicyAction = PolicyAction.CASE_VIEW
) -> set[int]:
    """Which of these case ids the user may `action` (one query; none for no ids)."""
    ids = {
        int(i) for i in case_ids if isinstance(i, int) or (isinstance(i, str) and i.isascii() and i.isdigit())
    }
    ids = {i for i in ids if 0 < i < 2**63}  # what a case id can be (anything else names no case)
    if not ids:
        return set()
    return set(
        _case_model().objects.filter(case_filter(user, action), pk__in=ids).values_list("pk", flat=True)
    )


def _case_model():
    # helpline sits below cases: the cases app hands its model down (helpline.provided).
    return cases_provided().case_model


def matrix_markdown() -> str:
    """docs/permissions.md: the rules as a table, generated so it cannot drift from the code."""
    roles = [OPERATOR, SUPERVISOR, AGENCY, ADMIN]
    lines = [
        "# Permissions",
        "",
        "Generated from `helpline/policy.py` by `python manage.py permissions_doc`; do not edit by hand.",
        "",
        "A role may take an action when every condition of one of its condition sets holds "
        "(sets are separated by **or**). An empty cell: never. Objects a user may not see answer 404.",
        "",
        "| Action | " + " | ".join(roles) + " |",
        "| --- | " + " | ".join("---" for _ in roles) + " |",
    ]
    for action, by_role in RULES.items():
        cells = []
        for role in roles:
            sets = by_role.get(role)
            if not sets:
                cells.append("")
            else:
                cells.append(" **or** ".join(" and ".join(f"`{c}`" for c in s) or "always" for s in sets))
        lines.append(f"| `{action}` | " + " | ".join(cells) + " |")
    lines += ["", "## Conditions", "", "| Condition | Meaning |", "| --- | --- |"]
    lines += [f"| `{c.name}` | {c.description} |" for c in CONDITIONS.values()]
    return "\n".join(lines) + "\n"
