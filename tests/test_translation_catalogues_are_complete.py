"""Every translation catalogue of the project is complete and faithful (issue #16): each message has
a translation in every plural form, none is marked fuzzy, each keeps exactly the placeholders of the
English text, none is a copy of the English unless marked as the same in every language (a code, a
name), and each compiles. Every message of Django REST Framework's own an answer can carry is
translated: Mongolian in our catalogue (DRF ships none; Django does), Spanish in DRF's or, for the
few it lacks, in ours (config/locale/es)."""

import io
import re
from pathlib import Path

import pytest
import rest_framework
from babel.messages.mofile import read_mo, write_mo
from babel.messages.pofile import read_po

from config import messages
from config.catalogues import ROOT, catalogues

PLACEHOLDER = re.compile(r"%\((\w+)\)[sdifr]|%[sdifr]|\{(\w*)\}")
SAME_EVERYWHERE = "same in every language"
CATALOGUES = catalogues()


def _placeholders(text: str) -> list[str]:
    return sorted(match.group(0) for match in PLACEHOLDER.finditer(text))


def _read(path: Path):
    with path.open("rb") as source:
        return read_po(source, abort_invalid=True)


def test_the_languages_have_catalogues():
    languages = {path.parts[-3] for path in CATALOGUES}
    assert {"mn"} <= languages


@pytest.mark.parametrize("path", CATALOGUES, ids=lambda p: "/".join(p.parts[-5:]))
def test_every_message_is_translated_faithfully(path):
    problems = []
    for message in _read(path):
        if not message.id:
            continue  # the header
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        name = ids[0][:60]
        if message.fuzzy:
            problems.append(f"{name!r}: fuzzy")
        if not all(strings):
            problems.append(f"{name!r}: not translated")
            continue
        expected = {tuple(_placeholders(i)) for i in ids}  # a plural form may drop the number
        for string in strings:
            if tuple(_placeholders(string)) not in expected:
                problems.append(f"{name!r}: placeholders {sorted(expected)} became {_placeholders(string)}")
        marked_same = any(SAME_EVERYWHERE in comment for comment in message.auto_comments)
        if strings[0] == ids[0] and not marked_same:
            problems.append(f"{name!r}: an English copy (mark it '#. {SAME_EVERYWHERE}: why' if meant)")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("path", CATALOGUES, ids=lambda p: "/".join(p.parts[-5:]))
def test_every_catalogue_compiles(path):
    compiled = io.BytesIO()
    write_mo(compiled, _read(path), use_fuzzy=False)
    assert compiled.getvalue()


# DRF messages no answer of this API can carry: its browsable API's pages (we render JSON only) and
# its authtoken app's admin and models (tokens are knox's).
NEVER_ANSWERED = {
    "Auth Token", "Key", "User", "Created", "Tokens", "Extra Actions", "Filters", "None",
    "No items to select.", "content", "request info", "response info", "navbar", "request form",
    "main content",
}  # fmt: skip
DRF_LOCALE = Path(rest_framework.__file__).parent / "locale"


def _drf(language: str) -> dict[str, str]:
    # DRF ships compiled catalogues only: its English one lists every message it has.
    with (DRF_LOCALE / language / "LC_MESSAGES" / "django.mo").open("rb") as source:
        return {m.id: m.string for m in read_mo(source) if m.id}


@pytest.mark.parametrize("language", ["es", "mn"])
def test_every_message_of_django_rest_framework_is_translated(language):
    theirs = set(_drf("en"))
    assert theirs >= NEVER_ANSWERED  # still DRF's messages
    shipped = {i for i, s in _drf(language).items() if s} if (DRF_LOCALE / language).exists() else set()
    ours = {
        m.id for path in CATALOGUES if path.parts[-3] == language for m in _read(path) if m.id and m.string
    }
    missing = sorted(str(i) for i in theirs - shipped - ours - NEVER_ANSWERED)
    assert not missing, missing


@pytest.mark.parametrize("app", messages.APPS)
def test_every_text_marked_in_the_code_is_in_each_languages_catalogue(app):
    """A text marked for translation but never extracted (`make messages` not run) is caught here."""
    marked = {(m.context, m.id) for m in messages.template_for(ROOT / app) if m.id}
    for language in messages.languages():
        path = ROOT / app / "locale" / language / "LC_MESSAGES" / "django.po"
        assert path.exists() or not marked, f"{path}: run make messages"
        listed = {(m.context, m.id) for m in _read(path) if m.id} if path.exists() else set()
        missing = sorted(str(message_id)[:80] for _context, message_id in marked - listed)
        assert not missing, f"{app}/{language}: not in the catalogue (run make messages): {missing}"
