"""The API writes its human texts in the caller's language (issue #16): the first language of
`Accept-Language` that the installation speaks (quality values honoured, a regional variant falling
back to its language), else the caller's helpline's default language, else English. The error
`code` and `attr` never change with the language; `Content-Language` names the answer's."""

import pytest
from django.utils import translation

REQUIRED = "This field is required."  # Django REST Framework's own message
NO_CREDENTIALS = "Authentication credentials were not provided."


def in_language(language: str, text: str) -> str:
    with translation.override(language):
        return str(translation.gettext(text))


def refused(client, **headers):
    response = client.post("/api/v1/cases/", {}, format="json", **headers)
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert {(e["attr"], e["code"]) for e in errors} >= {("call_type", "required")}
    detail = next(e["detail"] for e in errors if e["attr"] == "call_type")
    return detail, response


@pytest.mark.parametrize(
    ("header", "language"),
    [
        ("es", "es"),
        ("mn", "mn"),
        ("es-MX", "es"),  # a regional variant: its language
        ("mn-MN,mn;q=0.9,en;q=0.8", "mn"),
        ("fr, es;q=0.5, mn;q=0.8", "mn"),  # French is not ours; then by quality
        ("fr-CA, de;q=0.9, *;q=0.1", "en"),  # none of ours: the helpline's (English)
        ("en-GB,en;q=0.9", "en"),
        ("mn;q=0, es;q=0.5", "es"),  # q=0: not this one
    ],
)
def test_the_first_language_of_ours_in_accept_language_is_answered(api, operator, header, language):
    detail, response = refused(api(operator), HTTP_ACCEPT_LANGUAGE=header)
    assert detail == in_language(language, REQUIRED)
    assert response["Content-Language"] == language
    assert "Accept-Language" in response["Vary"]


def test_mongolian_and_spanish_are_translations_not_english_copies():
    assert in_language("mn", REQUIRED) not in (REQUIRED, "")
    assert in_language("es", REQUIRED) not in (REQUIRED, "")
    assert in_language("mn", REQUIRED) != in_language("es", REQUIRED)
    assert any("\u0400" <= ch <= "\u04ff" for ch in in_language("mn", REQUIRED))  # Cyrillic


@pytest.mark.parametrize(("helpline_language", "answered"), [("es", "es"), ("mn", "mn"), ("sw", "en")])
def test_without_a_language_of_ours_the_callers_helpline_decides(
    api, operator, helpline, helpline_language, answered
):
    helpline.default_language = helpline_language
    helpline.save(update_fields=["default_language"])
    for headers in ({}, {"HTTP_ACCEPT_LANGUAGE": "fr"}):
        detail, response = refused(api(operator), **headers)
        assert detail == in_language(answered, REQUIRED)
        assert response["Content-Language"] == answered
    # A language of ours in the request wins over the helpline's.
    detail, response = refused(api(operator), HTTP_ACCEPT_LANGUAGE="en")
    assert (detail, response["Content-Language"]) == (REQUIRED, "en")


@pytest.mark.parametrize("language", ["es", "mn"])
def test_a_refusal_before_sign_in_follows_the_request(api, language):
    response = api().get("/api/v1/cases/", HTTP_ACCEPT_LANGUAGE=language)
    assert response.status_code == 401
    [error] = response.json()["errors"]
    assert error["code"] == "not_authenticated"
    assert error["detail"] == in_language(language, NO_CREDENTIALS) != NO_CREDENTIALS
    assert response["Content-Language"] == language


def test_without_any_header_an_anonymous_caller_reads_english(api):
    response = api().get("/api/v1/cases/")
    assert response.json()["errors"][0]["detail"] == NO_CREDENTIALS
    assert response["Content-Language"] == "en"


def test_the_language_does_not_outlive_its_request(api, operator):
    refused(api(operator), HTTP_ACCEPT_LANGUAGE="mn")
    assert translation.get_language() in ("en", "en-us")
    detail, _ = refused(api(operator))
    assert detail == REQUIRED
