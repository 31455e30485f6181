"""Examples of the main requests and answers of the referrals and agency API, shown in the API
documentation (helpline.api.documentation). Request examples are also sent by
tests/test_api_matches_its_schema.py."""

from drf_spectacular.utils import OpenApiExample

# What an agency user sees of a referral: the packet frozen when it was sent, never the case.
_AGENCY_REFERRAL = {
    "id": 981,
    "state": "sent",
    "urgency": "urgent",
    "service_type": "counselling",
    "sent_at": "2026-12-07T10:05:00Z",
    "respond_by": "2026-12-08T10:05:00Z",
    "responded_at": None,
    "closed_at": None,
    "rejection_reason": "",
    "withdrawal_reason": "",
    "outcome": "",
    "outcome_note": "",
    "packet": {
        "referral_id": 981,
        "reference": "DEMO-2026-000123",
        "helpline": {"code": "DEMO", "name": "Demo Child Helpline"},
        "urgency": "urgent",
        "service_type": "counselling",
        "category_codes": ["bullying"],
        "risk_level": "high",
        "child": {"age": 12, "age_range": "10-13", "gender": "girl", "language": "en"},
        "summary": "12-year-old bullied at school for weeks; needs counselling near Central district.",
        "sent_at": "2026-12-07T10:05:00Z",
        "respond_by": "2026-12-08T10:05:00Z",
        "legal_basis": "consent",
    },
    "available_transitions": ["accept", "reject"],
}

_STAFF_REFERRAL = {
    "id": 981,
    "case": 4211,
    "case_reference": "DEMO-2026-000123",
    "agency": {
        "id": 12,
        "code": "district-social",
        "name": "District social services",
        "sector": "social_services",
        "country": "KE",
    },
    "state": "sent",
    "urgency": "urgent",
    "service_type": "counselling",
    "reason": "Needs weekly counselling the helpline cannot give.",
    "summary": _AGENCY_REFERRAL["packet"]["summary"],
    "reported_urls": [],
    "platform": "",
    "consent_basis": "consent",
    "override_reason": "",
    "created_by": 17,
    "created_at": "2026-12-07T10:05:00Z",
    "approved_by": None,
    "sent_at": "2026-12-07T10:05:00Z",
    "respond_by": "2026-12-08T10:05:00Z",
    "responded_at": None,
    "response_minutes": None,
    "closed_at": None,
    "rejection_reason": "",
    "withdrawal_reason": "",
    "outcome": "",
    "outcome_note": "",
    "resent_from": None,
    "packet": _AGENCY_REFERRAL["packet"],
    "available_transitions": ["withdraw"],
}

REFERRAL_CREATE = [
    OpenApiExample(
        "Refer to a counselling service",
        request_only=True,
        value={
            "agency": 12,
            "service_type": "counselling",
            "urgency": "urgent",
            "reason": "Needs weekly counselling the helpline cannot give.",
            "summary": _AGENCY_REFERRAL["packet"]["summary"],
        },
    ),
    OpenApiExample(
        "The referral, sent",
        response_only=True,
        status_codes=["201"],
        value={**_STAFF_REFERRAL, "warnings": []},
    ),
    OpenApiExample(
        "No consent recorded for referral",
        response_only=True,
        status_codes=["409"],
        value={
            "type": "client_error",
            "errors": [
                {
                    "code": "consent_required",
                    "detail": (
                        "The case has no consent for referral. Record it (POST /api/v1/cases/{id}/consent/), "
                        "or ask a supervisor to override with a reason; only emergency referrals to police "
                        "or health may go without."
                    ),
                    "attr": None,
                }
            ],
        },
    ),
]

REFERRALS_LIST = [
    # One referral: the documentation shows it inside a page (`next`, `previous`, `results`).
    OpenApiExample(
        "An agency's new referrals (`?state=sent`): one referral of the page",
        response_only=True,
        status_codes=["200"],
        value=_AGENCY_REFERRAL,
    ),
]

_ACCEPTED = {
    **_AGENCY_REFERRAL,
    "state": "accepted",
    "responded_at": "2026-12-07T11:00:00Z",
    "available_transitions": ["complete"],
}

ACCEPT = [
    OpenApiExample("Accept (only if still sent)", request_only=True, value={"expected_state": "sent"}),
    OpenApiExample("The referral, accepted", response_only=True, status_codes=["200"], value=_ACCEPTED),
    OpenApiExample(
        "Already answered",
        response_only=True,
        status_codes=["409"],
        value={
            "type": "client_error",
            "errors": [
                {
                    "code": "transition_not_allowed",
                    "detail": "Transition 'accept' is not possible from state 'accepted'.",
                    "attr": None,
                }
            ],
            "state": "accepted",
            "available_transitions": ["complete"],
        },
    ),
]

REJECT = [
    OpenApiExample(
        "Reject, with the reason",
        request_only=True,
        value={"reason": "Outside our service area; try the district office."},
    ),
    OpenApiExample(
        "The referral, rejected",
        response_only=True,
        status_codes=["200"],
        value={
            **_AGENCY_REFERRAL,
            "state": "rejected",
            "responded_at": "2026-12-07T11:00:00Z",
            "closed_at": "2026-12-07T11:00:00Z",
            "rejection_reason": "Outside our service area; try the district office.",
            "available_transitions": [],
        },
    ),
]

COMPLETE = [
    OpenApiExample(
        "Complete, with the outcome",
        request_only=True,
        value={"outcome": "service_provided", "outcome_note": "Six counselling sessions held."},
    ),
    OpenApiExample(
        "The referral, completed",
        response_only=True,
        status_codes=["200"],
        value={
            **_ACCEPTED,
            "state": "completed",
            "closed_at": "2026-12-20T16:00:00Z",
            "outcome": "service_provided",
            "outcome_note": "Six counselling sessions held.",
            "available_transitions": [],
        },
    ),
]

UPDATE_CREATE = [
    OpenApiExample(
        "An agency's progress update",
        request_only=True,
        value={"body": "First session held; the child will come weekly."},
    ),
    OpenApiExample(
        "The update, posted",
        response_only=True,
        status_codes=["201"],
        value={
            "id": 55,
            "from_party": "agency",
            "author": "social1",
            "body": "First session held; the child will come weekly.",
            "created_at": "2026-12-09T15:00:00Z",
        },
    ),
]
