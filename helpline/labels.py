"""Reference labels in the reader's language (issue #16): the names people read for the stable codes
the API stores and answers (a case state, a channel, a category...).

A code never changes with the language; its label does: the helpline's own wording for that
language when it has one (`Helpline.label_overrides`, Aselo's "substitutions"), else the
translation catalogue's, else the English label. The apps register their vocabularies here at
start-up (helpline imports none of them); the categories are each helpline's own rows
(`category.<code>`, their default labels translated under the message context "category").

    {"es": {"category.bullying": "Acoso escolar", "channel.chat": "Chat de la línea"}}
"""

from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import get_language, pgettext
from django.utils.translation import gettext as _

# The vocabulary of a helpline's categories (cases.Category rows), keyed like the registered ones.
CATEGORY = "category"
MAX_LABEL_LENGTH = 200

_vocabularies: dict[str, type[models.TextChoices]] = {}


def register(name: str, choices: type[models.TextChoices]) -> None:
    """An app's vocabulary whose labels people read (its AppConfig.ready())."""
    if _vocabularies.get(name, choices) is not choices:
        raise ValueError(f"Two vocabularies are named {name!r}.")
    _vocabularies[name] = choices


def vocabulary_choices(name: str) -> dict[str, str] | None:
    """{code: default label} of one vocabulary (None for an unknown one), read once per process."""
    choices = _vocabularies.get(name)
    if choices is None:
        return None
    found = _choices_cache.get(name)
    if found is None:
        found = _choices_cache[name] = dict(choices.choices)
    return found


_choices_cache: dict[str, dict[str, str]] = {}


def vocabularies() -> dict[str, type[models.TextChoices]]:
    return dict(sorted(_vocabularies.items()))


@dataclass(frozen=True)
class Labeller:
    """Labels in one language for one helpline (None: no helpline's wording)."""

    language: str
    overrides: dict[str, str]

    def label(self, vocabulary: str, code: str, default: str) -> str:
        own = self.overrides.get(f"{vocabulary}.{code}")
        if own:
            return own
        if vocabulary == CATEGORY:
            # A helpline's renamed category is not in any catalogue: shown as written.
            return pgettext("category", default)
        return str(default)  # a TextChoices label, translated lazily in the active language

    def choices(self, vocabulary: str) -> list[dict[str, str]]:
        return [
            {"code": code, "label": self.label(vocabulary, code, label)}
            for code, label in _vocabularies[vocabulary].choices
        ]


def labeller(helpline, language: str | None = None) -> Labeller:
    """The labels a reader of `helpline` (a Helpline, or None) sees in `language` (default: the
    language of the answer being written)."""
    language = language or get_language() or settings.LANGUAGE_CODE
    overrides = ((helpline.label_overrides or {}).get(language) or {}) if helpline is not None else {}
    return Labeller(language, overrides)


def validate_label_overrides(value, *, category_codes: Iterable[str] | None = None) -> None:
    """{language: {"<vocabulary>.<code>": label}}: languages of this installation, vocabularies and
    codes that exist (categories: the helpline's own, `category_codes`; None: any code, checked
    once the helpline is known), labels of 1 to 200 characters."""
    if not isinstance(value, dict):
        raise ValidationError(_("An object of languages."), code="invalid")
    languages = {code for code, _name in settings.LANGUAGES}
    categories = None if category_codes is None else set(category_codes)
    for language, labels in value.items():
        if language not in languages:
            raise ValidationError(
                _("%(language)r is not a language of this installation."),
                code="invalid",
                params={"language": language},
            )
        if not isinstance(labels, dict):
            raise ValidationError(
                _("%(language)s: an object of labels by vocabulary and code."),
                code="invalid",
                params={"language": language},
            )
        for key, label in labels.items():
            vocabulary, _dot, code = str(key).partition(".")
            known = (
                (bool(code) if categories is None else code in categories)
                if vocabulary == CATEGORY
                else vocabulary in _vocabularies and code in _vocabularies[vocabulary].values
            )
            if not known:
                raise ValidationError(
                    _("%(key)r names no label (vocabulary.code, e.g. channel.chat)."),
                    code="invalid",
                    params={"key": key},
                )
            if not isinstance(label, str) or not label.strip() or len(label) > MAX_LABEL_LENGTH:
                raise ValidationError(
                    _("%(key)s: a label of 1 to %(max)d characters."),
                    code="invalid",
                    params={"key": key, "max": MAX_LABEL_LENGTH},
                )
