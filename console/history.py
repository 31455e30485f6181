"""How a case's history reads in the console: each audit action in the reader's words (the code
stays beside it, as the audit log and its exports name it)."""

from django.utils.translation import gettext_lazy as _

from helpline.vocabulary import AuditAction as A

# The actions a case's own history holds; any other is shown by its code.
ACTION_LABELS = {
    A.CASE_CREATE: _("Case opened"),
    A.CASE_READ: _("Case read"),
    A.CASE_UPDATE: _("Case details changed"),
    A.CASE_ACCESS: _("Need-to-know list read"),
    A.CASE_RESTRICT: _("Need-to-know list changed"),
    A.CASE_AUTO_ASSIGN: _("Assigned in turn"),
    A.CASE_BREAK_GLASS: _("Opened by break-glass"),
    A.CASE_BREAK_GLASS_REVIEW: _("Break-glass access reviewed"),
    A.CASE_EMERGENCY: _("Flagged as an emergency"),
    A.CASE_ESCALATE: _("Escalated"),
    A.CASE_HISTORY: _("History read"),
    A.CASE_LINK_CREATE: _("Linked to another case"),
    A.CASE_LINK_LIST: _("Links read"),
    A.CASE_LINK_REMOVE: _("Link removed"),
    A.CASE_MERGE_RECEIVE: _("A duplicate was merged into it"),
    A.CASE_TRANSFER: _("Handed over"),
    A.CASE_TRANSITION_START_ASSESSMENT: _("Assessment started"),
    A.CASE_TRANSITION_DISMISS: _("Dismissed"),
    A.CASE_TRANSITION_REFER: _("Moved to referral"),
    A.CASE_TRANSITION_START_FOLLOW_UP: _("Follow-up started"),
    A.CASE_TRANSITION_CLOSE: _("Closed"),
    A.CASE_TRANSITION_REOPEN: _("Reopened"),
    A.CASE_TRANSITION_MERGE: _("Merged into another case"),
    A.CASE_ANONYMISE: _("Anonymised"),
    A.CONTACT_CREATE: _("New contact"),
    A.CONTACT_UPDATE: _("Contact classified"),
    A.CONTACT_ATTACH: _("Contact added to the case"),
    A.CONTACT_READ: _("Contact read"),
    A.CONTACT_LIST: _("Contacts read"),
    A.NOTE_CREATE: _("Note written"),
    A.NOTE_LIST: _("Notes read"),
    A.MESSAGE_RECEIVE: _("Message received"),
    A.MESSAGE_SEND: _("Reply sent"),
    A.MESSAGE_DELIVER: _("Reply delivered"),
    A.MESSAGE_FAILED: _("Reply not delivered"),
    A.MESSAGE_LIST: _("Conversation read"),
    A.CONSENT_RECORD: _("Consent recorded"),
    A.CONSENT_LIST: _("Consent read"),
    A.REFERRAL_CREATE: _("Referred"),
    A.REFERRAL_APPROVE: _("Referral approved"),
    A.REFERRAL_ACCEPT: _("Referral accepted by the agency"),
    A.REFERRAL_REJECT: _("Referral rejected by the agency"),
    A.REFERRAL_COMPLETE: _("Referral completed by the agency"),
    A.REFERRAL_WITHDRAW: _("Referral withdrawn"),
    A.REFERRAL_EXPIRE: _("Referral unanswered in time"),
    A.REFERRAL_ESCALATE: _("Referral escalated"),
    A.REFERRAL_POST_UPDATE: _("Progress on the referral"),
    A.REFERRAL_READ: _("Referral read"),
    A.REFERRAL_RESEND: _("Referral sent again"),
    A.ESCALATION_ACKNOWLEDGE: _("Escalation acknowledged"),
    A.CALLBACK_REQUEST: _("Call back requested"),
    A.CALLBACK_COMPLETE: _("Called back"),
    A.INBOUND_STORED_LATE: _("A message reached the case late"),
    A.ROW_CHANGED_OUTSIDE_SERVICES: _("Changed outside the application"),
}


def action_label(action: str) -> str:
    try:
        return str(ACTION_LABELS.get(A(action), action))
    except ValueError:
        return action
