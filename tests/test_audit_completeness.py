"""Every request leaves exactly the audit entries it should: one table row per request type, with
the (action, outcome, object type, case) of each entry it must write and nothing else. Refused
requests — 404 outside the caller's scope, 403, 409 — leave their `denied` entries. Every entry
carries the request's id (ours, answered in X-Request-ID; the client's own kept apart in
`extra.client_request_id`), client address and user agent, and never a personal value
the request sent (the child's location, the reporter's number, a contact summary, a note body)."""

import json
import random
import re
import uuid
from datetime import timedelta
from functools import cached_property
from typing import Any, NamedTuple

import pytest
from django.db.models import Max
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone
from knox.models import AuthToken

from cases.models import Case, CaseAccess, CaseLink, Contact, Escalation
from channels_sms.chat import chat_session_create
from channels_sms.models import Callback, CannedReply, PhoneNumber, VoiceRoute
from channels_sms.voice import callback_request
from helpline.models import AuditEntry
from helpline.services import token_id
from notifications.models import Notification
from referrals.models import Referral, WebhookChange
from reports.models import Export

from . import factories

ALLOWED, DENIED = "allowed", "denied"
CASE, CONTACT, NOTE, ESCALATION, GRANT = (
    "cases.case",
    "cases.contact",
    "cases.note",
    "cases.escalation",
    "cases.caseaccess",
)
LINK = "cases.caselink"
USER, HELPLINE, AGENCY, AUDIT = (
    "helpline.user",
    "helpline.helpline",
    "referrals.agency",
    "helpline.auditentry",
)
CANNED = "channels_sms.cannedreply"
TEAM = "helpline.team"
CALLBACK, CHAT_SESSION, MESSAGE, FLAG_TYPE = (
    "channels_sms.callback",
    "channels_sms.chatsession",
    "channels_sms.message",
    "channels_sms.contacterflag",
)
NUMBER, ROUTE = "channels_sms.phonenumber", "channels_sms.voiceroute"
EXPORT = "reports.export"
NEW = "the new case"  # the case the request itself created
NOTIFICATION = "notifications.notification"
PREFERENCES = {
    "channels": {"critical_case": ["sms"], "emergency_referral": ["sms"]},
    "sms_number": "+254700000111",
}
CONSENT_TYPE, REFERRAL_TYPE, UPDATE_TYPE = (
    "referrals.consent",
    "referrals.referral",
    "referrals.referralupdate",
)

# Personal values sent in request bodies; none may reach an entry's `changes` or `extra`.
LOCATION = "Behind the blue kiosk, Kibera"
PHONE = "0712 345 678"
PHONE_FORMS = (PHONE, "+254712345678", "712345678")
SUMMARY = "Girl of 12 says her uncle beats her"
NOTE_BODY = "Mother called back: the uncle has moved out"
PERSONAL = (LOCATION, *PHONE_FORMS, SUMMARY, NOTE_BODY)

NEW_CASE = {"call_type": "child", "child_location": LOCATION, "reporter_phone": PHONE, "summary": SUMMARY}
CASE_EDIT = {"risk_level": "medium", "child_location": LOCATION, "reporter_phone": PHONE}
CONSENT = {"given_by": "child", "given_at": "2026-01-01T10:00:00Z", "scope": ["referral"]}
REFERRAL = {
    "agency": "@agency",
    "service_type": "investigation",
    "urgency": "urgent",
    "reason": SUMMARY,
    "summary": SUMMARY,
}
CLOSE = {"name": "close", "reason": "Safe at home"}
NEW_USER = {"username": "newbie", "role": "operator"}
NEW_HELPLINE = {"code": "NEWHL", "name": "New helpline", "country": "UG"}
NEW_AGENCY = {"code": "shelter", "name": "Safe House", "sector": "shelter"}
FLAG = {"flag": "blocked", "expires_at": "@next_week", "reason": "Prank calls every night"}
# A name that never resolves (RFC 2606).
NEW_NUMBER = {"channel": "sms", "number": "+15005550009"}
NEW_ROUTE = {"number": "@voice_number", "mode": "dial", "dial_numbers": ["+254700000001"]}
SIBLING = {"case": "@sibling", "kind": "sibling"}
MERGE = {"into": "@case", "reason": "Same child, called twice the same evening."}
WEBHOOK_CHANGE = {
    "webhook_url": "https://hooks.police.invalid/lifeline",
    "webhook_secret": "police-signing-secret",
}


MONTH = {"date_from": "2026-11-01", "date_to": "2026-11-30"}  # a report's period (a GET's query)
EXPORT_ASKED = {**MONTH, "dataset": "cases", "file_format": "csv"}


class Req(NamedTuple):
    """A request (as `who`; "{name}" in the path and "@name" in the body are objects of the world)
    and the entries it must leave: (action, outcome, object type, the case it names or None)."""

    name: str
    who: str
    method: str
    path: str
    body: Any
    status: int
    entries: list[tuple[str, str, str, str | None]]


# fmt: off
REQUESTS = [
    # Reads and writes that are allowed.
    Req("case list", "operator", "get", "cases/", None, 200, [("case.list", ALLOWED, CASE, None)]),
    Req("case retrieve", "operator", "get", "cases/{case}/", None, 200,
        [("case.read", ALLOWED, CASE, "case")]),
    Req("case create", "operator", "post", "cases/", NEW_CASE, 201,
        [("case.create", ALLOWED, CASE, NEW), ("contact.create", ALLOWED, CONTACT, NEW)]),
    Req("case partial update", "operator", "patch", "cases/{case}/", CASE_EDIT, 200,
        [("case.update", ALLOWED, CASE, "case")]),
    Req("transition start_assessment", "operator", "post", "cases/{case}/transitions/",
        {"name": "start_assessment"}, 200, [("case.transition.start_assessment", ALLOWED, CASE, "case")]),
    Req("transition dismiss", "operator", "post", "cases/{prank}/transitions/",
        {"name": "dismiss", "reason": "Prank call"}, 200,
        [("case.transition.dismiss", ALLOWED, CASE, "prank")]),
    Req("transition refer", "operator", "post", "cases/{referred}/transitions/", {"name": "refer"}, 200,
        [("case.transition.refer", ALLOWED, CASE, "referred")]),
    Req("consent record", "operator", "post", "cases/{assessed}/consent/", CONSENT, 201,
        [("consent.record", ALLOWED, CONSENT_TYPE, "assessed")]),
    Req("consent list", "operator", "get", "cases/{assessed}/consent/", None, 200,
        [("consent.list", ALLOWED, CASE, "assessed")]),
    Req("referral create", "operator", "post", "cases/{consented}/referrals/", REFERRAL, 201,
        [("referral.create", ALLOWED, REFERRAL_TYPE, "consented")]),
    Req("referral list as agency", "agency", "get", "referrals/", None, 200,
        [("referral.list", ALLOWED, REFERRAL_TYPE, None)]),
    Req("referral retrieve as agency", "agency", "get", "referrals/{referral}/", None, 200,
        [("referral.read", ALLOWED, REFERRAL_TYPE, "referred")]),
    Req("referral accept", "agency", "post", "referrals/{referral}/accept/", {}, 200,
        [("referral.accept", ALLOWED, REFERRAL_TYPE, "referred")]),
    Req("referral update by agency", "agency", "post", "referrals/{accepted_referral}/updates/",
        {"body": NOTE_BODY}, 201, [("referral.post_update", ALLOWED, UPDATE_TYPE, "referred")]),
    Req("transition start_follow_up", "operator", "post", "cases/{assessed}/transitions/",
        {"name": "start_follow_up", "follow_up_due_at": "@tomorrow"}, 200,
        [("case.transition.start_follow_up", ALLOWED, CASE, "assessed")]),
    Req("transition close", "operator", "post", "cases/{assessed}/transitions/", CLOSE, 200,
        [("case.transition.close", ALLOWED, CASE, "assessed")]),
    Req("transition reopen", "supervisor", "post", "cases/{closed}/transitions/",
        {"name": "reopen", "reason": "Called again"}, 200,
        [("case.transition.reopen", ALLOWED, CASE, "closed")]),
    Req("note list", "operator", "get", "cases/{case}/notes/", None, 200,
        [("note.list", ALLOWED, CASE, "case")]),
    Req("note create", "operator", "post", "cases/{case}/notes/", {"body": NOTE_BODY}, 201,
        [("note.create", ALLOWED, NOTE, "case")]),
    Req("contact list", "operator", "get", "contacts/", None, 200,
        [("contact.list", ALLOWED, CONTACT, None)]),
    Req("contact retrieve", "operator", "get", "contacts/{contact}/", None, 200,
        [("contact.read", ALLOWED, CONTACT, "case")]),
    Req("contact update", "operator", "patch", "contacts/{contact}/", {"summary": SUMMARY}, 200,
        [("contact.update", ALLOWED, CONTACT, "case")]),
    Req("contact attach", "operator", "post", "contacts/{loose}/attach/", {"case": "@case"}, 200,
        [("contact.attach", ALLOWED, CONTACT, "case")]),
    Req("case history", "supervisor", "get", "cases/{case}/history/", None, 200,
        [("case.history", ALLOWED, CASE, "case")]),
    Req("audit list", "supervisor", "get", "audit/", None, 200, [("audit.list", ALLOWED, AUDIT, None)]),
    Req("audit export", "supervisor", "get", "audit/export/", None, 200,
        [("audit.export", ALLOWED, AUDIT, None)]),
    Req("audit verify", "supervisor", "get", "audit/verify/", None, 200,
        [("audit.verify", ALLOWED, AUDIT, None)]),
    Req("user activity", "supervisor", "get", "users/{operator}/activity/", None, 200,
        [("user.activity", ALLOWED, USER, None)]),
    Req("escalation acknowledge", "supervisor", "post", "escalations/{escalation}/acknowledge/", None, 200,
        [("escalation.acknowledge", ALLOWED, ESCALATION, "case")]),
    Req("access put", "supervisor", "put", "cases/{case}/access/", {"users": ["@operator"]}, 200,
        [("case.restrict", ALLOWED, CASE, "case")]),
    Req("access get", "supervisor", "get", "cases/{case}/access/", None, 200,
        [("case.access", ALLOWED, CASE, "case")]),
    Req("break-glass", "supervisor2", "post", "cases/{restricted}/break-glass/",
        {"reason": "Child in danger"}, 201, [("case.break_glass", ALLOWED, CASE, "restricted")]),
    Req("break-glass review", "supervisor", "post", "break-glass/{grant}/review/", None, 200,
        [("case.break_glass.review", ALLOWED, GRANT, "restricted")]),
    Req("login", "anonymous", "post", "auth/token/",
        {"username": "operator1", "password": factories.PASSWORD}, 200,
        [("auth.login", ALLOWED, USER, None)]),
    Req("login failure", "anonymous", "post", "auth/token/",
        {"username": "operator1", "password": "Wrong-1"}, 401, [("auth.login", DENIED, USER, None)]),
    Req("logout", "operator", "post", "auth/logout/", None, 204, [("auth.logout", ALLOWED, USER, None)]),
    Req("token revoke", "operator", "delete", "auth/tokens/{own_token}/", None, 204,
        [("auth.token_revoke", ALLOWED, USER, None)]),
    Req("agency create", "admin", "post", "agencies/", NEW_AGENCY, 201,
        [("agency.create", ALLOWED, AGENCY, None)]),
    Req("agency update", "admin", "patch", "agencies/{agency}/", {"name": "Renamed"}, 200,
        [("agency.update", ALLOWED, AGENCY, None)]),
    Req("user create", "admin", "post", "users/", NEW_USER, 201,
        [("user.create", ALLOWED, USER, None), ("user.password_link", ALLOWED, USER, None)]),
    Req("password link", "admin", "post", "users/{operator}/password-link/", None, 201,
        [("user.password_link", ALLOWED, USER, None)]),
    Req("password set with a link", "anonymous", "post", "auth/password/",
        {"token": "@password_link", "password": "Their-own-passphrase-42"}, 204,
        [("user.password_set", ALLOWED, USER, None)]),
    Req("second factor reset", "admin", "delete", "users/{supervisor}/totp/", None, 204,
        [("user.second_factor_reset", ALLOWED, USER, None)]),
    Req("authenticator enrolment", "anonymous", "post", "auth/totp/",
        {"username": "supervisor1", "password": factories.PASSWORD}, 201,
        [("user.second_factor_enrol_start", ALLOWED, USER, None)]),
    Req("authenticator enrolment failure", "anonymous", "post", "auth/totp/",
        {"username": "supervisor1", "password": "Wrong-1"}, 401, [("auth.login", DENIED, USER, None)]),
    Req("agency webhook change", "admin", "patch", "agencies/{agency}/", WEBHOOK_CHANGE, 200,
        [("agency.update", ALLOWED, AGENCY, None), ("agency.webhook_propose", ALLOWED, AGENCY, None)]),
    # The endpoint does not exist: the approval stands, its verification fails.
    Req("agency webhook approve", "supervisor", "post", "agencies/{agency}/webhook/approve/",
        {"change": "@webhook_change"}, 200,
        [("agency.approve_webhook", ALLOWED, AGENCY, None),
         ("agency.webhook_verify", ALLOWED, AGENCY, None)]),
    Req("user update", "admin", "patch", "users/{operator}/", {"first_name": "Amina"}, 200,
        [("user.update", ALLOWED, USER, None)]),
    Req("helpline create", "platform admin", "post", "helplines/", NEW_HELPLINE, 201,
        [("helpline.create", ALLOWED, HELPLINE, None)]),
    Req("team create", "admin", "post", "teams/", {"name": "Evening"}, 201,
        [("team.create", ALLOWED, TEAM, None)]),
    Req("team update", "admin", "patch", "teams/{team}/", {"name": "Renamed"}, 200,
        [("team.update", ALLOWED, TEAM, None)]),
    Req("case transfer", "operator", "post", "cases/{assessed}/transfer/",
        {"to_user": "@colleague", "note": NOTE_BODY}, 200,
        [("note.create", ALLOWED, NOTE, "assessed"), ("case.transfer", ALLOWED, CASE, "assessed")]),
    Req("helpline update", "admin", "patch", "helplines/{helpline}/", {"name": "Renamed"}, 200,
        [("helpline.update", ALLOWED, HELPLINE, None)]),

    # Refused: outside the caller's scope (404, the entry names no case), forbidden to the role
    # (403) or not possible in the object's state (409).
    Req("case retrieve outside scope", "operator", "get", "cases/{else_case}/", None, 404,
        [("case.read", DENIED, CASE, None)]),
    Req("case create forbidden", "admin", "post", "cases/", NEW_CASE, 403,
        [("case.create", DENIED, CASE, None)]),
    Req("case update outside scope", "operator", "patch", "cases/{else_case}/", CASE_EDIT, 404,
        [("case.update", DENIED, CASE, None)]),
    Req("case update forbidden", "operator", "patch", "cases/{case}/", {**CASE_EDIT, "restricted": True}, 403,
        [("case.update", DENIED, CASE, "case")]),
    Req("case update conflict", "operator", "patch", "cases/{closed}/", CASE_EDIT, 409,
        [("case.update", DENIED, CASE, "closed")]),
    Req("transition outside scope", "operator", "post", "cases/{else_case}/transitions/",
        {"name": "start_assessment"}, 404, [("case.transition", DENIED, CASE, None)]),
    Req("transition forbidden", "operator", "post", "cases/{high}/transitions/", CLOSE, 403,
        [("case.transition.close", DENIED, CASE, "high")]),
    Req("transition conflict", "operator", "post", "cases/{assessed}/transitions/",
        {"name": "start_assessment"}, 409, [("case.transition.start_assessment", DENIED, CASE, "assessed")]),
    Req("note list outside scope", "operator", "get", "cases/{else_case}/notes/", None, 404,
        [("note.list", DENIED, CASE, None)]),
    Req("note create outside scope", "operator", "post", "cases/{else_case}/notes/", {"body": NOTE_BODY}, 404,
        [("note.create", DENIED, CASE, None)]),
    Req("contact retrieve outside scope", "operator", "get", "contacts/{else_contact}/", None, 404,
        [("contact.read", DENIED, CONTACT, None)]),
    Req("contact update outside scope", "operator", "patch", "contacts/{else_contact}/",
        {"summary": SUMMARY}, 404, [("contact.update", DENIED, CONTACT, None)]),
    Req("contact attach outside scope", "operator", "post", "contacts/{else_loose}/attach/",
        {"case": "@case"}, 404, [("contact.attach", DENIED, CONTACT, None)]),
    Req("contact attach to a case outside scope", "operator", "post", "contacts/{loose}/attach/",
        {"case": "@else_case"}, 404, [("contact.attach", DENIED, CASE, None)]),
    Req("contact attach conflict", "operator", "post", "contacts/{contact}/attach/", {"case": "@case"}, 409,
        [("contact.attach", DENIED, CONTACT, "case")]),
    Req("case history outside scope", "supervisor", "get", "cases/{else_case}/history/", None, 404,
        [("case.history", DENIED, CASE, None)]),
    Req("case history forbidden", "operator", "get", "cases/{case}/history/", None, 404,
        [("case.history", DENIED, CASE, None)]),
    Req("audit verify forbidden", "operator", "get", "audit/verify/", None, 404,
        [("audit.verify", DENIED, AUDIT, None)]),
    Req("user activity outside scope", "supervisor", "get", "users/{else_operator}/activity/", None, 404,
        [("user.activity", DENIED, USER, None)]),
    Req("escalation acknowledge outside scope", "supervisor", "post",
        "escalations/{else_escalation}/acknowledge/", None, 404,
        [("escalation.acknowledge", DENIED, ESCALATION, None)]),
    Req("escalation acknowledge forbidden", "operator", "post", "escalations/{escalation}/acknowledge/",
        None, 403, [("escalation.acknowledge", DENIED, ESCALATION, "case")]),
    Req("escalation acknowledge conflict", "supervisor", "post", "escalations/{acknowledged}/acknowledge/",
        None, 409, [("escalation.acknowledge", DENIED, ESCALATION, "case")]),
    Req("access put outside scope", "supervisor", "put", "cases/{else_case}/access/", {"users": []}, 404,
        [("case.restrict", DENIED, CASE, None)]),
    Req("access put forbidden", "operator", "put", "cases/{case}/access/", {"users": []}, 403,
        [("case.restrict", DENIED, CASE, "case")]),
    Req("access get outside scope", "supervisor", "get", "cases/{else_case}/access/", None, 404,
        [("case.access", DENIED, CASE, None)]),
    Req("access get forbidden", "operator", "get", "cases/{case}/access/", None, 404,
        [("case.access", DENIED, CASE, None)]),
    Req("break-glass outside scope", "supervisor", "post", "cases/{else_restricted}/break-glass/",
        {"reason": "Child in danger"}, 404, [("case.break_glass", DENIED, CASE, None)]),
    Req("break-glass review outside scope", "supervisor", "post", "break-glass/{else_grant}/review/",
        None, 404, [("case.break_glass.review", DENIED, GRANT, None)]),
    Req("break-glass review forbidden", "supervisor2", "post", "break-glass/{grant}/review/", None, 403,
        [("case.break_glass.review", DENIED, GRANT, "restricted")]),
    Req("break-glass review conflict", "supervisor", "post", "break-glass/{reviewed_grant}/review/",
        None, 409, [("case.break_glass.review", DENIED, GRANT, "restricted")]),
    Req("referral create without consent", "operator", "post", "cases/{assessed}/referrals/", REFERRAL, 409,
        [("referral.create", DENIED, REFERRAL_TYPE, "assessed")]),
    Req("referral retrieve outside scope", "agency", "get", "referrals/{else_referral}/", None, 404,
        [("referral.read", DENIED, REFERRAL_TYPE, None)]),
    Req("referral accept outside scope", "agency", "post", "referrals/{else_referral}/accept/", {}, 404,
        [("referral.accept", DENIED, REFERRAL_TYPE, None)]),
    Req("referral withdraw forbidden", "agency", "post", "referrals/{referral}/withdraw/",
        {"reason": "Not ours"}, 403, [("referral.withdraw", DENIED, REFERRAL_TYPE, "referred")]),
    Req("referral accept conflict", "agency", "post", "referrals/{accepted_referral}/accept/", {}, 409,
        [("referral.accept", DENIED, REFERRAL_TYPE, "referred")]),
    Req("agency create forbidden", "operator", "post", "agencies/", NEW_AGENCY, 403,
        [("agency.create", DENIED, AGENCY, None)]),
    Req("agency update outside scope", "admin", "patch", "agencies/{else_agency}/", {"name": "Renamed"}, 404,
        [("agency.update", DENIED, AGENCY, None)]),
    Req("agency update forbidden", "supervisor", "patch", "agencies/{agency}/", {"name": "Renamed"}, 403,
        [("agency.update", DENIED, AGENCY, None)]),
    Req("agency webhook approve forbidden", "admin", "post", "agencies/{agency}/webhook/approve/",
        {"change": "@webhook_change"}, 403, [("agency.approve_webhook", DENIED, AGENCY, None)]),
    Req("agency webhook approve outside scope", "supervisor", "post",
        "agencies/{else_agency}/webhook/approve/", {"change": "@webhook_change"}, 404,
        [("agency.approve_webhook", DENIED, AGENCY, None)]),
    Req("user create forbidden", "supervisor", "post", "users/", NEW_USER, 403,
        [("user.create", DENIED, USER, None)]),
    Req("password link outside scope", "admin", "post", "users/{else_operator}/password-link/", None, 404,
        [("user.password_link", DENIED, USER, None)]),
    Req("password link forbidden", "supervisor", "post", "users/{operator}/password-link/", None, 403,
        [("user.password_link", DENIED, USER, None)]),
    Req("second factor reset outside scope", "admin", "delete", "users/{else_operator}/totp/", None, 404,
        [("user.second_factor_reset", DENIED, USER, None)]),
    Req("user update outside scope", "admin", "patch", "users/{else_operator}/", {"first_name": "Amina"}, 404,
        [("user.update", DENIED, USER, None)]),
    Req("user update forbidden", "operator", "patch", "users/{operator}/", {"role": "admin"}, 403,
        [("user.update", DENIED, USER, None)]),
    Req("helpline create forbidden", "admin", "post", "helplines/", NEW_HELPLINE, 403,
        [("helpline.create", DENIED, HELPLINE, None)]),
    Req("team create forbidden", "supervisor", "post", "teams/", {"name": "Evening"}, 403,
        [("team.create", DENIED, TEAM, None)]),
    Req("team update forbidden", "operator", "patch", "teams/{team}/", {"name": "Renamed"}, 403,
        [("team.update", DENIED, TEAM, None)]),
    Req("team update outside scope", "admin", "patch", "teams/{else_team}/", {"name": "Renamed"}, 404,
        [("team.update", DENIED, TEAM, None)]),
    Req("team retire conflict", "admin", "patch", "teams/{team}/", {"is_active": False}, 409,
        [("team.update", DENIED, TEAM, None)]),
    Req("case transfer outside scope", "operator", "post", "cases/{else_case}/transfer/",
        {"to_user": "@colleague", "note": NOTE_BODY}, 404, [("case.transfer", DENIED, CASE, None)]),
    Req("case transfer forbidden", "operator", "post", "cases/{night_case}/transfer/",
        {"to_user": "@colleague", "note": NOTE_BODY}, 403, [("case.transfer", DENIED, CASE, "night_case")]),
    Req("case transfer refused receiver", "operator", "post", "cases/{assessed}/transfer/",
        {"to_team": "@else_team", "note": NOTE_BODY}, 400, [("case.transfer", DENIED, CASE, "assessed")]),
    Req("helpline update outside scope", "admin", "patch", "helplines/{elsewhere}/", {"name": "Renamed"}, 404,
        [("helpline.update", DENIED, HELPLINE, None)]),
    Req("phone number create", "admin", "post", "phone-numbers/", NEW_NUMBER, 201,
        [("phone_number.create", ALLOWED, NUMBER, None)]),
    Req("phone number update", "admin", "patch", "phone-numbers/{voice_number}/", {"is_active": False}, 200,
        [("phone_number.update", ALLOWED, NUMBER, None)]),
    Req("phone number delete", "admin", "delete", "phone-numbers/{voice_number}/", None, 204,
        [("phone_number.delete", ALLOWED, NUMBER, None)]),
    Req("phone number create forbidden", "supervisor", "post", "phone-numbers/", NEW_NUMBER, 403,
        [("phone_number.create", DENIED, NUMBER, None)]),
    Req("phone number update outside scope", "admin", "patch", "phone-numbers/{else_number}/",
        {"is_active": False}, 404, [("phone_number.update", DENIED, NUMBER, None)]),
    Req("voice route create", "admin", "post", "voice-routes/", NEW_ROUTE, 201,
        [("voice_route.create", ALLOWED, ROUTE, None)]),
    Req("voice route update", "admin", "patch", "voice-routes/{voice_route}/", {"greeting": "Welcome"}, 200,
        [("voice_route.update", ALLOWED, ROUTE, None)]),
    Req("voice route delete", "admin", "delete", "voice-routes/{voice_route}/", None, 204,
        [("voice_route.delete", ALLOWED, ROUTE, None)]),
    Req("voice route delete forbidden", "supervisor", "delete", "voice-routes/{voice_route}/", None, 403,
        [("voice_route.delete", DENIED, ROUTE, None)]),

    # The rest of the served operations (see test_every_served_operation_has_a_row_or_a_reason); reads of
    # one's own account, of staff, helplines, agencies and categories are no case data and write none..
    Req("own tokens", "operator", "get", "auth/tokens/", None, 200, []),
    Req("me", "operator", "get", "auth/me/", None, 200, []),
    Req("own language", "operator", "patch", "auth/me/", {"language": "mn"}, 200,
        [("user.update", ALLOWED, USER, None)]),
    Req("own security events", "operator", "get", "auth/security-events/", None, 200, []),
    Req("authenticator confirmation failure", "anonymous", "post", "auth/totp/confirm/",
        {"username": "supervisor1", "password": factories.PASSWORD, "otp": "123456"}, 401,
        [("auth.login", DENIED, USER, None)]),
    Req("user list", "admin", "get", "users/", None, 200, []),
    Req("user retrieve", "admin", "get", "users/{operator}/", None, 200, []),
    Req("helpline list", "platform admin", "get", "helplines/", None, 200, []),
    Req("helpline retrieve", "admin", "get", "helplines/{helpline}/", None, 200, []),
    Req("team list", "supervisor", "get", "teams/", None, 200, []),
    Req("team retrieve", "operator", "get", "teams/{team}/", None, 200, []),
    Req("break-glass list", "supervisor", "get", "break-glass/", None, 200,
        [("case.break_glass.list", ALLOWED, GRANT, None)]),
    Req("escalation list", "supervisor", "get", "escalations/", None, 200,
        [("escalation.list", ALLOWED, ESCALATION, None)]),
    Req("category list", "operator", "get", "categories/", None, 200, []),
    Req("agency list", "operator", "get", "agencies/", None, 200, []),
    Req("agency retrieve", "operator", "get", "agencies/{agency}/", None, 200, []),
    Req("phone number list", "supervisor", "get", "phone-numbers/", None, 200, []),
    Req("phone number retrieve", "supervisor", "get", "phone-numbers/{voice_number}/", None, 200, []),
    Req("voice route list", "supervisor", "get", "voice-routes/", None, 200, []),
    Req("voice route retrieve", "supervisor", "get", "voice-routes/{voice_route}/", None, 200, []),
    Req("case referral list", "operator", "get", "cases/{referred}/referrals/", None, 200,
        [("referral.list", ALLOWED, CASE, "referred")]),
    Req("referral reject", "agency", "post", "referrals/{referral}/reject/", {"reason": "Not our district"},
        200, [("referral.reject", ALLOWED, REFERRAL_TYPE, "referred")]),
    Req("referral complete", "agency", "post", "referrals/{accepted_referral}/complete/",
        {"outcome": "child_safe"}, 200, [("referral.complete", ALLOWED, REFERRAL_TYPE, "referred")]),
    Req("referral withdraw", "operator", "post", "referrals/{referral}/withdraw/", {"reason": "Family moved"},
        200, [("referral.withdraw", ALLOWED, REFERRAL_TYPE, "referred")]),
    Req("referral approve", "supervisor", "post", "referrals/{awaiting_referral}/approve/", {}, 200,
        [("referral.approve", ALLOWED, REFERRAL_TYPE, "referred")]),
    Req("referral resend", "operator", "post", "referrals/{expired_referral}/resend/",
        {"agency": "@other_agency"}, 201, [("referral.create", ALLOWED, REFERRAL_TYPE, "referred")]),
    Req("referral update list", "agency", "get", "referrals/{referral}/updates/", None, 200,
        [("referral.updates", ALLOWED, REFERRAL_TYPE, "referred")]),
    Req("referral delivery list", "operator", "get", "referrals/{referral}/deliveries/", None, 200,
        [("referral.deliveries", ALLOWED, REFERRAL_TYPE, "referred")]),
    Req("callback list", "operator", "get", "callbacks/", None, 200,
        [("callback.list", ALLOWED, CALLBACK, None)]),
    Req("callback done", "operator", "post", "callbacks/{callback}/done/", {"outcome": "Child is safe."},
        200, [("callback.complete", ALLOWED, CALLBACK, "case")]),
    Req("chat start", "anonymous", "post", "chat/sessions/", {"helpline": "DEMO", "language": "sw"}, 201,
        [("chat.session.create", ALLOWED, CHAT_SESSION, None)]),
    Req("chat read", "child", "get", "chat/sessions/{chat}/messages/", None, 200, []),
    Req("chat send", "child", "post", "chat/sessions/{chat}/messages/", {"body": SUMMARY}, 201,
        [("case.create", ALLOWED, CASE, NEW),
         ("contact.create", ALLOWED, CONTACT, NEW),
         ("message.receive", ALLOWED, MESSAGE, NEW)]),
    Req("chat end", "child", "post", "chat/sessions/{chat}/end/", None, 200,
        [("chat.session.end", ALLOWED, CHAT_SESSION, None)]),
    Req("canned reply create", "supervisor", "post", "canned-replies/",
        {"language": "en", "title": "Hello", "body": "Hello from {helpline}"}, 201,
        [("canned_reply.create", ALLOWED, CANNED, None)]),
    Req("canned reply update", "supervisor", "patch", "canned-replies/{canned}/", {"is_active": False}, 200,
        [("canned_reply.update", ALLOWED, CANNED, None)]),
    Req("canned reply create forbidden", "operator", "post", "canned-replies/",
        {"language": "en", "title": "Hello", "body": "Hello"}, 403,
        [("canned_reply.create", DENIED, CANNED, None)]),
    Req("canned reply update outside scope", "supervisor", "patch", "canned-replies/{else_canned}/",
        {"title": "Renamed"}, 404, [("canned_reply.update", DENIED, CANNED, None)]),
    Req("canned reply list", "operator", "get", "canned-replies/", None, 200, []),
    Req("canned reply retrieve", "operator", "get", "canned-replies/{canned}/", None, 200, []),
    Req("case message list", "operator", "get", "cases/{case}/messages/", None, 200,
        [("message.list", ALLOWED, CASE, "case")]),
    Req("case message without a sender", "operator", "post", "cases/{case}/messages/", {"body": NOTE_BODY},
        409, [("message.send", DENIED, CASE, "case")]),
    Req("contacter profile", "operator", "get", "contacters/{contacter}/", None, 200,
        [("contacter.read", ALLOWED, "contacter", None)]),
    Req("contacter flag", "supervisor", "post", "contacters/{contacter}/flag/", FLAG, 201,
        [("contacter.flag", ALLOWED, FLAG_TYPE, None)]),
    Req("contacter flag lift", "supervisor", "delete", "contacters/{flagged}/flag/", None, 204,
        [("contacter.unflag", ALLOWED, FLAG_TYPE, None)]),
    Req("notification list", "operator", "get", "notifications/", None, 200,
        [("notification.list", ALLOWED, NOTIFICATION, None)]),
    Req("notification unread count", "operator", "get", "notifications/unread-count/", None, 200, []),
    Req("notification read", "operator", "post", "notifications/{notification}/read/", None, 200,
        [("notification.read", ALLOWED, NOTIFICATION, "case")]),
    Req("notification of another read", "supervisor", "post", "notifications/{notification}/read/", None,
        404, [("notification.read", DENIED, NOTIFICATION, None)]),
    Req("notification read all", "operator", "post", "notifications/read-all/", None, 200,
        [("notification.read", ALLOWED, NOTIFICATION, None)]),
    Req("notification stream", "operator", "get", "notifications/stream/", None, 200,
        [("notification.stream", ALLOWED, NOTIFICATION, None)]),
    Req("notification preferences", "operator", "get", "notifications/preferences/", None, 200, []),
    Req("notification preferences set", "operator", "put", "notifications/preferences/",
        PREFERENCES, 200, [("notification.preferences_set", ALLOWED, "notifications.preference", None)]),
    Req("on-call rota", "operator", "get", "notifications/on-call/", None, 200, []),
    Req("on-call rota set", "supervisor", "put", "notifications/on-call/",
        {"shifts": [{"user": "@operator", "weekdays": [6, 7], "starts": "18:00", "ends": "08:00"}]}, 200,
        [("notification.on_call_set", ALLOWED, HELPLINE, None)]),
    Req("on-call rota set by an operator", "operator", "put", "notifications/on-call/", {"shifts": []}, 403,
        [("notification.on_call_set", DENIED, HELPLINE, None)]),
    Req("contacts report", "supervisor", "get", "reports/contacts/", MONTH, 200,
        [("report.read", ALLOWED, HELPLINE, None)]),
    Req("contacts report by an operator", "operator", "get", "reports/contacts/", MONTH, 404,
        [("report.read", DENIED, HELPLINE, None)]),
    Req("contacts report as a file", "supervisor", "get", "reports/contacts/", {**MONTH, "file": "csv"}, 200,
        [("report.read", ALLOWED, HELPLINE, None)]),
    Req("cases report", "supervisor", "get", "reports/cases/", MONTH, 200,
        [("report.read", ALLOWED, HELPLINE, None)]),
    Req("cases report by an operator", "operator", "get", "reports/cases/", MONTH, 404,
        [("report.read", DENIED, HELPLINE, None)]),
    Req("CHI report", "supervisor", "get", "reports/chi/", {"year": 2026}, 200,
        [("report.read", ALLOWED, HELPLINE, None)]),
    Req("CHI report by an operator", "operator", "get", "reports/chi/", {"year": 2026}, 404,
        [("report.read", DENIED, HELPLINE, None)]),
    Req("export request", "supervisor", "post", "exports/", EXPORT_ASKED, 202,
        [("export.request", ALLOWED, EXPORT, None)]),
    Req("export request by an operator", "operator", "post", "exports/", EXPORT_ASKED, 404,
        [("export.request", DENIED, EXPORT, None)]),
    Req("export list", "supervisor", "get", "exports/", None, 200, [("export.list", ALLOWED, EXPORT, None)]),
    Req("export read", "supervisor", "get", "exports/{export}/", None, 200,
        [("export.read", ALLOWED, EXPORT, None)]),
    Req("export download before it is ready", "supervisor", "get", "exports/{export}/file/", None, 409,
        [("export.download", DENIED, EXPORT, None)]),
    Req("export download by another", "admin", "get", "exports/{export}/file/", None, 404,
        [("export.download", DENIED, EXPORT, None)]),
    Req("export review", "admin", "post", "exports/{export}/review/", None, 200,
        [("export.review", ALLOWED, EXPORT, None)]),
    Req("exports dictionary", "supervisor", "get", "exports/dictionary/", None, 200, []),
    Req("notification requirements", "operator", "get", "notifications/requirements/", None, 200, []),
    Req("notification requirements set", "admin", "put", "notifications/requirements/",
        {"requirements": {"overdue": "email"}}, 200,
        [("notification.requirements_set", ALLOWED, HELPLINE, None)]),
    Req("notification requirements set by a supervisor", "supervisor", "put", "notifications/requirements/",
        {"requirements": {}}, 403, [("notification.requirements_set", DENIED, HELPLINE, None)]),
    Req("case link list", "operator", "get", "cases/{case}/links/", None, 200,
        [("case.link.list", ALLOWED, CASE, "case")]),
    Req("case link list outside scope", "operator", "get", "cases/{else_case}/links/", None, 404,
        [("case.link.list", DENIED, CASE, None)]),
    # A link is recorded on both of its cases, the lower id first.
    Req("case link create", "operator", "post", "cases/{case}/links/", SIBLING, 201,
        [("case.link.create", ALLOWED, LINK, "case"), ("case.link.create", ALLOWED, LINK, "sibling")]),
    Req("case link create outside scope", "operator", "post", "cases/{else_case}/links/", SIBLING, 404,
        [("case.link.create", DENIED, CASE, None)]),
    Req("case link create to a case outside scope", "operator", "post", "cases/{case}/links/",
        {"case": "@else_case", "kind": "sibling"}, 404, [("case.link.create", DENIED, CASE, None)]),
    Req("case link create conflict", "operator", "post", "cases/{linked}/links/",
        {"case": "@case", "kind": "sibling"}, 409, [("case.link.create", DENIED, CASE, "linked")]),
    Req("case link remove", "operator", "delete", "case-links/{case_link}/", None, 204,
        [("case.link.remove", ALLOWED, LINK, "case"), ("case.link.remove", ALLOWED, LINK, "sibling")]),
    Req("case link remove outside scope", "operator", "delete", "case-links/{else_link}/", None, 404,
        [("case.link.remove", DENIED, LINK, None)]),
    Req("case link remove conflict", "operator", "delete", "case-links/{removed_link}/", None, 409,
        [("case.link.remove", DENIED, LINK, "case")]),
    # The duplicate is closed by its merge transition; the survivor records what it received.
    Req("case merge", "supervisor", "post", "cases/{duplicate}/merge/", MERGE, 200,
        [("case.transition.merge", ALLOWED, CASE, "duplicate"),
         ("case.merge_receive", ALLOWED, CASE, "case")]),
    Req("case merge outside scope", "supervisor", "post", "cases/{else_case}/merge/", MERGE, 404,
        [("case.transition.merge", DENIED, CASE, None)]),
    Req("case merge into a case outside scope", "supervisor", "post", "cases/{duplicate}/merge/",
        {**MERGE, "into": "@else_case"}, 404, [("case.transition.merge", DENIED, CASE, None)]),
    Req("case merge forbidden", "operator", "post", "cases/{duplicate}/merge/", MERGE, 403,
        [("case.transition.merge", DENIED, CASE, "duplicate")]),
    Req("case merge conflict", "supervisor", "post", "cases/{duplicate}/merge/", {**MERGE, "into": "@closed"},
        409, [("case.transition.merge", DENIED, CASE, "duplicate")]),
    *[Req(f"unsigned webhook {path}", "anonymous", "post", path, None, 403,
          [("webhook.rejected", DENIED, "webhook", None)])
      for path in ("/webhooks/twilio/sms/", "/webhooks/twilio/sms/status/", "/webhooks/twilio/voice/",
                   "/webhooks/twilio/voice/gather/", "/webhooks/twilio/voice/status/",
                   "/webhooks/twilio/sms/fallback/", "/webhooks/twilio/voice/fallback/")],
]
# fmt: on


class World:
    """Helpline DEMO with the objects the requests act on, built through the API (so their own
    entries are written before the request's watermark), and helpline ELSE beside it."""

    def __init__(self, api, walk_in, helpline, team, operator, supervisor, admin_user, agency_user):
        self.api, self.walk_in, self.helpline, self.operator, self.supervisor = (
            api,
            walk_in,
            helpline,
            operator,
            supervisor,
        )
        self.users = {
            "operator": operator,
            "supervisor": supervisor,
            "supervisor2": factories.SupervisorFactory(username="supervisor2", helpline=helpline, team=team),
            "admin": admin_user,
            "platform admin": factories.AdminFactory(username="root", helpline=None),
            "agency": agency_user,
        }
        self.agency = agency_user.agency_membership.agency

    def client(self, who: str):
        """A user by role, "anonymous", or "child": the holder of the open web chat's secret."""
        client = self.api(self.users.get(who))
        if who == "child":
            client.credentials(HTTP_X_CHAT_SECRET=self.chat_started.secret)
        client.raise_request_exception = False
        return client

    def ok(self, who: str, method: str, path: str, body: Any = None) -> dict:
        response = getattr(self.client(who), method)(f"/api/v1/{path}", body, format="json")
        assert response.status_code in (200, 201), response.content[:500]
        return response.json()

    def opened(self, **fields) -> Case:
        return Case.objects.get(pk=self.walk_in(**fields)["id"])

    def assessed_case(self, risk_level: str) -> Case:
        case = self.opened(risk_level=risk_level)
        self.ok("operator", "post", f"cases/{case.pk}/transitions/", {"name": "start_assessment"})
        return case

    # The objects, made when a request first names them.
    @cached_property
    def case(self) -> Case:
        return self.opened(risk_level="low")

    @cached_property
    def assessed(self) -> Case:
        return self.assessed_case("low")

    @cached_property
    def consented(self) -> Case:
        case = self.assessed_case("low")
        self.ok("operator", "post", f"cases/{case.pk}/consent/", CONSENT)
        return case

    @cached_property
    def referred(self) -> Case:
        """Consented, with a referral sent to the agency (still in assessment)."""
        case = self.consented
        self.referral  # noqa: B018 - made through the API before the request's watermark
        return case

    @cached_property
    def referral(self) -> Referral:
        body = self.fill(REFERRAL)
        return Referral.objects.get(
            pk=self.ok("operator", "post", f"cases/{self.consented.pk}/referrals/", body)["id"]
        )

    @cached_property
    def accepted_referral(self) -> Referral:
        self.ok("agency", "post", f"referrals/{self.referral.pk}/accept/", {})
        return self.referral

    @cached_property
    def else_referral(self) -> Referral:
        return factories.ReferralFactory(case=self.else_case, agency=self.else_agency)

    @cached_property
    def awaiting_referral(self) -> Referral:
        return factories.ReferralFactory(
            case=self.referred, agency=self.agency, created_by=self.operator, state="awaiting_approval"
        )

    @cached_property
    def expired_referral(self) -> Referral:
        return factories.ReferralFactory(
            case=self.referred, agency=self.agency, created_by=self.operator, state="expired"
        )

    @cached_property
    def other_agency(self):
        return factories.AgencyFactory(helpline=self.helpline)

    @cached_property
    def callback(self) -> Callback:
        call = factories.ContactFactory(case=self.case, channel="voice", call_type="")
        return callback_request(contact=call, reason="no-answer", at=timezone.now())

    @cached_property
    def chat_started(self):
        return chat_session_create(helpline_code=self.helpline.code, language="en")

    @cached_property
    def chat(self) -> str:
        return str(self.chat_started.session.pk)

    @cached_property
    def contacter(self) -> str:
        """A sender identifier's hash, the reporter's of a case of the helpline."""
        factories.CaseFactory(helpline=self.helpline, reporter_phone_hash="c" * 64)
        return "c" * 64

    @cached_property
    def flagged(self) -> str:
        self.ok("supervisor", "post", f"contacters/{self.contacter}/flag/", self.fill(FLAG))
        return self.contacter

    @cached_property
    def next_week(self) -> str:
        return (timezone.now() + timedelta(days=7)).isoformat()

    @cached_property
    def sibling(self) -> Case:
        """Another case of the helpline, made after `case`: linked to it, the higher id."""
        self.case  # noqa: B018 - the lower id of the pair
        return self.opened(risk_level="low")

    @cached_property
    def case_link(self) -> CaseLink:
        """`case` and `sibling`, linked as siblings by the operator."""
        body = {"case": self.sibling.pk, "kind": "sibling"}
        return CaseLink.objects.get(
            pk=self.ok("operator", "post", f"cases/{self.case.pk}/links/", body)["id"]
        )

    @cached_property
    def linked(self) -> Case:
        """`sibling`, already linked to `case`."""
        self.case_link  # noqa: B018 - made through the API before the request's watermark
        return self.sibling

    @cached_property
    def removed_link(self) -> CaseLink:
        response = self.client("operator").delete(f"/api/v1/case-links/{self.case_link.pk}/")
        assert response.status_code == 204, response.content[:500]
        return self.case_link

    @cached_property
    def else_link(self) -> CaseLink:
        low, high = self.else_case, factories.CaseFactory(helpline=self.elsewhere)
        return CaseLink.objects.create(
            helpline=self.elsewhere,
            case_low=low,
            case_high=high,
            kind="sibling",
            created_by=factories.OperatorFactory(helpline=self.elsewhere),
        )

    @cached_property
    def duplicate(self) -> Case:
        """A case recorded twice: merged into `case`."""
        return self.opened(risk_level="low")

    @cached_property
    def high(self) -> Case:
        return self.assessed_case("high")

    @cached_property
    def closed(self) -> Case:
        case = self.assessed_case("low")
        self.ok("operator", "post", f"cases/{case.pk}/transitions/", CLOSE)
        return case

    @cached_property
    def prank(self) -> Case:
        return self.opened(call_type="prank")

    @cached_property
    def contact(self) -> Contact:
        return Contact.objects.get(case=self.case)

    @cached_property
    def loose(self) -> Contact:
        return factories.ContactFactory(helpline=self.helpline, case=None)

    @cached_property
    def escalation(self) -> Escalation:
        return make_escalation(self.case)

    @cached_property
    def acknowledged(self) -> Escalation:
        self.ok("supervisor", "post", f"escalations/{self.escalation.pk}/acknowledge/")
        return self.escalation

    @cached_property
    def restricted(self) -> Case:
        """Restricted by `supervisor` to `operator`: `supervisor2` is not on its list."""
        case = self.opened()
        self.ok("supervisor", "put", f"cases/{case.pk}/access/", {"users": [self.operator.pk]})
        return case

    @cached_property
    def grant(self) -> CaseAccess:
        body = {"reason": "Child in danger"}
        return CaseAccess.objects.get(
            pk=self.ok("supervisor2", "post", f"cases/{self.restricted.pk}/break-glass/", body)["id"]
        )

    @cached_property
    def reviewed_grant(self) -> CaseAccess:
        self.ok("supervisor", "post", f"break-glass/{self.grant.pk}/review/")
        return self.grant

    @cached_property
    def own_token(self) -> str:
        _, key = AuthToken.objects.create(user=self.operator)
        return token_id(AuthToken.objects.get(token_key=key[:15]))

    @cached_property
    def password_link(self) -> str:
        return self.ok("admin", "post", f"users/{self.operator.pk}/password-link/")["token"]

    @cached_property
    def tomorrow(self) -> str:
        return (timezone.now() + timedelta(days=1)).isoformat()

    @cached_property
    def elsewhere(self):
        return factories.HelplineFactory(code="ELSE")

    @cached_property
    def else_case(self) -> Case:
        return factories.CaseFactory(helpline=self.elsewhere)

    @cached_property
    def else_restricted(self) -> Case:
        return factories.CaseFactory(helpline=self.elsewhere, restricted=True)

    @cached_property
    def else_contact(self) -> Contact:
        return factories.ContactFactory(case=self.else_case)

    @cached_property
    def else_loose(self) -> Contact:
        return factories.ContactFactory(helpline=self.elsewhere, case=None)

    @cached_property
    def team(self):
        return self.operator.team

    @cached_property
    def export(self):
        """A full export the supervisor asked for, queued (its file not written yet)."""
        answer = self.client("supervisor").post(
            "/api/v1/exports/",
            {**MONTH, "dataset": "cases", "file_format": "csv", "mode": "full", "reason": "An inquiry"},
            format="json",
        )
        assert answer.status_code == 202, answer.content[:500]
        return Export.objects.get(pk=answer.json()["id"])

    @cached_property
    def colleague(self):
        """An operator of another team of the helpline: a case is handed over to them."""
        night = factories.TeamFactory(helpline=self.helpline, name="Night shift")
        return factories.OperatorFactory(username="night_op", helpline=self.helpline, team=night)

    @cached_property
    def night_case(self) -> Case:
        """Another team's case in the intake queue: the operator sees it, it is not theirs to hand over."""
        return Case.objects.get(pk=self.walk_in(user=self.colleague)["id"])

    @cached_property
    def else_team(self):
        return factories.TeamFactory(helpline=self.elsewhere, name="Else team")

    @cached_property
    def else_operator(self):
        return factories.OperatorFactory(helpline=self.elsewhere)

    @cached_property
    def else_escalation(self) -> Escalation:
        return make_escalation(self.else_case)

    @cached_property
    def else_grant(self) -> CaseAccess:
        holder = factories.SupervisorFactory(helpline=self.elsewhere)
        return CaseAccess.objects.create(
            case=self.else_restricted,
            user=holder,
            kind="break_glass",
            reason="x",
            granted_by=holder,
            expires_at=timezone.now() + timedelta(hours=1),
        )

    @cached_property
    def notification(self) -> Notification:
        """A case transferred to operator1: in their inbox."""
        return Notification.objects.create(
            user=self.operator,
            helpline=self.helpline,
            kind="case_transferred",
            case_id=self.case.pk,
            reference=self.case.reference,
            link=f"/api/v1/cases/{self.case.pk}/",
        )

    @cached_property
    def else_agency(self):
        return factories.AgencyFactory(helpline=self.elsewhere)

    @cached_property
    def canned(self) -> CannedReply:
        return CannedReply.objects.create(
            helpline=self.helpline, language="en", title="Safe?", body="Safe?", created_by=self.supervisor
        )

    @cached_property
    def else_canned(self) -> CannedReply:
        return CannedReply.objects.create(
            helpline=self.elsewhere, language="en", title="Safe?", body="Safe?", created_by=self.else_operator
        )

    @cached_property
    def voice_number(self) -> PhoneNumber:
        return PhoneNumber.objects.get(
            pk=self.ok("admin", "post", "phone-numbers/", {"channel": "voice", "number": "+15005550008"})[
                "id"
            ]
        )

    @cached_property
    def voice_route(self) -> VoiceRoute:
        return VoiceRoute.objects.get(
            pk=self.ok("admin", "post", "voice-routes/", self.fill(NEW_ROUTE))["id"]
        )

    @cached_property
    def else_number(self) -> PhoneNumber:
        return PhoneNumber.objects.create(helpline=self.elsewhere, channel="sms", number="+15005550001")

    @cached_property
    def webhook_change(self) -> WebhookChange:
        """An administrator's proposal, waiting for a supervisor's approval."""
        self.ok("admin", "patch", f"agencies/{self.agency.pk}/", WEBHOOK_CHANGE)
        return WebhookChange.objects.get(agency=self.agency, state="pending")

    def key(self, name: str) -> Any:
        obj = getattr(self, name)
        return obj if isinstance(obj, str) else obj.pk

    def fill(self, value: Any) -> Any:
        if isinstance(value, str) and value.startswith("@"):
            return self.key(value[1:])
        if isinstance(value, dict):
            return {k: self.fill(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.fill(v) for v in value]
        return value


def make_escalation(case: Case) -> Escalation:
    return Escalation.objects.create(
        case=case,
        helpline_id=case.helpline_id,
        team=case.team,
        due_at=timezone.now() - timedelta(minutes=5),
        state=case.state,
        risk_level=case.risk_level,
    )


@pytest.fixture
def world(api, walk_in, helpline, team, operator, supervisor, admin_user, agency_user):
    return World(api, walk_in, helpline, team, operator, supervisor, admin_user, agency_user)


class Sent(NamedTuple):
    response: Any
    entries: list[AuditEntry]
    request_id: str
    client_request_id: str
    client_ip: str
    user_agent: str


def send(world: World, req: Req) -> Sent:
    """Sends the request with its own request id, address and user agent; returns the answer and
    the audit entries written since just before it."""
    path = ("" if req.path.startswith("/") else "/api/v1/") + req.path.format_map(
        {name: world.key(name) for name in _names(req.path)}
    )
    body = world.fill(req.body)
    watermark = AuditEntry.objects.aggregate(last=Max("id"))["last"] or 0
    sent = {
        "HTTP_X_REQUEST_ID": f"audit-{uuid.uuid4().hex}",
        # Sign-in is throttled per client address in the shared cache: each request from its own.
        "REMOTE_ADDR": f"10.{random.randrange(256)}.{random.randrange(256)}.{random.randrange(1, 255)}",
        "HTTP_USER_AGENT": f"LifelineAuditTest/{uuid.uuid4().hex[:8]}",
    }
    client = world.client(req.who)
    if body is None:
        response = getattr(client, req.method)(path, **sent)
    else:
        response = getattr(client, req.method)(path, body, format="json", **sent)
    assert response.status_code == req.status, (req.name, response.status_code, response.content[:500])
    entries = list(AuditEntry.objects.filter(id__gt=watermark).order_by("id"))
    return Sent(
        response,
        entries,
        response["X-Request-ID"],
        sent["HTTP_X_REQUEST_ID"],
        sent["REMOTE_ADDR"],
        sent["HTTP_USER_AGENT"],
    )


def _names(path: str) -> list[str]:
    return [part[1:-1] for part in path.split("/") if part.startswith("{")]


@pytest.mark.parametrize("req", REQUESTS, ids=lambda req: req.name)
def test_request_leaves_exactly_its_audit_entries(world, req):
    sent = send(world, req)
    # The case the request opened: the newest one (a web chat's first message opens one too).
    new_case = Case.objects.order_by("-id").values_list("id", flat=True).first()
    expected = [
        (action, outcome, object_type, new_case if case == NEW else world.key(case) if case else None)
        for action, outcome, object_type, case in req.entries
    ]
    assert [(e.action, e.outcome, e.object_type, e.case_id) for e in sent.entries] == expected


@pytest.mark.parametrize("req", REQUESTS, ids=lambda req: req.name)
def test_audit_entries_carry_the_request_and_no_personal_value(world, req):
    sent = send(world, req)
    for entry in sent.entries:
        assert (entry.request_id, entry.extra["client_request_id"], entry.client_ip, entry.user_agent) == (
            sent.request_id,
            sent.client_request_id,
            sent.client_ip,
            sent.user_agent,
        ), entry.action
        recorded = json.dumps(entry.changes) + json.dumps(entry.extra)
        assert not [value for value in PERSONAL if value in recorded], (entry.action, recorded)


def test_personal_values_sent_are_recorded_only_as_changed(world):
    """The control for the check above: the values did reach the case, and the log says they changed."""
    (update,) = [req for req in REQUESTS if req.name == "case partial update"]
    sent = send(world, update)
    case = Case.objects.get(pk=world.case.pk)
    assert (case.child_location, case.reporter_phone) == (LOCATION, "+254712345678")
    (entry,) = sent.entries
    assert entry.changes["child_location"] == {"before": "[redacted]", "after": "[redacted]"}
    assert entry.changes["reporter_phone"] == {"before": "[redacted]", "after": "[redacted]"}
    assert entry.changes["risk_level"] == {"before": "low", "after": "medium"}


# --- every served operation has a row --------------------------------------------------------------

HTTP_METHODS = ("get", "post", "put", "patch", "delete")
# Served, yet no case data and nothing of anyone's: no row needed.
NOT_AUDITED = {
    ("get", "healthz"): "a load balancer's liveness probe",
    ("get", "readyz"): "a load balancer's readiness probe",
    ("get", "api/schema/"): "the OpenAPI document, the same for everyone",
    ("get", "api/docs/"): "the page that renders the OpenAPI document",
    ("get", "api/v1/vocabularies/"): "the labels of the API's codes (and the helpline's wording of them)",
}
# The Django admin site keeps its own log and is walked by tests/test_admin_site_*.py. The web
# console's pages read and write through the same selectors and services as the API's operations
# walked here (console.base: the API's scopes; an import contract keeps it off the API's views), so
# their entries are the ones this walk checks; tests/test_console_*.py assert them page by page.
NOT_AUDITED_PREFIXES = ("admin/", "console/")


def served_operations() -> set[tuple[str, str]]:
    """(method, route) of every operation the URL table serves, `{id}` for each path parameter: the
    methods a class-based view implements; a function view is Twilio's (it POSTs) or a probe (GET)."""
    found = set()

    def walk(patterns, prefix: str) -> None:
        for entry in patterns:
            route = prefix + str(entry.pattern)
            if isinstance(entry, URLResolver):
                walk(entry.url_patterns, route)
            elif isinstance(entry, URLPattern) and not route.startswith(NOT_AUDITED_PREFIXES):
                path = re.sub(r"<(?:\w+:)?\w+>", "{id}", route)
                view = getattr(entry.callback, "cls", None)
                if view is not None:
                    found.update((m, path) for m in HTTP_METHODS if hasattr(view, m))
                else:
                    found.add(("post" if path.startswith("webhooks/") else "get", path))

    walk(get_resolver().url_patterns, "")
    return found


def rowed_operations() -> set[tuple[str, str]]:
    def route(path: str) -> str:
        full = path.removeprefix("/") if path.startswith("/") else "api/v1/" + path
        return re.sub(r"\{\w+\}", "{id}", full)

    return {(req.method, route(req.path)) for req in REQUESTS}


def test_every_served_operation_has_a_row_or_a_reason():
    served = served_operations()
    assert ("get", "api/v1/cases/{id}/") in served and ("post", "webhooks/twilio/sms/") in served
    rowed = rowed_operations()
    assert sorted(served - rowed - set(NOT_AUDITED)) == [], "operations without an expected-entry row"
    assert sorted(rowed - served) == [], "rows for operations the URL table does not serve"
    assert sorted(set(NOT_AUDITED) - served) == [], "reasons for operations no longer served"
    assert sorted(set(NOT_AUDITED) & rowed) == [], "operations both rowed and excused"
