"""The codes the API stores never change with the language; their labels do (issue #16): categories
and every other vocabulary (states, risk levels, channels, call types, sectors, outcomes,
escalation kinds...) come back labelled in the caller's language, with the helpline's own wording
where it has one (`label_overrides`), which only its own people see."""

import re

import pytest
from babel.messages.pofile import read_po

from config.catalogues import catalogues
from helpline.models import AuditEntry, Helpline
from tests import factories

pytestmark = pytest.mark.django_db

SAME_EVERYWHERE = "same in every language"
CYRILLIC = re.compile(r"[\u0400-\u04FF]")
VOCABULARIES = "/api/v1/vocabularies/"
CATEGORIES = "/api/v1/categories/"
# The reference data issue #16 names, by their vocabularies here.
NAMED = {"call_type", "referral_outcome", "agency_sector", "escalation_kind", "case_state", "risk_level"}


def labels(client, path, language):
    response = client.get(path, HTTP_ACCEPT_LANGUAGE=language)
    assert response.status_code == 200, response.content
    assert response["Content-Language"] == language
    return response.json()


def _same_everywhere() -> set[str]:
    """The texts the catalogues mark as the same in every language (a channel's name)."""
    same = set()
    for path in catalogues():
        with path.open("rb") as source:
            same |= {m.id for m in read_po(source) if any(SAME_EVERYWHERE in c for c in m.auto_comments)}
    return same


def test_every_vocabulary_is_labelled_in_the_callers_language(api, operator):
    client = api(operator)
    english, spanish, mongolian = (labels(client, VOCABULARIES, lang) for lang in ("en", "es", "mn"))
    assert set(english) >= NAMED
    same = _same_everywhere()
    assert {"SMS", "WhatsApp"} <= same
    for name, entries in english.items():
        codes = [e["code"] for e in entries]
        assert codes and [e["code"] for e in spanish[name]] == codes == [e["code"] for e in mongolian[name]]
        for en, es, mn in zip(entries, spanish[name], mongolian[name], strict=True):
            if en["label"] in same:
                continue  # a channel's name: its translation may keep it as it is
            assert es["label"] != en["label"], (name, en)
            assert CYRILLIC.search(mn["label"]), (name, en, mn)


def test_categories_come_back_labelled_in_the_callers_language(api, operator):
    client = api(operator)
    english, spanish, mongolian = (
        {c["code"]: c["label"] for c in labels(client, CATEGORIES, lang)} for lang in ("en", "es", "mn")
    )
    assert english["bullying"] == "Bullying"
    assert english.keys() == spanish.keys() == mongolian.keys()
    assert all(spanish[code] != english[code] for code in english)
    assert all(CYRILLIC.search(label) for label in mongolian.values())


def test_a_helplines_own_wording_replaces_a_label_in_that_language_only(api, admin_user, operator, helpline):
    own = {"es": {"category.bullying": "Acoso entre pares", "channel.chat": "Chat de la línea"}}
    response = api(admin_user).patch(
        f"/api/v1/helplines/{helpline.pk}/", {"label_overrides": own}, format="json"
    )
    assert response.status_code == 200, response.content
    assert response.json()["label_overrides"] == own
    entry = AuditEntry.objects.filter(action="helpline.update").latest("id")
    assert entry.changes["label_overrides"] == {"before": {}, "after": own}

    client = api(operator)
    spanish = {c["code"]: c["label"] for c in labels(client, CATEGORIES, "es")}
    assert spanish["bullying"] == "Acoso entre pares"
    channels = {e["code"]: e["label"] for e in labels(client, VOCABULARIES, "es")["channel"]}
    assert channels["chat"] == "Chat de la línea"
    assert {c["code"]: c["label"] for c in labels(client, CATEGORIES, "en")}["bullying"] == "Bullying"
    mongolian = {c["code"]: c["label"] for c in labels(client, CATEGORIES, "mn")}
    assert mongolian["bullying"] != "Acoso entre pares" and CYRILLIC.search(mongolian["bullying"])

    # Another helpline's people never see it.
    elsewhere = factories.HelplineFactory(code="OTHER")
    stranger = factories.OperatorFactory(username="elsewhere", helpline=elsewhere)
    other = {c["code"]: c["label"] for c in labels(api(stranger), CATEGORIES, "es")}
    assert other["bullying"] != "Acoso entre pares"


@pytest.mark.parametrize(
    "overrides",
    [
        {"fr": {"channel.chat": "Discussion"}},  # not a language of this installation
        {"es": {"channel.fax": "Fax"}},  # no such code
        {"es": {"colour.red": "Rojo"}},  # no such vocabulary
        {"es": {"category.no_such_category": "Nada"}},  # not one of the helpline's categories
        {"es": {"channel.chat": ""}},
        {"es": {"channel.chat": "x" * 201}},
        {"es": {"channel.chat": 5}},
        {"es": ["channel.chat"]},
        ["es"],
    ],
    ids=[
        "language",
        "code",
        "vocabulary",
        "category",
        "blank",
        "too long",
        "not text",
        "list",
        "not an object",
    ],
)
def test_wording_that_names_nothing_is_refused_and_nothing_changes(api, admin_user, helpline, overrides):
    response = api(admin_user).patch(
        f"/api/v1/helplines/{helpline.pk}/", {"label_overrides": overrides, "name": "Renamed"}, format="json"
    )
    assert response.status_code == 400, response.content
    assert [(e["attr"], e["code"]) for e in response.json()["errors"]] == [("label_overrides", "invalid")]
    helpline = Helpline.objects.get(pk=helpline.pk)
    assert helpline.label_overrides == {} and helpline.name != "Renamed"


def test_a_helplines_languages_are_its_installations(api, admin_user, helpline):
    client = api(admin_user)
    refused = client.patch(
        f"/api/v1/helplines/{helpline.pk}/",
        {"default_language": "fr", "languages": ["mn", "xx"]},
        format="json",
    )
    assert refused.status_code == 400, refused.content
    assert {(e["attr"], e["code"]) for e in refused.json()["errors"]} == {
        ("default_language", "invalid_choice"),
        ("languages.1", "invalid_choice"),
    }
    chosen = client.patch(
        f"/api/v1/helplines/{helpline.pk}/",
        {"default_language": "mn", "languages": ["es", "en", "es"]},
        format="json",
    )
    assert chosen.status_code == 200, chosen.content
    assert chosen.json()["default_language"] == "mn" and chosen.json()["languages"] == ["en", "es"]
