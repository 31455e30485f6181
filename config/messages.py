"""Updates every app's translation catalogues from the code, in Python (Babel): `make messages`.

    python -m config.messages

For each app, its translatable texts (Django's gettext calls, its templates' {% translate %} and
{% blocktranslate %}, and the labels of the default
category list, `cases/data/contact-categories.yaml`, under the message context "category") are
merged into `<app>/locale/<language>/LC_MESSAGES/django.po` for each language of
settings.LANGUAGES but English: new texts are added untranslated, texts gone from the code are
dropped, translations and translators' comments are kept. A comment starting `Translators:` on the
line above a text reaches its translators (`same in every language: <why>` marks a text meant to
stay identical: tests/test_translation_catalogues_are_complete.py). Then `make test` says what is
missing. `config/locale/` (the libraries' messages) is not rewritten."""

import argparse
import sys
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import yaml
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent
APPS = ("helpline", "cases", "referrals", "channels_sms", "notifications", "reports", "console")
# Django's translation functions (django.utils.translation) and their arguments.
KEYWORDS = {
    "_": None,
    "gettext": None,
    "gettext_lazy": None,
    "gettext_noop": None,
    "ngettext": (1, 2),
    "ngettext_lazy": (1, 2),
    "pgettext": ((1, "c"), 2),
    "pgettext_lazy": ((1, "c"), 2),
    "npgettext": ((1, "c"), 2, 3),
    "npgettext_lazy": ((1, "c"), 2, 3),
}
METHODS = [
    ("**/migrations/**", "ignore"),
    ("**/examples/**", "ignore"),  # an example client program, not the application
    ("**.py", "python"),
    ("**/templates/**.html", "config.messages:extract_django_template"),
    ("**/data/contact-categories.yaml", "config.messages:extract_category_labels"),
]
LINE_WIDTH = 100


def extract_category_labels(fileobj, keywords, comment_tags, options) -> Iterator[tuple]:
    """Babel extractor: the default category list's labels, as pgettext("category", label)."""
    data = yaml.safe_load(fileobj.read())
    for top in data["categories"]:
        for item in [top, *(top.get("subcategories") or [])]:
            yield 0, "pgettext", ("category", item["label"]), [f"Category label ({item['code']})"]


def extract_django_template(fileobj, keywords, comment_tags, options) -> Iterator[tuple]:
    """Babel extractor: a Django template's {% translate %} and {% blocktranslate %} texts, turned
    into gettext calls by Django's own `templatize` (what `makemessages` does), then read as Python."""
    import io

    from babel.messages.extract import extract_python
    from django.utils.translation.template import templatize

    source = fileobj.read().decode("utf-8")
    python = templatize(source)
    yield from extract_python(io.BytesIO(python.encode("utf-8")), keywords, comment_tags, options)


def template_for(app: Path) -> Catalog:
    template = Catalog(project="Lifeline", fuzzy=False)
    for filename, lineno, message, comments, context in extract_from_dir(
        app, METHODS, keywords=KEYWORDS, comment_tags=("Translators:",), strip_comment_tags=True
    ):
        template.add(message, None, [(filename, lineno)], auto_comments=comments, context=context)
    return template


def languages() -> list[str]:
    from django.conf import settings

    return [code for code, _name in settings.LANGUAGES if code != settings.LANGUAGE_CODE]


def update(app: Path, language: str, template: Catalog) -> Path:
    po = app / "locale" / language / "LC_MESSAGES" / "django.po"
    if po.exists():
        with po.open("rb") as source:
            catalogue = read_po(source, locale=language)
    else:
        po.parent.mkdir(parents=True, exist_ok=True)
        catalogue = Catalog(locale=language, fuzzy=False)
    first_extracted = catalogue.creation_date if po.exists() else template.creation_date
    catalogue.update(template, no_fuzzy_matching=True)
    catalogue.obsolete.clear()  # texts gone from the code
    # The header names the project, not gettext's placeholders; its dates move only when
    # translators' tools set them (no churn from re-running this).
    catalogue.project, catalogue.version = "Lifeline", app.name
    catalogue.header_comment = (
        f"# {language} translations of the texts of Lifeline's {app.name} app.\n"
        "# Glossaries, and how a language is added: docs/languages.md.\n"
        "# This file is distributed under the same license as the Lifeline project.\n#"
    )
    catalogue.msgid_bugs_address = ""
    catalogue.copyright_holder = "the Lifeline contributors"
    catalogue.last_translator = "Lifeline contributors"
    catalogue.language_team = f"{language} (docs/languages.md)"
    catalogue.creation_date = first_extracted
    if not isinstance(catalogue.revision_date, datetime):
        catalogue.revision_date = first_extracted
    with po.open("wb") as target:
        write_po(
            target,
            catalogue,
            width=LINE_WIDTH,
            omit_header=False,
            include_previous=False,
            include_lineno=False,
        )
    return po


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.parse_args(argv)
    for name in APPS:
        app = ROOT / name
        template = template_for(app)
        if not len(template):
            continue
        for language in languages():
            po = update(app, language, template)
            print(f"[lifeline] {po.relative_to(ROOT)}: {len(template)} messages")
    return 0


if __name__ == "__main__":
    sys.exit(main())
