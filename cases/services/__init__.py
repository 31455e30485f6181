"""Every write to cases, contacts, notes and escalations. Each runs in one transaction that also
writes its audit entry, so a change and its record commit together or not at all.

One module per subdomain; every public name is re-exported here, so `from cases.services import X`
works for callers in other apps. Code that patches a function patches it in the module defining it.
"""

from .access import break_glass_review, case_break_glass, case_set_access, grant_need_to_know, revoke_access
from .cases import (
    CASE_EDITABLE_FIELDS,
    case_available_transitions,
    case_create,
    case_create_from_inbound,
    case_dismiss_as,
    case_flag_emergency,
    case_snapshot,
    case_transition,
    case_update,
)
from .categories import DEFAULT_CATEGORIES_FILE, category_defaults_install, validate_categories
from .contacts import contact_attach, contact_create_inbound, contact_update, note_create
from .escalations import escalate_overdue_cases, escalation_acknowledge, escalation_raise
from .links import case_link_create, case_link_remove
from .merge import case_merge
from .retention import (
    anonymise_expired_cases,
    case_anonymise,
    erasure_check,
    register_erasure,
    registered_erasures,
)
from .row_history import reconcile_row_history
from .search_index import reindex_search
from .transfers import Transfer, case_transfer

__all__ = [
    "CASE_EDITABLE_FIELDS",
    "DEFAULT_CATEGORIES_FILE",
    "Transfer",
    "anonymise_expired_cases",
    "break_glass_review",
    "case_anonymise",
    "case_available_transitions",
    "case_break_glass",
    "case_create",
    "case_create_from_inbound",
    "case_dismiss_as",
    "case_flag_emergency",
    "case_link_create",
    "case_link_remove",
    "case_merge",
    "case_set_access",
    "case_snapshot",
    "case_transfer",
    "case_transition",
    "case_update",
    "category_defaults_install",
    "contact_attach",
    "contact_create_inbound",
    "contact_update",
    "erasure_check",
    "escalate_overdue_cases",
    "escalation_acknowledge",
    "escalation_raise",
    "grant_need_to_know",
    "note_create",
    "reconcile_row_history",
    "register_erasure",
    "registered_erasures",
    "reindex_search",
    "revoke_access",
    "validate_categories",
]
