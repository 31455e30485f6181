"""Children and staff write in every script: text with right-to-left runs, bidirectional control
characters, emoji sequences, combining marks and characters outside the Basic Multilingual Plane is
stored and read back exactly as sent (through encryption at rest where the field is personal), and
a NUL, which PostgreSQL cannot store, is refused naming the field instead of failing later.
Leading and trailing white space is trimmed, as DRF's text fields do."""

# ruff: noqa: RUF001  (the look-alike letters of other scripts are the point of these texts)
import random

import pytest
from rest_framework.test import APIClient

TEXTS = [
    "سلام، أنا خائف من العودة إلى المنزل",  # Arabic, right to left
    "אני צריכה עזרה \u202bשלום\u202c now",  # Hebrew with an embedding and its pop
    "Ðóñà 👩🏽‍👧 🏳️‍🌈 ❤️‍🩹",  # emoji ZWJ sequences and skin tones
    "e\u0301 n\u0303 ก\u0e34\u0e48 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 𠜎𠜱",  # combining marks, Thai, astral planes
    "Сайн байна уу ᠮᠣᠩᠭᠣᠯ",  # Mongolian, Cyrillic and the traditional script
    "  leading and trailing spaces kept?  ",
]


@pytest.fixture(autouse=True)
def open_chat_limits(settings):
    settings.CHAT_RATES = {
        "chat_session_create": "1000/min",
        "chat_message_session": "1000/min",
        "chat_message_ip": "1000/min",
    }


@pytest.mark.parametrize("text", TEXTS)
def test_case_fields_and_notes_keep_every_script(api, operator, walk_in, text):
    case = walk_in(child_first_name=text[:60], child_details_note=text, summary=text)
    stored = api(operator).get(f"/api/v1/cases/{case['id']}/").json()
    assert stored["child_first_name"] == text[:60].strip()
    assert stored["child_details_note"] == text.strip()
    assert stored["child_details_note"].encode() == text.strip().encode()  # no normalisation either
    note = api(operator).post(f"/api/v1/cases/{case['id']}/notes/", {"body": text}, format="json")
    assert note.status_code == 201, note.content
    notes = api(operator).get(f"/api/v1/cases/{case['id']}/notes/").json()
    bodies = [n["body"] for n in (notes["results"] if isinstance(notes, dict) else notes)]
    assert bodies == [text.strip()]


@pytest.mark.parametrize("text", TEXTS)
def test_a_childs_chat_message_keeps_every_script(helpline, operator, api, text):
    child = APIClient(REMOTE_ADDR=f"10.{random.randrange(256)}.{random.randrange(256)}.7")
    session = child.post("/api/v1/chat/sessions/", {"helpline": helpline.code}, format="json").json()
    sent = child.post(
        f"/api/v1/chat/sessions/{session['id']}/messages/",
        {"body": text},
        format="json",
        HTTP_X_CHAT_SECRET=session["secret"],
    )
    assert sent.status_code == 201, sent.content
    read = child.get(
        f"/api/v1/chat/sessions/{session['id']}/messages/", HTTP_X_CHAT_SECRET=session["secret"]
    ).json()
    bodies = [m["body"] for m in (read["results"] if isinstance(read, dict) else read)]
    assert bodies[0] == text.strip()


def test_a_nul_in_free_text_is_refused_naming_the_field(api, operator, walk_in):
    case = walk_in()
    response = api(operator).post(f"/api/v1/cases/{case['id']}/notes/", {"body": "a\u0000b"}, format="json")
    assert response.status_code == 400
    assert [(e["attr"], e["code"]) for e in response.json()["errors"]] == [
        ("body", "null_characters_not_allowed")
    ]


def test_a_nul_in_a_query_or_a_path_is_refused_or_ignored_and_still_audited(api, operator, walk_in):
    walk_in()
    client = api(operator)
    for path in ("/api/v1/cases/?ordering=a%00b", "/api/v1/referrals/?x=%00", "/api/v1/auth/tokens/a%00/"):
        method = client.delete if "tokens" in path else client.get
        response = method(path)
        assert response.status_code < 500, (path, response.status_code, response.content[:500])


def test_a_date_time_with_an_offset_postgresql_cannot_store_is_read_in_utc(api, operator, walk_in):
    case = walk_in()
    response = api(operator).get("/api/v1/cases/", {"created_after": "2020-01-01T00:00:00+21:00"})
    assert response.status_code == 200, response.content
    assert case["id"] in [c["id"] for c in response.json()["results"]]
