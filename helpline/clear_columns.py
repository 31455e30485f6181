"""Every text column of ours that is stored in clear, and why that is safe.

A text column (CharField, TextField, JSONField, or an array of them) of the helpline, cases,
referrals or channels_sms models is one of:
- encrypted: one of helpline.crypto's field classes (free text and identifiers of a child or a
  caller), erased when the case is anonymised;
- a code: the field has `choices`;
- listed here, with the reason it may be read in clear by anyone holding a copy of the database.

`tests/test_every_text_column_is_classified.py` walks every model (row history tables included:
their columns are judged as the tracked model's) and fails on a column that is none of these, so a
new free-text field cannot slip in unencrypted; it also fails on an entry here that names no
column, or an encrypted one, so the list stays true. Add an entry only for text nobody types a
child's or caller's name, number or story into.
"""

CODE = "a code or identifier made by the system, never typed by people"
KEYED_HASH = (
    "keyed HMAC of an identifier (helpline.crypto.identifier_hash): not reversible without "
    "IDENTIFIER_HASH_KEY; erased with the case where it belongs to one"
)
HELPLINE_CONFIGURATION = "the helpline's own configuration, written by its administrators"
AGENCY_DIRECTORY = "the partner agency's public directory entry (an organisation, not a person in a case)"
STAFF_ACCOUNT = (
    "a staff member's account (not a child or caller): needed in clear to sign in and to name "
    "who did what in the audit log"
)

CLEAR_COLUMNS: dict[str, str] = {
    # helpline
    "helpline.Helpline.code": HELPLINE_CONFIGURATION,
    "helpline.Helpline.name": HELPLINE_CONFIGURATION,
    "helpline.Helpline.country": HELPLINE_CONFIGURATION,
    "helpline.Helpline.timezone": HELPLINE_CONFIGURATION,
    "helpline.Helpline.default_language": HELPLINE_CONFIGURATION,
    "helpline.Helpline.languages": HELPLINE_CONFIGURATION + " (language codes)",
    "helpline.Helpline.label_overrides": HELPLINE_CONFIGURATION + " (its own wording of reference labels)",
    "helpline.Helpline.due_policy": HELPLINE_CONFIGURATION + " (minutes per state and risk level)",
    "helpline.Helpline.opening_hours": HELPLINE_CONFIGURATION + " (weekly hours of the chat)",
    "helpline.Helpline.chat_greeting": HELPLINE_CONFIGURATION,
    "helpline.Helpline.out_of_hours_message": HELPLINE_CONFIGURATION,
    "helpline.Team.name": HELPLINE_CONFIGURATION,
    "helpline.User.password": "a salted slow hash (Django's password hasher), never the password",
    "helpline.User.username": STAFF_ACCOUNT,
    "helpline.User.first_name": STAFF_ACCOUNT,
    "helpline.User.last_name": STAFF_ACCOUNT,
    "helpline.User.email": STAFF_ACCOUNT,
    "helpline.User.language": CODE + " (a language code)",
    "helpline.SetPasswordLink.digest": "SHA-256 of a random one-time token, never the token itself",
    "helpline.AuditEntry.prev_hash": "SHA-256 of the previous entry",
    "helpline.AuditEntry.hash": "SHA-256 of the entry",
    "helpline.AuditEntry.actor_username": STAFF_ACCOUNT,
    "helpline.AuditEntry.actor_role": CODE + " (a role, or 'system')",
    "helpline.AuditEntry.action": CODE,
    "helpline.AuditEntry.object_type": CODE,
    "helpline.AuditEntry.object_id": CODE + " (a row id, or a hash prefix)",
    "helpline.AuditEntry.request_id": CODE,
    "helpline.AuditEntry.user_agent": "the staff member's or Twilio's HTTP client name",
    "helpline.AuditEntry.changes": (
        "personal fields are recorded as '[redacted]' (helpline.audit.diff); the rest are codes, "
        "ids, dates and flags"
    ),
    "helpline.AuditEntry.extra": (
        "ids, codes and counts; free text a person typed (a reason) is sealed under its case's "
        "key (helpline.crypto.seal) and unreadable once the case is anonymised"
    ),
    "helpline.AuditChainHead.last_hash": "SHA-256 of the chain's newest entry",
    "helpline.ReconciledRowEvent.event_model": CODE,
    # cases
    "cases.Category.code": HELPLINE_CONFIGURATION,
    "cases.Category.label": HELPLINE_CONFIGURATION,
    "cases.Category.parent_code": HELPLINE_CONFIGURATION,
    "cases.Case.reference": CODE + " (DEMO-2026-000042)",
    "cases.Case.categories": "category codes of the helpline's list",
    "cases.Case.child_area": (
        "the district or town, kept for routing and statistics (docs/decisions.md, 'Free text at "
        "rest'); the precise place is the encrypted child_location"
    ),
    "cases.Case.child_language": CODE + " (a language code)",
    "cases.Contact.language": CODE + " (a language code)",
    "cases.Case.reporter_phone_hash": KEYED_HASH,
    # referrals
    "referrals.Agency.code": AGENCY_DIRECTORY,
    "referrals.Agency.name": AGENCY_DIRECTORY,
    "referrals.Agency.country": AGENCY_DIRECTORY,
    "referrals.Agency.areas_served": AGENCY_DIRECTORY,
    "referrals.Agency.service_types": AGENCY_DIRECTORY,
    "referrals.Agency.response_hours": AGENCY_DIRECTORY,
    "referrals.Agency.webhook_url": AGENCY_DIRECTORY,
    "referrals.Agency.notify_email": AGENCY_DIRECTORY,
    "referrals.Agency.notify_sms": AGENCY_DIRECTORY,
    "referrals.WebhookChange.url": AGENCY_DIRECTORY + " (a proposed webhook address)",
    "referrals.WebhookChange.verification": CODE + " (the generic outcome of a verification challenge)",
    "referrals.Referral.service_type": "a service code of the agency's list",
    "referrals.Referral.reported_urls": (
        "addresses of the reported online material the hotline acts on; kept out of row history "
        "and erased with the case. Known gap: not encrypted yet (docs/decisions.md)"
    ),
    "referrals.Delivery.event": CODE,
    "referrals.Delivery.url": AGENCY_DIRECTORY + " (the webhook address at the time)",
    "referrals.DeliveryAttempt.error": (
        "the HTTP status or the client library's error about the agency's endpoint, written by the system"
    ),
    # channels_sms
    "channels_sms.PhoneNumber.number": HELPLINE_CONFIGURATION + " (our own number)",
    "channels_sms.PhoneNumber.acknowledgement": HELPLINE_CONFIGURATION,
    "channels_sms.PhoneNumber.language": CODE + " (a language code)",
    "channels_sms.InboundEvent.language": CODE + " (a language code)",
    "channels_sms.InboundEvent.provider": CODE,
    "channels_sms.InboundEvent.external_id": CODE + " (Twilio's MessageSid or CallSid)",
    "channels_sms.InboundEvent.sender_hash": KEYED_HASH,
    "channels_sms.InboundEvent.reply": "our acknowledgement text, configured by the helpline",
    "channels_sms.Message.sender_hash": KEYED_HASH,
    "channels_sms.Message.external_id": CODE + " (Twilio's MessageSid)",
    "channels_sms.Message.from_address": HELPLINE_CONFIGURATION + " (our own number)",
    "channels_sms.Message.status": CODE + " (Twilio's delivery status)",
    "channels_sms.Message.error_code": CODE + " (Twilio's error code)",
    "channels_sms.VoiceRoute.greeting": HELPLINE_CONFIGURATION,
    "channels_sms.VoiceRoute.queue_name": HELPLINE_CONFIGURATION,
    "channels_sms.VoiceRoute.dial_numbers": HELPLINE_CONFIGURATION + " (the on-duty desks' numbers)",
    "channels_sms.VoiceRoute.emergency_digit": HELPLINE_CONFIGURATION,
    "channels_sms.Callback.reason": CODE + " (Twilio's CallStatus or queue result)",
    "channels_sms.ChatSession.greeting": (
        HELPLINE_CONFIGURATION + " (the greeting the child was shown, copied when the chat opened)"
    ),
    "channels_sms.ChatSession.out_of_hours_notice": (
        HELPLINE_CONFIGURATION + " (the out-of-hours message the child was shown)"
    ),
    "channels_sms.CannedReply.language": CODE + " (a language code)",
    "channels_sms.CannedReply.title": HELPLINE_CONFIGURATION + " (a canned reply's title)",
    "channels_sms.CannedReply.body": (
        HELPLINE_CONFIGURATION + " (a canned reply's text; once sent, the message is encrypted)"
    ),
    "channels_sms.ChatSession.language": CODE + " (a language code)",
    "channels_sms.ChatSession.secret_hash": "SHA-256 of a 256-bit random secret",
    "channels_sms.ChatSession.sender_hash": CODE + " (derived from the session id)",
    "channels_sms.ContacterFlag.identifier_hash": KEYED_HASH,
}
