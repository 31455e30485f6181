"""What an agency sees of a referral is the frozen packet its sector's profile allows, and nothing
else: for every sector, a case with every personal field filled is referred through the API and
read back as a user of the receiving agency. The tests check the exact keys of the packet, its
values, and that none of the personal strings the profile leaves out appears anywhere in the
agency's answer."""

import json

import pytest
from django.utils import timezone

from referrals.models import Referral

from .factories import AgencyFactory, AgencyUserFactory

SECTORS = (
    "police",
    "health",
    "social_services",
    "legal_aid",
    "shelter",
    "education",
    "online_abuse_hotline",
    "other",
)
ALL_SCOPES = ["referral", "information_sharing", "reporter_identity"]

CHILD_NAME = "Sarangerel Bold"
CHILD_INITIALS = "S.B."
CHILD_AREA = "Bayanzurkh district"
CHILD_LOCATION = "Khoroo 4, building 12, flat 7, behind the blue kiosk"
SAFE_CONTACT = "Call her aunt Oyunaa on weekdays after 18:00"
REPORTER_NAME = "Dulmaa Ganbaatar"
REPORTER_PHONE = "+254712345678"
DETAILS_NOTE = "Sleeps at the neighbour Tsetseg's flat when the uncle drinks"
CONTACT_SUMMARY = "Walked in with her cousin Munkhbat after school"
NOTE_BODY = "Operator note: the uncle Batbayar threatened the mother"
REASON = "Helpline-internal: repeated disclosure, uncle Batbayar suspected"
SUMMARY = "A 13-year-old girl needs protection and a medical examination."
OVERRIDE_REASON = "Supervisor override: child unreachable for consent, uncle Batbayar at home"
URLS = ["https://example.org/abuse/video-1", "https://example.org/abuse/profile-2"]
PLATFORM = "ExampleTube"

CASE_FIELDS = {
    "call_type": "child",
    "summary": CONTACT_SUMMARY,
    "child_first_name": CHILD_NAME,
    "child_age": 13,
    "child_age_range": "10-13",
    "child_gender": "girl",
    "child_language": "mn",
    "child_area": CHILD_AREA,
    "child_location": CHILD_LOCATION,
    "child_details_note": DETAILS_NOTE,
    "safe_contact": SAFE_CONTACT,
    "vulnerability_flags": ["out_of_school", "orphan"],
    "reporter_relation": "other_family",
    "reporter_name": REPORTER_NAME,
    "reporter_phone": REPORTER_PHONE,
    "categories": ["sexual_violence", "neglect"],
    "risk_level": "high",
}

# Every top-level key a packet has, whatever the sector; `reporter` and `reported_content` are
# added only where the profile (and, for the reporter, the consent) allows.
BASE_PACKET_KEYS = {
    "referral_id",
    "reference",
    "helpline",
    "urgency",
    "service_type",
    "category_codes",
    "risk_level",
    "child",
    "summary",
    "sent_at",
    "respond_by",
    "legal_basis",
}
BASE_CHILD_KEYS = {"age", "age_range", "gender", "language"}

# What each sector's agency gets with consent covering referral, information sharing and the
# reporter's identity: the child's extra keys, and whether the reporter is included.
FULL_CONSENT_CHILD = {
    "police": {"first_name", "location", "area", "safe_contact", "vulnerability_flags"},
    "health": {"first_name", "location", "area", "safe_contact", "vulnerability_flags"},
    "social_services": {"first_name", "location", "area", "safe_contact", "vulnerability_flags"},
    "shelter": {"first_name", "area", "safe_contact", "vulnerability_flags"},
    "legal_aid": {"initials", "area", "safe_contact"},
    "education": {"initials", "area"},
    "online_abuse_hotline": set(),
    "other": {"initials", "area"},
}
REPORTER_SECTORS = {"police", "social_services"}

# The agency's whole view of a referral: the referral's own life and the packet.
AGENCY_VIEW_KEYS = {
    "id",
    "state",
    "urgency",
    "service_type",
    "sent_at",
    "respond_by",
    "responded_at",
    "closed_at",
    "rejection_reason",
    "withdrawal_reason",
    "outcome",
    "outcome_note",
    "packet",
    "available_transitions",
    "updates",
}
STAFF_ONLY_KEYS = {
    "case",
    "case_reference",
    "agency",
    "reason",
    "consent_basis",
    "override_reason",
    "created_by",
    "approved_by",
    "reported_urls",
    "platform",
    "resent_from",
    "response_minutes",
}


# --- helpers ------------------------------------------------------------------------------------------


def open_case(api, operator, walk_in, **overrides):
    """A case with every personal field filled, in assessment, with a note: through the API."""
    case = walk_in(**{**CASE_FIELDS, **overrides})
    client = api(operator)
    started = client.post(
        f"/api/v1/cases/{case['id']}/transitions/", {"name": "start_assessment"}, format="json"
    )
    assert started.status_code == 200, started.json()
    note = client.post(f"/api/v1/cases/{case['id']}/notes/", {"body": NOTE_BODY}, format="json")
    assert note.status_code == 201, note.json()
    return case


def record_consent(client, case_id, scope):
    body = {"given_by": "child", "given_at": timezone.now().isoformat(), "scope": scope}
    response = client.post(f"/api/v1/cases/{case_id}/consent/", body, format="json")
    assert response.status_code == 201, response.json()
    return response.json()


def referral_body(agency, **fields):
    body = {
        "agency": agency.pk,
        "service_type": "protection",
        "urgency": "urgent",
        "reason": REASON,
        "summary": SUMMARY,
    }
    if agency.sector == "online_abuse_hotline":
        body.update(reported_urls=URLS, platform=PLATFORM)
    body.update(fields)
    return body


def refer(client, case_id, agency, **fields):
    return client.post(f"/api/v1/cases/{case_id}/referrals/", referral_body(agency, **fields), format="json")


def agency_with_user(helpline, sector, code=None):
    agency = AgencyFactory(helpline=helpline, sector=sector, code=code or sector.replace("_", "-"))
    user = AgencyUserFactory(helpline=helpline, agency=agency, username=f"{agency.code}-user")
    return agency, user


def read_as_agency(api, user, referral_id):
    response = api(user).get(f"/api/v1/referrals/{referral_id}/")
    assert response.status_code == 200, response.content
    return response.content.decode(), response.json()


def assert_absent(text, *strings):
    for string in strings:
        assert string not in text, f"{string!r} must not reach the agency"


def assert_nothing_internal(text, body, case):
    """What no agency ever sees, whatever its sector and the legal basis."""
    assert set(body) == AGENCY_VIEW_KEYS
    assert not STAFF_ONLY_KEYS & set(body)
    packet = body["packet"]
    assert not {"case", "case_id", "reason", "notes", "contacts", "assigned_to", "referrals"} & set(packet)
    assert not {"reason", "consent_basis", "override_reason", "created_by"} & set(packet)
    # Helpline-internal text: the referral's reason, the case's note, the contact's summary, the
    # operator's free-text details, the operator's and anyone's username.
    assert_absent(text, REASON, NOTE_BODY, CONTACT_SUMMARY, DETAILS_NOTE, "Batbayar", "operator1")
    # The case id is not there under any name.
    assert f'"case": {case["id"]}' not in json.dumps(body)
    assert f'"case_id": {case["id"]}' not in json.dumps(body)


# --- every sector, with full consent -----------------------------------------------------------------


@pytest.mark.parametrize("sector", SECTORS)
def test_each_sector_sees_exactly_what_its_profile_allows(api, helpline, operator, walk_in, sector):
    agency, agency_user = agency_with_user(helpline, sector)
    # Another referral on the same case, to another agency: never part of this agency's view.
    decoy_agency, _ = agency_with_user(helpline, "other", code="decoy-agency")
    case = open_case(api, operator, walk_in)
    client = api(operator)
    record_consent(client, case["id"], ALL_SCOPES)
    decoy = refer(client, case["id"], decoy_agency, summary="Decoy summary for another agency")
    assert decoy.status_code == 201, decoy.json()
    created = refer(client, case["id"], agency)
    assert created.status_code == 201, created.json()
    assert created.json()["consent_basis"] == "consent"

    text, body = read_as_agency(api, agency_user, created.json()["id"])

    assert_nothing_internal(text, body, case)
    assert_absent(text, "Decoy summary for another agency")
    assert body["id"] == created.json()["id"]
    assert body["state"] == "sent"
    packet = body["packet"]
    expected_keys = set(BASE_PACKET_KEYS)
    if sector in REPORTER_SECTORS:
        expected_keys.add("reporter")
    if sector == "online_abuse_hotline":
        expected_keys.add("reported_content")
    assert set(packet) == expected_keys
    assert set(packet["child"]) == BASE_CHILD_KEYS | FULL_CONSENT_CHILD[sector]
    assert packet["referral_id"] == body["id"]
    assert packet["reference"] == case["reference"]
    assert packet["helpline"] == {"code": helpline.code, "name": helpline.name}
    assert (packet["urgency"], packet["service_type"]) == ("urgent", "protection")
    assert packet["category_codes"] == ["sexual_violence", "neglect"]
    assert packet["risk_level"] == "high"
    assert packet["summary"] == SUMMARY
    assert packet["legal_basis"] == "consent"
    assert packet["sent_at"] and packet["respond_by"]
    child = packet["child"]
    assert (child["age"], child["age_range"], child["gender"], child["language"]) == (
        13,
        "10-13",
        "girl",
        "mn",
    )

    # The name: the first name, the initials, or nothing.
    if "first_name" in child:
        assert child["first_name"] == CHILD_NAME
    elif "initials" in child:
        assert child["initials"] == CHILD_INITIALS
        assert_absent(text, "Sarangerel", "Bold")
    else:
        assert_absent(text, "Sarangerel", "Bold", CHILD_INITIALS)
    # The place: precise for police, health and social services; the area elsewhere; nothing for
    # online-abuse hotlines.
    if "location" in child:
        assert (child["location"], child["area"]) == (CHILD_LOCATION, CHILD_AREA)
    else:
        assert_absent(text, CHILD_LOCATION, "Khoroo", "blue kiosk")
    if "area" in child:
        assert child["area"] == CHILD_AREA
    else:
        assert_absent(text, CHILD_AREA, "Bayanzurkh")
    if "safe_contact" in child:
        assert child["safe_contact"] == SAFE_CONTACT
    else:
        assert_absent(text, SAFE_CONTACT, "Oyunaa")
    if "vulnerability_flags" in child:
        assert child["vulnerability_flags"] == ["out_of_school", "orphan"]
    else:
        assert_absent(text, "out_of_school", "orphan")
    # The reporter: police and social services only, and only with the reporter's consent.
    if sector in REPORTER_SECTORS:
        assert packet["reporter"] == {
            "name": REPORTER_NAME,
            "relation": "other_family",
            "phone": REPORTER_PHONE,
        }
    else:
        assert_absent(text, REPORTER_NAME, "Dulmaa", "712345678", "other_family")
    # What was reported online: hotlines only, and then without the child's identity or place.
    if sector == "online_abuse_hotline":
        assert packet["reported_content"] == {"urls": URLS, "platform": PLATFORM}
    else:
        assert_absent(text, "example.org", PLATFORM)

    # The agency's list shows this referral alone, as the same view without updates.
    listed = api(agency_user).get("/api/v1/referrals/")
    assert listed.status_code == 200
    assert [row["id"] for row in listed.json()["results"]] == [body["id"]]
    assert set(listed.json()["results"][0]) == AGENCY_VIEW_KEYS - {"updates"}
    assert_absent(listed.content.decode(), REASON, NOTE_BODY, "Decoy summary for another agency")
    # The agency never reads the case itself, nor the other referral.
    assert api(agency_user).get(f"/api/v1/cases/{case['id']}/").status_code == 404
    assert api(agency_user).get(f"/api/v1/referrals/{decoy.json()['id']}/").status_code == 404


def test_agency_is_offered_only_the_transitions_it_can_take(api, helpline, operator, walk_in):
    """`available_transitions` lists what the caller can POST: never the beat's `expire`."""
    police, police_user = agency_with_user(helpline, "police")
    case = open_case(api, operator, walk_in)
    client = api(operator)
    record_consent(client, case["id"], ["referral"])
    created = refer(client, case["id"], police)
    assert created.status_code == 201, created.json()
    assert created.json()["available_transitions"] == ["withdraw"]
    _, body = read_as_agency(api, police_user, created.json()["id"])
    assert body["available_transitions"] == ["accept", "reject"]
    assert api(police_user).post(f"/api/v1/referrals/{body['id']}/expire/").status_code == 404


# --- consent scope and legal basis --------------------------------------------------------------------


@pytest.mark.parametrize("sector", ["police", "social_services", "health", "shelter"])
def test_consent_to_referral_only_shares_initials_and_area_even_with_police(
    api, helpline, operator, walk_in, sector
):
    agency, agency_user = agency_with_user(helpline, sector)
    case = open_case(api, operator, walk_in)
    client = api(operator)
    record_consent(client, case["id"], ["referral"])
    created = refer(client, case["id"], agency)
    assert created.status_code == 201, created.json()

    text, body = read_as_agency(api, agency_user, created.json()["id"])

    assert_nothing_internal(text, body, case)
    packet = body["packet"]
    assert set(packet) == BASE_PACKET_KEYS, "no reporter without the reporter's consent"
    expected_child = BASE_CHILD_KEYS | {"initials", "area", "vulnerability_flags"}
    assert set(packet["child"]) == expected_child
    assert packet["child"]["initials"] == CHILD_INITIALS
    assert packet["child"]["area"] == CHILD_AREA
    assert packet["legal_basis"] == "consent"
    assert_absent(text, "Sarangerel", CHILD_LOCATION, "Khoroo", SAFE_CONTACT, REPORTER_NAME, "712345678")


@pytest.mark.parametrize("sector", ["police", "social_services"])
def test_reporter_identity_needs_its_own_consent_scope(api, helpline, operator, walk_in, sector):
    agency, agency_user = agency_with_user(helpline, sector)
    case = open_case(api, operator, walk_in)
    client = api(operator)
    record_consent(client, case["id"], ["referral", "information_sharing"])
    created = refer(client, case["id"], agency)
    assert created.status_code == 201, created.json()

    text, body = read_as_agency(api, agency_user, created.json()["id"])

    packet = body["packet"]
    assert "reporter" not in packet
    assert packet["child"]["first_name"] == CHILD_NAME
    assert packet["child"]["location"] == CHILD_LOCATION
    assert_absent(text, REPORTER_NAME, "Dulmaa", "712345678")


def test_a_later_consent_record_decides_what_the_next_referral_shares(api, helpline, operator, walk_in):
    police, police_user = agency_with_user(helpline, "police")
    case = open_case(api, operator, walk_in)
    client = api(operator)
    record_consent(client, case["id"], ALL_SCOPES)
    # The child narrows the consent before the referral goes: the narrower one counts.
    record_consent(client, case["id"], ["referral"])
    created = refer(client, case["id"], police)
    assert created.status_code == 201, created.json()
    text, body = read_as_agency(api, police_user, created.json()["id"])
    assert set(body["packet"]["child"]) == BASE_CHILD_KEYS | {"initials", "area", "vulnerability_flags"}
    assert_absent(text, "Sarangerel", CHILD_LOCATION, REPORTER_NAME)


@pytest.mark.parametrize("sector", ["police", "health"])
def test_emergency_without_consent_shares_the_childs_identity_but_not_the_reporters(
    api, helpline, operator, walk_in, sector
):
    agency, agency_user = agency_with_user(helpline, sector)
    case = open_case(api, operator, walk_in)
    client = api(operator)
    created = refer(client, case["id"], agency, urgency="emergency")
    assert created.status_code == 201, created.json()
    assert created.json()["consent_basis"] == "vital_interests"

    text, body = read_as_agency(api, agency_user, created.json()["id"])

    assert_nothing_internal(text, body, case)
    packet = body["packet"]
    assert packet["legal_basis"] == "vital_interests"
    assert packet["urgency"] == "emergency"
    assert set(packet) == BASE_PACKET_KEYS, "the reporter's identity needs the reporter's consent"
    child = packet["child"]
    assert set(child) == BASE_CHILD_KEYS | FULL_CONSENT_CHILD[sector]
    assert (child["first_name"], child["location"], child["safe_contact"]) == (
        CHILD_NAME,
        CHILD_LOCATION,
        SAFE_CONTACT,
    )
    assert_absent(text, REPORTER_NAME, "Dulmaa", "712345678")


@pytest.mark.parametrize("sector", ["shelter", "education"])
def test_emergency_without_consent_is_refused_outside_police_and_health(
    api, helpline, operator, walk_in, sector
):
    agency, _ = agency_with_user(helpline, sector)
    case = open_case(api, operator, walk_in)
    response = refer(api(operator), case["id"], agency, urgency="emergency")
    assert response.status_code == 409
    assert response.json()["errors"][0]["code"] == "consent_required"
    assert not Referral.objects.filter(case_id=case["id"]).exists()


def test_supervisor_override_shares_what_the_profile_allows_and_keeps_the_reason_internal(
    api, helpline, operator, supervisor, walk_in
):
    agency, agency_user = agency_with_user(helpline, "shelter")
    case = open_case(api, operator, walk_in)
    created = refer(api(supervisor), case["id"], agency, override_reason=OVERRIDE_REASON)
    assert created.status_code == 201, created.json()
    assert created.json()["consent_basis"] == "supervisor_override"

    text, body = read_as_agency(api, agency_user, created.json()["id"])

    assert_nothing_internal(text, body, case)
    packet = body["packet"]
    assert packet["legal_basis"] == "supervisor_override"
    assert set(packet["child"]) == BASE_CHILD_KEYS | FULL_CONSENT_CHILD["shelter"]
    assert "reporter" not in packet
    assert_absent(text, OVERRIDE_REASON, "Supervisor override:", CHILD_LOCATION, REPORTER_NAME)


# --- online-abuse hotlines and reported URLs ------------------------------------------------------------


def test_online_abuse_hotline_gets_the_urls_and_never_who_or_where_the_child_is(
    api, helpline, operator, walk_in
):
    hotline, hotline_user = agency_with_user(helpline, "online_abuse_hotline")
    case = open_case(api, operator, walk_in)
    client = api(operator)
    record_consent(client, case["id"], ALL_SCOPES)
    created = refer(client, case["id"], hotline)
    assert created.status_code == 201, created.json()

    text, body = read_as_agency(api, hotline_user, created.json()["id"])

    assert body["packet"]["reported_content"] == {"urls": URLS, "platform": PLATFORM}
    assert set(body["packet"]["child"]) == BASE_CHILD_KEYS
    assert_absent(
        text,
        "Sarangerel",
        CHILD_INITIALS,
        CHILD_AREA,
        CHILD_LOCATION,
        SAFE_CONTACT,
        REPORTER_NAME,
        "712345678",
        "out_of_school",
    )


def test_online_abuse_hotline_without_reported_urls_is_refused(api, helpline, operator, walk_in):
    hotline, _ = agency_with_user(helpline, "online_abuse_hotline")
    case = open_case(api, operator, walk_in)
    client = api(operator)
    record_consent(client, case["id"], ALL_SCOPES)
    for missing in ({"reported_urls": []}, {}):
        body = {k: v for k, v in referral_body(hotline).items() if k != "reported_urls"}
        body.update(missing)
        response = client.post(f"/api/v1/cases/{case['id']}/referrals/", body, format="json")
        assert response.status_code == 400, response.json()
        assert response.json()["errors"][0]["attr"] == "reported_urls"
    assert not Referral.objects.filter(case_id=case["id"]).exists()


@pytest.mark.parametrize("sector", [s for s in SECTORS if s != "online_abuse_hotline"])
def test_other_sectors_refuse_reported_urls(api, helpline, operator, walk_in, sector):
    agency, _ = agency_with_user(helpline, sector)
    case = open_case(api, operator, walk_in)
    client = api(operator)
    record_consent(client, case["id"], ALL_SCOPES)
    response = refer(client, case["id"], agency, reported_urls=URLS, platform=PLATFORM)
    assert response.status_code == 400, response.json()
    assert response.json()["errors"][0]["attr"] == "reported_urls"
    assert not Referral.objects.filter(case_id=case["id"]).exists()


# --- the packet is frozen ------------------------------------------------------------------------------


def test_packet_is_frozen_when_sent_and_later_case_changes_do_not_reach_it(api, helpline, operator, walk_in):
    police, police_user = agency_with_user(helpline, "police")
    case = open_case(api, operator, walk_in)
    client = api(operator)
    record_consent(client, case["id"], ALL_SCOPES)
    created = refer(client, case["id"], police)
    assert created.status_code == 201, created.json()
    referral_id = created.json()["id"]
    _, before = read_as_agency(api, police_user, referral_id)
    assert before["packet"]["child"]["location"] == CHILD_LOCATION

    moved = "Grandmother's ger, 3rd khoroo, Songinokhairkhan"
    patched = client.patch(
        f"/api/v1/cases/{case['id']}/",
        {
            "child_location": moved,
            "child_area": "Songinokhairkhan district",
            "child_first_name": "Saraa",
            "safe_contact": "Only via the school nurse",
            "risk_level": "critical",
            "categories": ["physical_violence"],
        },
        format="json",
    )
    assert patched.status_code == 200, patched.json()
    assert patched.json()["child_location"] == moved
    # Consent narrowed after sending: the packet already sent stays as it was sent.
    record_consent(client, case["id"], ["referral"])

    text, after = read_as_agency(api, police_user, referral_id)
    assert after["packet"] == before["packet"]
    assert after["packet"]["child"]["location"] == CHILD_LOCATION
    assert after["packet"]["risk_level"] == "high"
    assert_absent(text, moved, "Songinokhairkhan", "Saraa", "school nurse", "physical_violence")
    # Staff see the same frozen packet (what the agency was sent), the reporter's number as they
    # may see it on the case (an operator: its last 3 digits).
    staff = client.get(f"/api/v1/referrals/{referral_id}/")
    phone = before["packet"]["reporter"]["phone"]
    masked = {
        **before["packet"],
        "reporter": {**before["packet"]["reporter"], "phone": "*" * (len(phone) - 3) + phone[-3:]},
    }
    assert staff.json()["packet"] == masked
    assert staff.json()["reason"] == REASON, "staff see the helpline-internal reason"


def test_staff_only_fields_never_reach_the_agency_whatever_the_basis(
    api, helpline, operator, supervisor, walk_in
):
    police, police_user = agency_with_user(helpline, "police")
    case = open_case(api, operator, walk_in)
    referrals = [
        refer(api(supervisor), case["id"], police, override_reason=OVERRIDE_REASON),
        refer(api(operator), case["id"], police, urgency="emergency"),
    ]
    record_consent(api(operator), case["id"], ALL_SCOPES)
    referrals.append(refer(api(operator), case["id"], police))
    assert [r.status_code for r in referrals] == [201, 201, 201]
    bases = [r.json()["consent_basis"] for r in referrals]
    assert bases == ["supervisor_override", "vital_interests", "consent"]

    listed = api(police_user).get("/api/v1/referrals/")
    assert listed.status_code == 200
    assert len(listed.json()["results"]) == 3
    for row in listed.json()["results"]:
        assert not STAFF_ONLY_KEYS & set(row)
    for created in referrals:
        text, body = read_as_agency(api, police_user, created.json()["id"])
        assert_nothing_internal(text, body, case)
        assert_absent(text, OVERRIDE_REASON, supervisor.username, operator.username)


def test_staff_read_the_reporters_number_in_a_packet_as_on_the_case(
    api, helpline, operator, supervisor, walk_in
):
    agency, agency_user = agency_with_user(helpline, "police")
    case = open_case(api, operator, walk_in)
    client = api(operator)
    record_consent(client, case["id"], ["referral", "information_sharing", "reporter_identity"])
    created = refer(client, case["id"], agency)
    assert created.status_code == 201, created.json()
    referral_id = created.json()["id"]
    full = read_as_agency(api, agency_user, referral_id)[1]["packet"]["reporter"]["phone"]
    assert full.endswith("712345678")
    as_operator = api(operator).get(f"/api/v1/referrals/{referral_id}/").json()["packet"]["reporter"]["phone"]
    listed = (
        api(operator).get(f"/api/v1/cases/{case['id']}/referrals/").json()[0]["packet"]["reporter"]["phone"]
    )
    assert as_operator == listed == "*" * (len(full) - 3) + full[-3:]
    as_supervisor = (
        api(supervisor).get(f"/api/v1/referrals/{referral_id}/").json()["packet"]["reporter"]["phone"]
    )
    assert as_supervisor == full
