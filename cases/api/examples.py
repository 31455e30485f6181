"""Examples of the main requests and answers of the cases API, shown in the API documentation
(helpline.api.documentation). Request examples are also sent by tests/test_api_matches_its_schema.py."""

from drf_spectacular.utils import OpenApiExample

_CASE = {
    "id": 4211,
    "reference": "DEMO-2026-000123",
    "helpline": "DEMO",
    "state": "intake",
    "risk_level": "high",
    "categories": ["bullying"],
    "child_first_name": "Amina",
    "child_age": 12,
    "child_age_range": "10-13",
    "child_gender": "girl",
    "child_area": "Central district",
    "child_location": "",
    "child_language": "en",
    "child_details_note": "",
    "safe_contact": "Call after 4 pm",
    "vulnerability_flags": [],
    "reporter_relation": "child_self",
    "reporter_name": "",
    "reporter_phone": "+254700000001",
    "assigned_to": None,
    "team": 3,
    "next_action_due_at": "2026-12-07T10:30:00Z",
    "overdue_since": None,
    "state_changed_at": "2026-12-07T09:30:00Z",
    "restricted": False,
    "closure_reason": "",
    "closed_at": None,
    "anonymised_at": None,
    "created_by": 17,
    "created_at": "2026-12-07T09:30:00Z",
    "updated_at": "2026-12-07T09:30:00Z",
    "merged_into": None,
    "merged_cases": [],
    "available_transitions": ["start_assessment", "dismiss"],
}

_SUMMARY_FIELDS = [
    "id",
    "reference",
    "helpline",
    "state",
    "risk_level",
    "categories",
    "child_first_name",
    "child_age_range",
    "child_gender",
    "child_language",
    "vulnerability_flags",
    "assigned_to",
    "team",
    "next_action_due_at",
    "overdue_since",
    "state_changed_at",
    "restricted",
    "closed_at",
    "anonymised_at",
    "created_at",
    "updated_at",
]

CASE_CREATE = [
    OpenApiExample(
        "A walk-in: a girl reports bullying at school",
        request_only=True,
        value={
            "call_type": "child",
            "channel": "walk_in",
            "summary": "Bullied at school for weeks; afraid to go back.",
            "risk_level": "high",
            "categories": ["bullying"],
            "child_first_name": "Amina",
            "child_age": 12,
            "child_gender": "girl",
            "child_language": "en",
            "reporter_relation": "child_self",
            "safe_contact": "Call after 4 pm",
        },
    ),
    OpenApiExample("The case opened", response_only=True, status_codes=["201"], value=_CASE),
]

CASES_LIST = [
    # One summary: the documentation shows it inside a page (`next`, `previous`, `results`).
    OpenApiExample(
        "The intake queue (`?state=intake`): one case summary of the page",
        response_only=True,
        status_codes=["200"],
        value={name: _CASE[name] for name in _SUMMARY_FIELDS},
    ),
]

CASE_TRANSITION = [
    OpenApiExample("Start the assessment", request_only=True, value={"name": "start_assessment"}),
    OpenApiExample(
        "Close, with the reason", request_only=True, value={"name": "close", "reason": "Child safe at home."}
    ),
    OpenApiExample(
        "The case, now in assessment",
        response_only=True,
        status_codes=["200"],
        value={
            **_CASE,
            "state": "assessment",
            "available_transitions": ["refer", "start_follow_up", "close"],
        },
    ),
    OpenApiExample(
        "Not possible from the case's state",
        response_only=True,
        status_codes=["409"],
        value={
            "type": "client_error",
            "errors": [
                {
                    "code": "transition_not_allowed",
                    "detail": "Transition 'close' is not possible from state 'intake'.",
                    "attr": None,
                }
            ],
            "state": "intake",
            "available_transitions": ["start_assessment", "dismiss"],
        },
    ),
]
