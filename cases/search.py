# ruff: noqa: RUF001  # the Mongolian table is Cyrillic on purpose
"""Search by name, number and reference over encrypted columns: a keyed blind index.

Names are encrypted at rest, so the database cannot compare them. Each case instead carries
`search_tokens`: 64-bit keyed hashes (HMAC-SHA256 under a key derived from IDENTIFIER_HASH_KEY,
truncated) of
- every prefix of 3 to PREFIX_CAP characters of each normalised word of the child's first name and
  the reporter's name (a word shorter than 3 characters as a whole word), and of the name's words
  written together ("Gan-Erdene" is found as "Ganerdene" too);
- the reporter's number in E.164 form;
- the case reference.
A query is normalised the same way and hashed: a case matches when it holds every hash of the
query's words (`@>`, AND), or the reference's, or one of the number's. A GIN index answers both.

Normalising: NFKC, case folded, Mongolian Cyrillic transliterated by our table (libraries write
Russian-style "kh", "zh", "y"), every other script and accent by anyascii, then the spellings that
vary in Latin folded together (kh -> h, zh -> j, y -> i), so "Болд" finds "Bold", "Сарангэрэл"
"Sarangerel", "Хулан" "Khulan" and "Hulan", "Өлзийт" "Olziit" and "Ölziit".

What the index reveals to someone holding a copy of the database, and why that is acceptable:
docs/decisions.md, "Search: blind indexes (issue #15)".
"""

import functools
import hashlib
import hmac
import re
import unicodedata
from collections.abc import Callable, Iterable

from anyascii import anyascii
from django.conf import settings
from django.db.models import Q
from django.utils.translation import ngettext

from helpline.crypto import identifier_hash, normalise_phone

MIN_PREFIX = 3
# Longer words are indexed by their first PREFIX_CAP characters: a query word that long or longer
# is compared on those (Mongolian names run to 10-14 letters; 16 keeps them whole).
PREFIX_CAP = 16
# At most this many query words (each one more array element to contain).
MAX_QUERY_WORDS = 8

# Mongolian Cyrillic (MNS 5217 with the spellings people actually use). Letters not listed
# (Kazakh ә, қ, ң, ...) go through anyascii.
MONGOLIAN = {
    "а": "a",
    "б": "b",
    "в": "v",
    "г": "g",
    "д": "d",
    "е": "e",
    "ё": "yo",
    "ж": "j",
    "з": "z",
    "и": "i",
    "й": "i",
    "к": "k",
    "л": "l",
    "м": "m",
    "н": "n",
    "о": "o",
    "ө": "o",
    "п": "p",
    "р": "r",
    "с": "s",
    "т": "t",
    "у": "u",
    "ү": "u",
    "ф": "f",
    "х": "h",
    "ц": "ts",
    "ч": "ch",
    "ш": "sh",
    "щ": "shch",
    "ъ": "",
    "ы": "y",
    "ь": "",
    "э": "e",
    "ю": "yu",
    "я": "ya",
}
# Latin spellings of one sound, folded to one (applied after transliteration, in this order).
FOLDS = (("kh", "h"), ("zh", "j"), ("y", "i"))
WORD_RE = re.compile(r"[a-z0-9]+")
PHONE_RE = re.compile(r"[\d\s+().\-/]+\Z")
MIN_PHONE_DIGITS = 6


class QueryTooShort(ValueError):
    """The query has fewer than MIN_PREFIX letters or digits once normalised."""


def normalise(text: str) -> str:
    """`text` folded for comparison: lower-case ASCII letters and digits, words separated by one
    space."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    latin = anyascii("".join(MONGOLIAN.get(ch, ch) for ch in folded)).lower()
    for spelling, canonical in FOLDS:
        latin = latin.replace(spelling, canonical)
    return " ".join(WORD_RE.findall(latin))


def _key() -> bytes:
    # Read on every call (a cache look-up) so a changed setting takes effect at once.
    return _derived_key(settings.IDENTIFIER_HASH_KEY)


@functools.lru_cache(maxsize=4)
def _derived_key(secret: str) -> bytes:
    # Derived, so the index adds no secret to manage, and domain-separated, so no index entry
    # equals a reporter_phone_hash or a sender hash made under the same key.
    return hmac.new(secret.encode(), b"lifeline search index v1", hashlib.sha256).digest()


def _digest(key: bytes, value: str) -> int:
    # 64 bits: collisions are negligible at a helpline's scale and the array stays compact.
    return int.from_bytes(hmac.new(key, value.encode(), hashlib.sha256).digest()[:8], "big", signed=True)


def _word_entries(word: str) -> set[str]:
    if len(word) < MIN_PREFIX:
        return {f"w:{word}"}
    return {f"p:{word[:n]}" for n in range(MIN_PREFIX, min(len(word), PREFIX_CAP) + 1)}


def _query_entry(word: str) -> str:
    return f"w:{word}" if len(word) < MIN_PREFIX else f"p:{word[:PREFIX_CAP]}"


def _reference_entry(reference: str) -> str:
    return f"ref:{reference.strip().lower()}"


def name_tokens(names: Iterable[str]) -> set[int]:
    """The index entries of names (for the bench's seeding too, which caches them per name)."""
    entries: set[str] = set()
    for name in names:
        words = normalise(name or "").split()
        if len(words) > 1:
            words.append("".join(words))
        for word in words:
            entries |= _word_entries(word)
    key = _key()
    return {_digest(key, entry) for entry in entries}


def reference_token(reference: str) -> int:
    return _digest(_key(), _reference_entry(reference))


def phone_token(phone_e164: str) -> int:
    return _digest(_key(), f"tel:{phone_e164}")


def case_tokens(*, names: Iterable[str], reference: str, phone_e164: str) -> list[int]:
    """The index entries of a case, sorted (stable rows for equal content)."""
    tokens = name_tokens(names)
    if reference:
        tokens.add(reference_token(reference))
    if phone_e164:
        tokens.add(phone_token(phone_e164))
    return sorted(tokens)


def _phone_candidates(text: str, region: str | None) -> set[str]:
    """E.164 forms the text may mean: as dialled in the helpline's country, and as an
    international number written without its "+" ("(976) 9911-2233")."""
    if not PHONE_RE.match(text) or sum(ch.isdigit() for ch in text) < MIN_PHONE_DIGITS:
        return set()
    found = set()
    digits = "".join(ch for ch in text if ch.isdigit())
    for candidate, candidate_region in ((text, region), (f"+{digits}", None)):
        try:
            found.add(normalise_phone(candidate, region=candidate_region))
        except ValueError:
            continue
    return found


def search_condition(text: str, *, region: str | None, field: str = "search_tokens") -> Q:
    """The condition a case (or, with `field`, a related case) meets when it matches `text`.
    QueryTooShort when the text has fewer than 3 letters or digits once normalised."""
    words = normalise(text).split()
    if sum(len(word) for word in words) < MIN_PREFIX:
        raise QueryTooShort(
            ngettext(
                "Search for at least %(count)d letter or digit.",
                "Search for at least %(count)d letters or digits.",
                MIN_PREFIX,
            )
            % {"count": MIN_PREFIX}
        )
    key = _key()
    words = words[:MAX_QUERY_WORDS]
    condition = Q(**{f"{field}__contains": sorted({_digest(key, _query_entry(w)) for w in words})})
    if len(words) > 1:
        # Spacing folded on the query side too: "Gan-Erdene" finds a name stored as "Ganerdene".
        condition |= Q(**{f"{field}__contains": [_digest(key, _query_entry("".join(words)))]})
    condition |= Q(**{f"{field}__contains": [reference_token(text)]})
    phones = _phone_candidates(text.strip(), region)
    if phones:
        condition |= Q(**{f"{field}__overlap": sorted(phone_token(p) for p in phones)})
    return condition


def phone_numbers(text: str, *, region: str | None) -> set[str]:
    """The E.164 numbers a query may mean (none when it is not written as a number)."""
    return _phone_candidates(text.strip(), region)


# --- contacts found by their sender's number -------------------------------------------------------
#
# A contact has no names of its own: it is found through its case's index, and through the keyed
# hash of the number it came from, which the channels app keeps (its messages' and inbound events'
# sender_hash). That app sits above cases, so it hands the look-up down at start-up.

# Given the identifier hashes (helpline.crypto.identifier_hash) of the numbers a query may mean and
# the caller's helpline: a condition on cases.Contact.
ContactPhoneLookup = Callable[[set[str], int | None], Q]
_contact_phone_lookups: dict[str, ContactPhoneLookup] = {}


def register_contact_phone_lookup(name: str, lookup: ContactPhoneLookup) -> None:
    """Called from an app's AppConfig.ready(); registering again under one name replaces it."""
    _contact_phone_lookups[name] = lookup


def contact_phone_matches(text: str, *, region: str | None, helpline_id: int | None) -> Q:
    """The condition a contact meets when its sender had a number `text` may mean (matches nothing
    when `text` is not a number or no app keeps senders)."""
    hashes = {identifier_hash(number) for number in phone_numbers(text, region=region)}
    condition = Q(pk__in=[])
    if hashes:
        for _, lookup in sorted(_contact_phone_lookups.items()):
            condition |= lookup(hashes, helpline_id)
    return condition
