"""An invalid field or query parameter is refused with the one error shape naming it, and nothing
stored changes. Hand-written rows say what each invalid value means (a missing field, an unknown
choice, an unknown id, a value too long); a derived walk sends every writable field of every body
in the schema a value of the wrong type, so a new field cannot be left out."""

from datetime import timedelta

import pytest

from cases.models import Contact

from .bad_input import (
    ACCEPT,
    ADD_NOTE,
    APPROVE,
    APPROVE_WEBHOOK,
    ATTACH,
    BREAK_GLASS,
    CALLBACK_DONE,
    CHAT_SEND,
    CHAT_START,
    CHILD,
    COMPLETE,
    CONSENT_BODY,
    CREATE_AGENCY,
    CREATE_CANNED,
    CREATE_CASE,
    CREATE_HELPLINE,
    CREATE_NUMBER,
    CREATE_TEAM,
    CREATE_USER,
    CREATE_VOICE_ROUTE,
    EXPORT,
    FLAG,
    FLAG_BODY,
    FLAG_NUMBER,
    LINK,
    LOGIN,
    MERGE,
    NEVER_SEEN,
    NEW_HELPLINE,
    NEW_PASSWORD,
    NEW_USER,
    ON_CALL,
    OWN_LANGUAGE,
    PASSWORD,
    PREFERENCES,
    RECORD_CONSENT,
    REFER,
    REFERRAL_UPDATE,
    REJECT,
    REQUIREMENTS,
    RESEND,
    RESTRICT,
    SEND_MESSAGE,
    SET_PASSWORD,
    TOTP_CONFIRM,
    TOTP_ENROL,
    TRANSFER,
    TRANSITION,
    UPDATE_AGENCY,
    UPDATE_CANNED,
    UPDATE_CASE,
    UPDATE_CONTACT,
    UPDATE_HELPLINE,
    UPDATE_NUMBER,
    UPDATE_TEAM,
    UPDATE_USER,
    UPDATE_VOICE_ROUTE,
    WALKED,
    WITHDRAW,
    assert_error,
    assert_nothing_stored_changed,
    build_world,
    error_pairs,
    send,
    stored,
    writable_fields,
    wrong_type,
)


@pytest.fixture
def world(api, settings, helpline, operator, supervisor, admin_user, agency_user, walk_in):
    return build_world(api, settings, helpline, operator, supervisor, admin_user, agency_user, walk_in)


# --- fields: missing, wrong types, unknown choices, unknown references --------------------------------

NEW_NUMBER = {"channel": "sms", "number": "+254700000124"}

# operation -> [(body, {attr: code} the answer must name, exactly)]
INVALID_FIELDS = {
    OWN_LANGUAGE: [
        ({}, {"language": "required"}),
        ({"language": None}, {"language": "null"}),
        ({"language": "fr"}, {"language": "invalid_choice"}),
        ({"language": ["es"]}, {"language": "invalid_choice"}),
    ],
    LINK: [
        ({}, {"case": "required", "kind": "required"}),
        ({"case": "{sibling}"}, {"kind": "required"}),
        ({"case": "{sibling}", "kind": "cousin"}, {"kind": "invalid_choice"}),
        ({"case": "x", "kind": "sibling"}, {"case": "invalid"}),
        ({"case": 0, "kind": "sibling"}, {"case": "min_value"}),
        ({"case": None, "kind": "sibling"}, {"case": "null"}),
        ({"case": "{case}", "kind": "sibling"}, {"case": "invalid"}),  # the case itself
    ],
    MERGE: [
        ({}, {"into": "required", "reason": "required"}),
        ({"into": "{sibling}"}, {"reason": "required"}),
        ({"into": "{sibling}", "reason": "   "}, {"reason": "blank"}),
        ({"into": "{sibling}", "reason": "r" * 501}, {"reason": "max_length"}),
        ({"into": "x", "reason": "Same child."}, {"into": "invalid"}),
        ({"into": "{case}", "reason": "Same child."}, {"into": "invalid"}),  # the case itself
    ],
    CREATE_NUMBER: [
        ({**NEW_NUMBER, "language": "fr"}, {"language": "invalid_choice"}),
        ({**NEW_NUMBER, "language": "mn"}, {"language": "not_spoken"}),  # not one of its helpline's
        ({}, {"channel": "required", "number": "required"}),
        ({"channel": "fax", "number": "+254700000123"}, {"channel": "invalid_choice"}),
        ({"channel": "sms", "number": "0700 000 123"}, {"number": "invalid"}),
        ({"channel": "sms", "number": "whatsapp:+254700000123"}, {"number": "invalid"}),
        ({"channel": "sms", "number": "+254700000120"}, {"number": "unique"}),  # the world's number
        (
            {"channel": "sms", "number": "+254700000124", "acknowledgement": "a" * 481},
            {"acknowledgement": "max_length"},
        ),
        ({**NEW_NUMBER, "helpline": "x"}, {"helpline": "incorrect_type"}),
        (
            {"channel": "sms", "number": "+254700000124", "helpline": "{other_helpline}"},
            {"helpline": "does_not_exist"},
        ),
    ],
    UPDATE_NUMBER: [
        ({"language": "mn"}, {"language": "not_spoken"}),
        ({"language": None}, {"language": "null"}),
        ({"acknowledgement": "a" * 481}, {"acknowledgement": "max_length"}),
        ({"acknowledgement": None}, {"acknowledgement": "null"}),
        ({"is_active": "maybe"}, {"is_active": "invalid"}),
    ],
    CREATE_VOICE_ROUTE: [
        ({}, {"number": "required"}),
        ({"number": "x"}, {"number": "incorrect_type"}),
        ({"number": 999999}, {"number": "does_not_exist"}),
        ({"number": "{sms_number}"}, {"number": "invalid"}),  # not a voice number
        ({"number": "{voice_number}", "mode": "shout"}, {"mode": "invalid_choice"}),
        ({"number": "{voice_number}", "mode": "dial"}, {"dial_numbers": "required"}),
        ({"number": "{voice_number}", "emergency_digit": "10"}, {"emergency_digit": "invalid"}),
        ({"number": "{voice_number}", "queue_name": "two words"}, {"queue_name": "invalid"}),
        ({"number": "{voice_number}", "greeting": "g" * 481}, {"greeting": "max_length"}),
    ],
    UPDATE_VOICE_ROUTE: [
        ({"emergency_digit": "#"}, {"emergency_digit": "invalid"}),
        ({"mode": None}, {"mode": "null"}),
        ({"dial_numbers": ["0700"]}, {"dial_numbers": "invalid"}),
        ({"dial_numbers": "+254700000130"}, {"dial_numbers": "not_a_list"}),
        ({"greeting": "g" * 481}, {"greeting": "max_length"}),
    ],
    CREATE_TEAM: [
        ({}, {"name": "required"}),
        ({"name": ""}, {"name": "blank"}),
        ({"name": None}, {"name": "null"}),
        ({"name": "x" * 101}, {"name": "max_length"}),
        ({"name": "Day shift"}, {"name": "unique"}),
        ({"name": "Evening", "auto_assign": "sometimes"}, {"auto_assign": "invalid"}),
    ],
    UPDATE_TEAM: [
        ({"name": ""}, {"name": "blank"}),
        ({"name": "Old team"}, {"name": "unique"}),
        ({"is_active": "maybe"}, {"is_active": "invalid"}),
        ({"auto_assign": None}, {"auto_assign": "null"}),
    ],
    TRANSFER: [
        ({"note": "x"}, {"non_field_errors": "one_receiver"}),
        ({"to_user": "{supervisor}", "to_team": "{team}", "note": "x"}, {"non_field_errors": "one_receiver"}),
        ({"to_user": "{supervisor}"}, {"note": "required"}),
        ({"to_user": "{supervisor}", "note": ""}, {"note": "blank"}),
        ({"to_user": "x", "note": "x"}, {"to_user": "incorrect_type"}),
        ({"to_user": 999999, "note": "x"}, {"to_user": "does_not_exist"}),
        ({"to_user": "{outsider}", "note": "x"}, {"to_user": "does_not_exist"}),
        ({"to_team": "{outsider_team}", "note": "x"}, {"to_team": "does_not_exist"}),
        ({"to_team": "{retired_team}", "note": "x"}, {"to_team": "retired"}),
        ({"to_user": "{inactive_user}", "note": "x"}, {"to_user": "cannot_receive"}),
    ],
    LOGIN: [
        ({}, {"username": "required", "password": "required"}),
        ({"username": "operator1"}, {"password": "required"}),
        ({"username": ["operator1"], "password": {"a": 1}}, {"username": "invalid", "password": "invalid"}),
        ({"username": None, "password": PASSWORD}, {"username": "null"}),
        ({"username": "u" * 151, "password": PASSWORD}, {"username": "max_length"}),
    ],
    CREATE_USER: [
        ({}, {"username": "required", "role": "required"}),
        ({**NEW_USER, "username": "new user!"}, {"username": "invalid"}),
        ({**NEW_USER, "username": "operator1"}, {"username": "invalid"}),
        ({**NEW_USER, "role": "god"}, {"role": "invalid_choice"}),
        ({**NEW_USER, "role": 5}, {"role": "invalid_choice"}),
        ({**NEW_USER, "email": "not-an-email"}, {"email": "invalid"}),
        ({**NEW_USER, "team": "x"}, {"team": "incorrect_type"}),
        ({**NEW_USER, "team": 999999}, {"team": "does_not_exist"}),
        # Another helpline's team or agency: as for one that does not exist (issue #13, leak 8b).
        ({**NEW_USER, "team": "{outsider_team}"}, {"team": "does_not_exist"}),
        ({**NEW_USER, "helpline": 999999}, {"helpline": "does_not_exist"}),
        ({**NEW_USER, "agency": 999999}, {"agency": "does_not_exist"}),
        ({**NEW_USER, "role": "agency"}, {"agency": "invalid"}),
        ({**NEW_USER, "role": "agency", "agency": "{other_agency}"}, {"agency": "does_not_exist"}),
    ],
    SET_PASSWORD: [
        ({}, {"token": "required", "password": "required"}),
        ({"token": ["x"], "password": NEW_PASSWORD}, {"token": "invalid"}),
        ({"token": "x" * 129, "password": NEW_PASSWORD}, {"token": "max_length"}),
        ({"token": "x" * 43, "password": NEW_PASSWORD}, {"token": "invalid"}),  # no such link
        ({"token": "x" * 43, "password": None}, {"password": "null"}),
    ],
    TOTP_ENROL: [
        ({}, {"username": "required", "password": "required"}),
        ({"username": None, "password": PASSWORD}, {"username": "null"}),
    ],
    TOTP_CONFIRM: [
        ({"username": "supervisor1", "password": PASSWORD}, {"otp": "required"}),
        ({"username": "supervisor1", "password": PASSWORD, "otp": "12ab56"}, {"otp": "invalid"}),
    ],
    UPDATE_USER: [
        ({"language": "fr"}, {"language": "invalid_choice"}),
        ({"role": "god"}, {"role": "invalid_choice"}),
        ({"role": "agency"}, {"agency": "invalid"}),
        ({"is_active": "sometimes"}, {"is_active": "invalid"}),
        ({"email": "nope"}, {"email": "invalid"}),
        ({"first_name": ["Amina"]}, {"first_name": "invalid"}),
        ({"team": 999999}, {"team": "does_not_exist"}),
        ({"team": "{outsider_team}"}, {"team": "does_not_exist"}),
    ],
    CREATE_HELPLINE: [
        ({**NEW_HELPLINE, "default_language": "sw"}, {"default_language": "invalid_choice"}),
        ({**NEW_HELPLINE, "languages": "es"}, {"languages": "not_a_list"}),
        ({**NEW_HELPLINE, "languages": ["es", "xx"]}, {"languages.1": "invalid_choice"}),
        ({}, {"code": "required", "name": "required", "country": "required"}),
        ({**NEW_HELPLINE, "code": "a b"}, {"code": "invalid"}),
        ({**NEW_HELPLINE, "code": "DEMO"}, {"code": "invalid"}),
        ({**NEW_HELPLINE, "country": "UGA"}, {"country": "invalid"}),
        ({**NEW_HELPLINE, "country": 5}, {"country": "invalid"}),
        ({**NEW_HELPLINE, "timezone": "Mars/Olympus"}, {"timezone": "invalid"}),
        ({**NEW_HELPLINE, "due_policy": "fast"}, {"due_policy": "invalid"}),
        ({**NEW_HELPLINE, "due_policy": {"closed": {"low": 5}}}, {"due_policy": "invalid"}),
        ({**NEW_HELPLINE, "due_policy": {"intake": {"extreme": 5}}}, {"due_policy": "invalid"}),
        ({**NEW_HELPLINE, "due_policy": {"intake": {"critical": "15"}}}, {"due_policy": "invalid"}),
        ({**NEW_HELPLINE, "due_policy": {"intake": {"critical": True}}}, {"due_policy": "invalid"}),
        ({**NEW_HELPLINE, "due_policy": {"intake": 15}}, {"due_policy": "invalid"}),
    ],
    UPDATE_HELPLINE: [
        ({"default_language": "sw"}, {"default_language": "invalid_choice"}),
        ({"languages": ["xx"]}, {"languages.0": "invalid_choice"}),
        ({"languages": ["es"] * 21}, {"languages": "max_length"}),
        ({"label_overrides": {"es": {"channel.fax": "Fax"}}}, {"label_overrides": "invalid"}),
        ({"label_overrides": {"es": {"category.nothing": "Nada"}}}, {"label_overrides": "invalid"}),
        ({"name": ""}, {"name": "blank"}),
        ({"country": "K1"}, {"country": "invalid"}),
        ({"timezone": "Africa/Atlantis"}, {"timezone": "invalid"}),
        ({"is_active": "perhaps"}, {"is_active": "invalid"}),
        ({"due_policy": None}, {"due_policy": "null"}),
        ({"due_policy": {"intake": {"critical": 0}}}, {"due_policy": "invalid"}),
    ],
    CREATE_CASE: [
        ({}, {"call_type": "required"}),
        ({"call_type": "martian"}, {"call_type": "invalid_choice"}),
        (
            {**CHILD, "risk_level": 5, "categories": "x", "child_age": "old"},
            {"risk_level": "invalid_choice", "categories": "not_a_list", "child_age": "invalid"},
        ),
        ({**CHILD, "categories": ["no-such-category"]}, {"categories": "invalid"}),
        ({**CHILD, "categories": ["bullying", "Not A Slug"]}, {"categories.1": "invalid"}),
        ({**CHILD, "categories": ["bullying"] * 21}, {"categories": "max_length"}),
        ({**CHILD, "child_age": 26}, {"child_age": "max_value"}),
        ({**CHILD, "child_age": -1}, {"child_age": "min_value"}),
        ({**CHILD, "child_age": 1.5}, {"child_age": "invalid"}),
        ({**CHILD, "channel": "pigeon"}, {"channel": "invalid_choice"}),
        ({**CHILD, "started_at": "yesterday"}, {"started_at": "invalid"}),
        ({**CHILD, "vulnerability_flags": ["homeless-ish"]}, {"vulnerability_flags.0": "invalid_choice"}),
        (
            {**CHILD, "child_gender": "x", "child_age_range": "x", "reporter_relation": "x"},
            {
                "child_gender": "invalid_choice",
                "child_age_range": "invalid_choice",
                "reporter_relation": "invalid_choice",
            },
        ),
        ({**CHILD, "restricted": "maybe"}, {"restricted": "invalid"}),
        ({**CHILD, "summary": "s" * 10001}, {"summary": "max_length"}),
        ({**CHILD, "summary": "a\u0000b"}, {"summary": "null_characters_not_allowed"}),
        ({**CHILD, "assigned_to": 999999}, {"assigned_to": "does_not_exist"}),
        ({**CHILD, "assigned_to": 2**70}, {"assigned_to": "does_not_exist"}),
        # Another helpline's user or team: as for one that does not exist (issue #13, leak 8b).
        ({**CHILD, "assigned_to": "{outsider}"}, {"assigned_to": "does_not_exist"}),
        ({**CHILD, "assigned_to": "{agency_user}"}, {"assigned_to": "invalid"}),
        ({**CHILD, "team": "{outsider_team}"}, {"team": "does_not_exist"}),
    ],
    UPDATE_CASE: [
        ({"risk_level": 5}, {"risk_level": "invalid_choice"}),
        ({"categories": "x"}, {"categories": "not_a_list"}),
        ({"child_age": "old"}, {"child_age": "invalid"}),
        ({"categories": ["bullying", "no-such-category"]}, {"categories": "invalid"}),
        ({"assigned_to": "{outsider}"}, {"assigned_to": "does_not_exist"}),
        ({"team": 999999}, {"team": "does_not_exist"}),
        ({"child_language": "l" * 17}, {"child_language": "max_length"}),
    ],
    TRANSITION: [
        ({}, {"name": "required"}),
        ({"name": "fly"}, {"name": "invalid_choice"}),
        ({"name": 5}, {"name": "invalid_choice"}),
        ({"name": "start_follow_up"}, {"follow_up_due_at": "invalid"}),
        ({"name": "start_follow_up", "follow_up_due_at": "tomorrow"}, {"follow_up_due_at": "invalid"}),
        (
            {"name": "start_follow_up", "follow_up_due_at": "2000-01-01T00:00:00Z"},
            {"follow_up_due_at": "invalid"},
        ),
        (
            {"name": "start_follow_up", "follow_up_due_at": "9999-12-31T23:59:59-12:00"},
            {"follow_up_due_at": "overflow"},
        ),
        ({"name": "close"}, {"reason": "invalid"}),
        ({"name": "close", "reason": ""}, {"reason": "blank"}),
        ({"name": "close", "reason": "r" * 501}, {"reason": "max_length"}),
    ],
    ADD_NOTE: [
        ({}, {"body": "required"}),
        ({"body": ""}, {"body": "blank"}),
        ({"body": "   "}, {"body": "blank"}),
        ({"body": None}, {"body": "null"}),
        ({"body": ["a note"]}, {"body": "invalid"}),
        ({"body": "n" * 20001}, {"body": "max_length"}),
    ],
    SEND_MESSAGE: [
        ({}, {"body": "required"}),
        ({"body": ""}, {"body": "blank"}),
        ({"body": None}, {"body": "null"}),
        ({"body": ["hello"]}, {"body": "invalid"}),
        ({"body": "m" * 1601}, {"body": "max_length"}),
        ({"body": "a\u0000b"}, {"body": "null_characters_not_allowed"}),
    ],
    UPDATE_CONTACT: [
        ({"call_type": "martian"}, {"call_type": "invalid_choice"}),
        ({"ended_at": "later"}, {"ended_at": "invalid"}),
        ({"summary": {"text": "x"}}, {"summary": "invalid"}),
    ],
    ATTACH: [
        ({}, {"case": "required"}),
        ({"case": "abc"}, {"case": "invalid"}),
        ({"case": 0}, {"case": "min_value"}),
        ({"case": None}, {"case": "null"}),
    ],
    CHAT_START: [
        ({}, {"helpline": "required"}),
        ({"helpline": ""}, {"helpline": "blank"}),
        ({"helpline": None}, {"helpline": "null"}),
        ({"helpline": ["DEMO"]}, {"helpline": "invalid"}),
        ({"helpline": {"code": "DEMO"}}, {"helpline": "invalid"}),
        ({"helpline": True}, {"helpline": "invalid"}),
        ({"helpline": "H" * 21}, {"helpline": "max_length"}),
        ({"helpline": "H" * 100_000}, {"helpline": "max_length"}),
        ({"helpline": "DE\u0000MO"}, {"helpline": "null_characters_not_allowed"}),
        ({"helpline": "DEMO", "language": "l" * 17}, {"language": "max_length"}),
        ({"helpline": "DEMO", "language": None}, {"language": "null"}),
        ({"helpline": "DEMO", "language": ["en"]}, {"language": "invalid"}),
        ({"helpline": "DEMO", "language": "e\u0000n"}, {"language": "null_characters_not_allowed"}),
    ],
    CHAT_SEND: [
        ({}, {"body": "required"}),
        ({"body": ""}, {"body": "blank"}),
        ({"body": "   "}, {"body": "blank"}),
        ({"body": None}, {"body": "null"}),
        ({"body": ["hello"]}, {"body": "invalid"}),
        ({"body": {"text": "hello"}}, {"body": "invalid"}),
        ({"body": False}, {"body": "invalid"}),
        ({"body": "m" * 2001}, {"body": "max_length"}),
        ({"body": "a\u0000b"}, {"body": "null_characters_not_allowed"}),
    ],
    CALLBACK_DONE: [
        ({"outcome": None}, {"outcome": "null"}),
        ({"outcome": ["called"]}, {"outcome": "invalid"}),
        ({"outcome": "o" * 2001}, {"outcome": "max_length"}),
        ({"outcome": "a\u0000b"}, {"outcome": "null_characters_not_allowed"}),
    ],
    FLAG: [
        ({}, {"flag": "required", "expires_at": "required", "reason": "required"}),
        ({**FLAG_BODY, "flag": "banned"}, {"flag": "invalid_choice"}),
        ({**FLAG_BODY, "flag": "BLOCKED"}, {"flag": "invalid_choice"}),
        ({**FLAG_BODY, "flag": 1}, {"flag": "invalid_choice"}),
        ({**FLAG_BODY, "flag": ["blocked"]}, {"flag": "invalid_choice"}),
        ({**FLAG_BODY, "flag": None}, {"flag": "null"}),
        ({**FLAG_BODY, "expires_at": "next week"}, {"expires_at": "invalid"}),
        ({**FLAG_BODY, "expires_at": 1_900_000_000}, {"expires_at": "invalid"}),
        ({**FLAG_BODY, "expires_at": "9999-12-31T23:59:59-12:00"}, {"expires_at": "overflow"}),
        ({**FLAG_BODY, "expires_at": "2000-01-01T00:00:00Z"}, {"expires_at": "invalid"}),
        ({**FLAG_BODY, "reason": ""}, {"reason": "blank"}),
        ({**FLAG_BODY, "reason": "r" * 2001}, {"reason": "max_length"}),
        ({**FLAG_BODY, "reason": "a\u0000b"}, {"reason": "null_characters_not_allowed"}),
        ({**FLAG_BODY, "reason": {"why": "pranks"}}, {"reason": "invalid"}),
        # A hash in the path and a number in the body: one or the other.
        ({**FLAG_BODY, "phone_number": NEVER_SEEN}, {"phone_number": "invalid"}),
    ],
    FLAG_NUMBER: [
        (FLAG_BODY, {"phone_number": "required"}),  # neither a hash nor a number
        ({**FLAG_BODY, "phone_number": ""}, {"phone_number": "blank"}),
        ({**FLAG_BODY, "phone_number": None}, {"phone_number": "null"}),
        ({**FLAG_BODY, "phone_number": "call me maybe"}, {"phone_number": "invalid"}),
        ({**FLAG_BODY, "phone_number": "0733000999"}, {"phone_number": "invalid"}),  # not E.164
        ({**FLAG_BODY, "phone_number": 254733000999}, {"phone_number": "invalid"}),
        ({**FLAG_BODY, "phone_number": [NEVER_SEEN]}, {"phone_number": "invalid"}),
        ({**FLAG_BODY, "phone_number": "+" + "2" * 40}, {"phone_number": "max_length"}),
        ({**FLAG_BODY, "phone_number": "+2547\u0000330"}, {"phone_number": "null_characters_not_allowed"}),
        (
            {**FLAG_BODY, "phone_number": NEVER_SEEN, "flag": "muted"},
            {"flag": "invalid_choice"},
        ),
        (
            {**FLAG_BODY, "phone_number": NEVER_SEEN, "expires_at": "2000-01-01T00:00:00Z"},
            {"expires_at": "invalid"},
        ),
    ],
}
REFERRAL_BODY = REFER.body
INVALID_FIELDS |= {
    RECORD_CONSENT: [
        ({}, {"given_by": "required", "given_at": "required", "scope": "required"}),
        ({**CONSENT_BODY, "given_by": "neighbour"}, {"given_by": "invalid_choice"}),
        ({**CONSENT_BODY, "given_at": "yesterday"}, {"given_at": "invalid"}),
        ({**CONSENT_BODY, "scope": ["publicity"]}, {"scope.0": "invalid_choice"}),
        (
            {**CONSENT_BODY, "scope": ["referral", "referral", "referral", "referral", "referral"]},
            {"scope": "max_length"},
        ),
    ],
    REFER: [
        (
            {},
            {
                "agency": "required",
                "service_type": "required",
                "urgency": "required",
                "reason": "required",
                "summary": "required",
            },
        ),
        ({**REFERRAL_BODY, "agency": 0}, {"agency": "min_value"}),
        ({**REFERRAL_BODY, "agency": 987654}, {"agency": "invalid"}),
        ({**REFERRAL_BODY, "urgency": "whenever"}, {"urgency": "invalid_choice"}),
        ({**REFERRAL_BODY, "service_type": "not a slug"}, {"service_type": "invalid"}),
        ({**REFERRAL_BODY, "reason": ""}, {"reason": "blank"}),
        ({**REFERRAL_BODY, "summary": "s" * 5001}, {"summary": "max_length"}),
        ({**REFERRAL_BODY, "reported_urls": ["not a url"]}, {"reported_urls.0": "invalid"}),
        ({**REFERRAL_BODY, "platform": "p" * 101}, {"platform": "max_length"}),
        ({**REFERRAL_BODY, "override_reason": "o" * 501}, {"override_reason": "max_length"}),
    ],
    REJECT: [
        ({}, {"reason": "required"}),
        ({"reason": ""}, {"reason": "blank"}),
        ({"reason": "r" * 1001}, {"reason": "max_length"}),
        ({"reason": "Not ours", "expected_state": "lost"}, {"expected_state": "invalid_choice"}),
    ],
    WITHDRAW: [
        ({}, {"reason": "required"}),
        ({"reason": None}, {"reason": "null"}),
        ({"reason": "w" * 1001}, {"reason": "max_length"}),
        ({"reason": "Moved", "expected_state": "lost"}, {"expected_state": "invalid_choice"}),
    ],
    REFERRAL_UPDATE: [
        ({}, {"body": "required"}),
        ({"body": ""}, {"body": "blank"}),
        ({"body": "u" * 5001}, {"body": "max_length"}),
    ],
    ACCEPT: [({"expected_state": "lost"}, {"expected_state": "invalid_choice"})],
    APPROVE: [({"expected_state": "lost"}, {"expected_state": "invalid_choice"})],
    COMPLETE: [
        ({}, {"outcome": "required"}),
        ({"outcome": "fine"}, {"outcome": "invalid_choice"}),
        ({"outcome": "child_safe", "outcome_note": "n" * 2001}, {"outcome_note": "max_length"}),
    ],
    RESEND: [
        ({}, {"agency": "required"}),
        ({"agency": 987654}, {"agency": "invalid"}),
        ({"agency": "{second_agency}", "service_type": "not a slug"}, {"service_type": "invalid"}),
    ],
    RESTRICT: [
        ({}, {"users": "required"}),
        ({"users": [987654]}, {"users": "does_not_exist"}),
        ({"users": "{operator}"}, {"users": "not_a_list"}),
    ],
    BREAK_GLASS: [
        ({}, {"reason": "required"}),
        ({"reason": ""}, {"reason": "blank"}),
    ],
    CREATE_AGENCY: [
        ({}, {"code": "required", "name": "required", "sector": "required"}),
        ({**CREATE_AGENCY.body, "sector": "bakery"}, {"sector": "invalid_choice"}),
        ({**CREATE_AGENCY.body, "code": "not a slug"}, {"code": "invalid"}),
        ({**CREATE_AGENCY.body, "notify_email": "nobody"}, {"notify_email": "invalid"}),
        ({**CREATE_AGENCY.body, "webhook_url": "not a url"}, {"webhook_url": "invalid"}),
        ({**CREATE_AGENCY.body, "response_hours": {"urgent": 0}}, {"response_hours.urgent": "min_value"}),
        ({**CREATE_AGENCY.body, "country": "K1"}, {"country": "invalid"}),
    ],
    UPDATE_AGENCY: [
        ({"name": ""}, {"name": "blank"}),
        ({"sector": "bakery"}, {"sector": "invalid_choice"}),
        ({"is_active": "maybe"}, {"is_active": "invalid"}),
        ({"areas_served": "Nairobi"}, {"areas_served": "not_a_list"}),
    ],
    APPROVE_WEBHOOK: [
        ({}, {"change": "required"}),
        ({"change": "first"}, {"change": "invalid"}),
    ],
    REQUIREMENTS: [
        ({}, {"requirements": "required"}),
        ({"requirements": ["overdue"]}, {"requirements": "not_a_dict"}),
        ({"requirements": {"overdue": "pigeon"}}, {"requirements.overdue": "invalid"}),
        ({"requirements": {"no_such_kind": "email"}}, {"requirements": "invalid"}),
    ],
}
EXPORT_BODY = EXPORT.body
INVALID_FIELDS |= {
    EXPORT: [
        (
            {},
            {
                "dataset": "required",
                "file_format": "required",
                "date_from": "required",
                "date_to": "required",
            },
        ),
        ({**EXPORT_BODY, "dataset": "people"}, {"dataset": "invalid_choice"}),
        ({**EXPORT_BODY, "file_format": "pdf"}, {"file_format": "invalid_choice"}),
        ({**EXPORT_BODY, "mode": "raw"}, {"mode": "invalid_choice"}),
        ({**EXPORT_BODY, "date_from": "yesterday"}, {"date_from": "invalid"}),
        ({**EXPORT_BODY, "date_to": "2026-10-01"}, {"date_to": "period_reversed"}),
        ({**EXPORT_BODY, "date_from": "2000-01-01"}, {"date_to": "period_too_long"}),
        ({**EXPORT_BODY, "mode": "full"}, {"reason": "reason_required"}),
        ({**EXPORT_BODY, "mode": "full", "reason": "r" * 2001}, {"reason": "max_length"}),
    ],
}
CANNED_BODY, PREFERENCES_BODY = CREATE_CANNED.body, PREFERENCES.body
SHIFT = ON_CALL.body["shifts"][0]
INVALID_FIELDS |= {
    CREATE_CANNED: [
        ({}, {"language": "required", "title": "required", "body": "required"}),
        ({**CANNED_BODY, "language": "English"}, {"language": "invalid"}),
        ({**CANNED_BODY, "language": "en-abcdefgh-abcde"}, {"language": "max_length"}),
        ({**CANNED_BODY, "language": None}, {"language": "null"}),
        ({**CANNED_BODY, "title": ""}, {"title": "blank"}),
        ({**CANNED_BODY, "title": "t" * 101}, {"title": "max_length"}),
        ({**CANNED_BODY, "title": ["Hello"]}, {"title": "invalid"}),
        ({**CANNED_BODY, "title": "Safe?"}, {"title": "unique"}),  # the world's active reply
        ({**CANNED_BODY, "body": ""}, {"body": "blank"}),
        ({**CANNED_BODY, "body": "b" * 1601}, {"body": "max_length"}),
        ({**CANNED_BODY, "body": "a\u0000b"}, {"body": "null_characters_not_allowed"}),
        # `fill` formats the body: "{{name}}" is sent as "{name}", a placeholder that is not {helpline}.
        ({**CANNED_BODY, "body": "Hello {{name}}."}, {"body": "invalid_placeholder"}),
        ({**CANNED_BODY, "helpline": 999999}, {"helpline": "does_not_exist"}),
        ({**CANNED_BODY, "helpline": "x"}, {"helpline": "incorrect_type"}),
    ],
    UPDATE_CANNED: [
        ({"language": "English"}, {"language": "invalid"}),
        ({"title": ""}, {"title": "blank"}),
        ({"title": None}, {"title": "null"}),
        ({"title": "t" * 101}, {"title": "max_length"}),
        ({"body": "b" * 1601}, {"body": "max_length"}),
        ({"body": "Hello {{name}}."}, {"body": "invalid_placeholder"}),
        ({"is_active": "maybe"}, {"is_active": "invalid"}),
        ({"is_active": None}, {"is_active": "null"}),
    ],
    PREFERENCES: [
        ({}, {"channels": "required"}),
        ({"channels": ["sms"]}, {"channels": "not_a_dict"}),
        ({"channels": None}, {"channels": "null"}),
        (
            {**PREFERENCES_BODY, "channels": {"critical_case": "sms"}},
            {"channels.critical_case": "not_a_list"},
        ),
        (
            {**PREFERENCES_BODY, "channels": {"critical_case": ["sms", "sms", "sms"]}},
            {"channels.critical_case": "max_length"},
        ),
        (
            {**PREFERENCES_BODY, "channels": {**PREFERENCES_BODY["channels"], "critical_case": ["pigeon"]}},
            {"channels.critical_case": "invalid"},
        ),
        (
            {**PREFERENCES_BODY, "channels": {**PREFERENCES_BODY["channels"], "no_such_kind": ["sms"]}},
            {"channels": "invalid"},
        ),
        # Below the helpline's rule (the installation's default: e-mail or SMS for critical cases).
        (
            {**PREFERENCES_BODY, "channels": {**PREFERENCES_BODY["channels"], "critical_case": []}},
            {"channels.critical_case": "invalid"},
        ),
        ({**PREFERENCES_BODY, "sms_number": "call me maybe"}, {"sms_number": "invalid"}),
        ({**PREFERENCES_BODY, "sms_number": "+" + "2" * 40}, {"sms_number": "max_length"}),
        ({**PREFERENCES_BODY, "sms_number": None}, {"sms_number": "null"}),
        ({**PREFERENCES_BODY, "sms_number": ""}, {"sms_number": "invalid"}),  # SMS chosen, no number
    ],
    ON_CALL: [
        ({}, {"shifts": "required"}),
        ({"shifts": None}, {"shifts": "null"}),
        # A list of objects is refused as a whole as DRF's ListSerializer does: under non_field_errors.
        ({"shifts": SHIFT}, {"shifts.non_field_errors": "not_a_list"}),
        ({"shifts": [SHIFT] * 201}, {"shifts.non_field_errors": "max_length"}),
        (
            {"shifts": [{}]},
            {
                "shifts.0.user": "required",
                "shifts.0.weekdays": "required",
                "shifts.0.starts": "required",
                "shifts.0.ends": "required",
            },
        ),
        ({"shifts": [{**SHIFT, "user": 999999}]}, {"shifts.0.user": "does_not_exist"}),
        ({"shifts": [{**SHIFT, "user": "x"}]}, {"shifts.0.user": "incorrect_type"}),
        # Another helpline's user: as for one that does not exist.
        ({"shifts": [{**SHIFT, "user": "{outsider}"}]}, {"shifts.0.user": "does_not_exist"}),
        ({"shifts": [{**SHIFT, "weekdays": 6}]}, {"shifts.0.weekdays": "not_a_list"}),
        ({"shifts": [{**SHIFT, "weekdays": []}]}, {"shifts.0.weekdays": "min_length"}),
        ({"shifts": [{**SHIFT, "weekdays": [1] * 8}]}, {"shifts.0.weekdays": "max_length"}),
        ({"shifts": [{**SHIFT, "weekdays": [0]}]}, {"shifts.0.weekdays.0": "min_value"}),
        ({"shifts": [{**SHIFT, "weekdays": [8]}]}, {"shifts.0.weekdays.0": "max_value"}),
        ({"shifts": [{**SHIFT, "weekdays": ["sunday"]}]}, {"shifts.0.weekdays.0": "invalid"}),
        ({"shifts": [{**SHIFT, "starts": "25:00"}]}, {"shifts.0.starts": "invalid"}),
        ({"shifts": [{**SHIFT, "ends": "late"}]}, {"shifts.0.ends": "invalid"}),
    ],
}


@pytest.mark.parametrize("op", list(INVALID_FIELDS), ids=str)
def test_invalid_field_is_refused_naming_the_field_and_changes_nothing(world, op):
    """Each of the operation's rows in turn (one world per operation, not one per row)."""
    client, before = world.client(op.who), stored()
    for body, expected in INVALID_FIELDS[op]:
        response = send(client, op.method, world.fill(op.path), world.fill(body))
        assert error_pairs(response) == set(expected.items()), (body, response.content[:500])
        assert response.json()["type"] == "validation_error"
    assert_nothing_stored_changed(before)


def test_every_operation_with_a_body_has_rows_of_invalid_fields():
    assert [str(op) for op in WALKED if op not in INVALID_FIELDS] == []


def test_helpline_code_differing_only_in_letter_case_is_refused_as_taken(world):
    # Codes are stored upper-cased, so "demo" is the existing "DEMO".
    client, before = world.client("platform_admin"), stored()
    response = send(client, "post", CREATE_HELPLINE.path, {**NEW_HELPLINE, "code": "demo"})
    assert error_pairs(response) == {("code", "invalid")}
    assert_nothing_stored_changed(before)


@pytest.mark.parametrize(
    ("op", "body"),
    [(CREATE_USER, {**NEW_USER, "password": NEW_PASSWORD}), (UPDATE_USER, {"password": NEW_PASSWORD})],
    ids=["create", "update"],
)
def test_a_password_sent_by_an_administrator_is_refused_naming_the_password_field(world, op, body):
    # No operation of administrators declares a password: it is refused as any undeclared field
    # is, before anything is read or written.
    client, before = world.client(op.who), stored()
    response = send(client, op.method, world.fill(op.path), body)
    assert error_pairs(response) == {("password", "unknown_field")}
    assert_nothing_stored_changed(before)


def test_weak_password_is_refused_naming_the_password_field(world):
    issued = world.client("admin").post(f"/api/v1/users/{world.ids['operator']}/password-link/")
    token = issued.json()["token"]
    before = stored()
    response = send(world.client("anon"), "post", SET_PASSWORD.path, {"token": token, "password": "short"})
    assert {attr for attr, _ in error_pairs(response)} == {"password"}
    assert_nothing_stored_changed(before)


def test_contact_ending_before_it_started_is_refused_naming_ended_at(world):
    client, before = world.client("operator"), stored()
    started = Contact.objects.get(pk=world.ids["contact"]).started_at
    body = {"ended_at": (started - timedelta(hours=1)).isoformat()}
    response = send(client, "patch", world.fill(UPDATE_CONTACT.path), body)
    assert {attr for attr, _ in error_pairs(response)} == {"ended_at"}
    assert_nothing_stored_changed(before)


# --- query parameters --------------------------------------------------------------------------------

INVALID_QUERIES = [
    ("operator", "/api/v1/cases/?state=bogus", "state"),
    ("operator", "/api/v1/cases/?risk_level=extreme", "risk_level"),
    ("operator", "/api/v1/cases/?channel=pigeon", "channel"),
    ("operator", "/api/v1/cases/?created_after=yesterday", "created_after"),
    ("operator", "/api/v1/cases/?due_before=soon", "due_before"),
    ("operator", "/api/v1/cases/?assigned_to=me", "assigned_to"),
    ("operator", "/api/v1/cases/?team=day", "team"),
    ("operator", "/api/v1/cases/?category=a%00b", "category"),
    ("operator", "/api/v1/cases/?unassigned=maybe", "unassigned"),
    ("operator", "/api/v1/cases/?overdue=maybe", "overdue"),
    ("operator", "/api/v1/contacts/?case=abc", "case"),
    ("operator", "/api/v1/contacts/?channel=pigeon", "channel"),
    ("operator", "/api/v1/contacts/?unattached=maybe", "unattached"),
    ("supervisor", "/api/v1/escalations/?acknowledged=maybe", "acknowledged"),
    ("operator", "/api/v1/callbacks/?done=maybe", "done"),
    ("operator", "/api/v1/callbacks/?done=a%00b", "done"),
    ("child", "/api/v1/chat/sessions/{chat}/messages/?after=abc", "after"),
    ("child", "/api/v1/chat/sessions/{chat}/messages/?after=1.5", "after"),
    ("child", "/api/v1/chat/sessions/{chat}/messages/?after=a%00b", "after"),
]


@pytest.mark.parametrize(("who", "url", "attr"), INVALID_QUERIES, ids=[u for _, u, _ in INVALID_QUERIES])
def test_invalid_filter_value_is_refused_naming_the_parameter(world, who, url, attr):
    client, before = world.client(who), stored()
    response = send(client, "get", world.fill(url))
    errors = assert_error(response, 400)
    assert {e["attr"] for e in errors} == {attr}
    assert_nothing_stored_changed(before)


@pytest.mark.parametrize(
    ("who", "path"),
    [
        ("operator", "/api/v1/cases/"),
        ("operator", "/api/v1/contacts/"),
        ("supervisor", "/api/v1/escalations/"),
        ("supervisor", "/api/v1/cases/{case}/history/"),
        ("admin", "/api/v1/users/"),
        ("platform_admin", "/api/v1/helplines/"),
        ("operator", "/api/v1/callbacks/"),
    ],
)
def test_forged_page_cursor_is_not_found(world, who, path):
    client, before = world.client(who), stored()
    response = send(client, "get", world.fill(path) + "?cursor=!!not-a-cursor!!")
    assert_error(response, 404, code="not_found")
    assert_nothing_stored_changed(before, except_read_audit=True)


@pytest.mark.parametrize("op", [op for op in WALKED if op is not FLAG_NUMBER], ids=str)
def test_every_writable_field_refuses_a_value_of_the_wrong_type_and_changes_nothing(world, op):
    """Derived from the schema: each field of the body, one at a time, next to valid values of the
    others, is refused naming that field (the rows above say what each invalid value means)."""
    client, before = world.client(op.who), stored()
    accepted = []
    for name, prop in writable_fields(op).items():
        body = {**world.fill(op.body), name: wrong_type(prop)}
        response = send(client, op.method, world.fill(op.path), body)
        named = {(e["attr"] or "").split(".")[0] for e in assert_error(response, response.status_code)}
        if response.status_code != 400 or name not in named:
            accepted.append(f"{name}: {response.status_code} {response.content[:300]}")
    assert not accepted, "\n".join(accepted)
    assert_nothing_stored_changed(before)
