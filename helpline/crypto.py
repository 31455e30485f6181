"""Personal data at rest: encrypted model fields, key rotation, and keyed hashes of identifiers.

Encrypted columns hold Fernet tokens (AES-128-CBC with an HMAC-SHA256 tag, so an altered value is
refused, never decrypted into garbage). The keys come from settings.FIELD_ENCRYPTION_KEYS: the
first encrypts, every one of them decrypts, so a new key is put in front, `manage.py rotate_keys`
re-encrypts the stored values under it, and only then is the old key dropped.

Identifiers that must be looked up (a reporter's phone number: "other cases from this number")
are stored encrypted *and* as an HMAC-SHA256 under settings.IDENTIFIER_HASH_KEY, a key kept apart
from the encryption keys and the database: a plain hash of a phone number is reversed by hashing
every possible number, a keyed one is not without the key.
"""

import functools
import hashlib
import hmac
from collections.abc import Iterable
from contextlib import nullcontext
from typing import Any

import pgtrigger
import phonenumbers
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.apps import apps
from django.conf import settings
from django.db import connection, models, transaction
from django.utils.translation import gettext

from .vocabulary import AuditAction


class DecryptionError(Exception):
    """A stored value is not a token any configured key made: it was altered, or its key is gone.
    The message names the column, never the value."""


@functools.lru_cache(maxsize=8)
def _fernets(keys: tuple[str, ...]) -> tuple[Fernet, MultiFernet]:
    if not keys:
        # Settings refuse to start without a key; this guards code that overrides them.
        raise DecryptionError("FIELD_ENCRYPTION_KEYS is empty.")
    fernets = [Fernet(key) for key in keys]
    return fernets[0], MultiFernet(fernets)


def _keys() -> tuple[Fernet, MultiFernet]:
    # Read on every call (a tuple look-up in the cache) so overridden settings take effect at once.
    return _fernets(tuple(settings.FIELD_ENCRYPTION_KEYS))


def encrypt(text: str) -> str:
    """A Fernet token of `text` under the current (first) key."""
    _, multi = _keys()
    return multi.encrypt(text.encode()).decode("ascii")


def decrypt(token: str, *, what: str = "value") -> str:
    _, multi = _keys()
    try:
        return multi.decrypt(token.encode("ascii")).decode()
    except (InvalidToken, UnicodeError):
        raise DecryptionError(
            f"{what}: the stored value cannot be decrypted (it was altered, or none of "
            "FIELD_ENCRYPTION_KEYS is the key it was encrypted with)."
        ) from None


def is_current(token: str) -> bool:
    """True if the current (first) key decrypts the token: it needs no rotation."""
    current, _ = _keys()
    try:
        current.decrypt(token.encode("ascii"))
    except (InvalidToken, UnicodeError):
        return False
    return True


# --- fields ----------------------------------------------------------------------------------------


class EncryptedFieldMixin:
    """Plain text in Python, a Fernet token in the database (a `text` column whatever max_length
    says; max_length still limits the plain text).

    An empty string is stored empty: a token's length already tells an empty value from a short
    one, so encrypting "" would hide nothing. The database cannot compare encrypted values with
    plain ones (each token is different, even for the same text), so such lookups are refused
    rather than silently matching nothing."""

    def get_internal_type(self) -> str:
        return "TextField"

    def get_prep_value(self, value: Any) -> Any:
        value = super().get_prep_value(value)
        if value is None or value == "":
            return value
        return encrypt(str(value))

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> Any:
        if value is None or value == "":
            return value
        return decrypt(value, what=f"{self.model._meta.label}.{self.name}")

    # `df`/`ndf` (pgtrigger's IS [NOT] DISTINCT FROM) compare the stored tokens of OLD and NEW in
    # trigger conditions: a rewritten value is a different token, so they still detect changes.
    ALLOWED_LOOKUPS = frozenset({"isnull", "df", "ndf"})

    def get_lookup(self, lookup_name: str):
        return super().get_lookup(lookup_name) if lookup_name in self.ALLOWED_LOOKUPS else None

    def get_transform(self, name: str):
        return None


class EncryptedCharField(EncryptedFieldMixin, models.CharField):
    description = "String (up to %(max_length)s), encrypted at rest"


class EncryptedTextField(EncryptedFieldMixin, models.TextField):
    description = "Text, encrypted at rest"


def encrypted_fields() -> dict[type[models.Model], list[models.Field]]:
    """Every model with encrypted columns, with those columns."""
    found: dict[type[models.Model], list[models.Field]] = {}
    for model in apps.get_models():
        fields = [f for f in model._meta.concrete_fields if isinstance(f, EncryptedFieldMixin)]
        if fields:
            found[model] = fields
    return found


# --- free text in the audit log: sealed per case --------------------------------------------------
#
# An audit entry is append-only and hashed into its chain, so a reason typed into it can be neither
# stored in clear nor erased later. It is stored sealed instead: a Fernet token under a key of the
# case's own (CaseKey, itself encrypted under FIELD_ENCRYPTION_KEYS). Anonymising the case deletes
# that key: the token, and so the entry and its hash, stay as they were, and nobody can open it.

SEALED = "sealed"
ERASED = "[erased]"


def seal(text: str, *, case_id: int) -> dict[str, str] | str:
    """`text` as an audit entry value: {"sealed": token} under the case's key ("" stays "")."""
    if not text:
        return text
    return {SEALED: Fernet(_case_key(case_id)).encrypt(text.encode()).decode("ascii")}


def is_sealed(value: Any) -> bool:
    return isinstance(value, dict) and set(value) == {SEALED}


def unsealed(
    values: dict[str, Any], *, case_id: int | None, keys: dict[int | None, bytes | None]
) -> dict[str, Any]:
    """`values` (an audit entry's `extra`) with each sealed value opened, or ERASED once the case's
    key is gone. `keys`: a cache of case keys, shared across the entries of one answer."""
    if not any(is_sealed(v) for v in values.values()):
        return values
    if case_id not in keys:
        keys.update(case_keys([case_id]))
    key = keys[case_id]
    opened = {}
    for name, value in values.items():
        if is_sealed(value):
            try:
                value = Fernet(key).decrypt(value[SEALED].encode("ascii")).decode() if key else ERASED
            except (InvalidToken, UnicodeError):
                raise DecryptionError(f"audit value {name!r} of case {case_id} cannot be opened.") from None
        opened[name] = value
    return opened


def case_keys(case_ids: Iterable[int | None]) -> dict[int | None, bytes | None]:
    """The keys of these cases in one query (None: none, or shredded), for `unsealed`'s cache."""
    from .models import CaseKey

    wanted = set(case_ids)
    stored = dict(CaseKey.objects.filter(case_id__in=wanted - {None}).values_list("case_id", "key"))
    return {case_id: stored[case_id].encode() if case_id in stored else None for case_id in wanted}


def shred(*, case_id: int) -> bool:
    """Deletes the case's key: what was sealed under it can no longer be read by anyone."""
    from .models import CaseKey

    deleted, _ = CaseKey.objects.filter(case_id=case_id).delete()
    return bool(deleted)


def _case_key(case_id: int) -> bytes:
    from .models import CaseKey

    key = CaseKey.objects.filter(case_id=case_id).values_list("key", flat=True).first()
    if key is None:
        # ON CONFLICT DO NOTHING: two transactions sealing for one case at once end up with one key.
        CaseKey.objects.bulk_create(
            [CaseKey(case_id=case_id, key=Fernet.generate_key().decode("ascii"))], ignore_conflicts=True
        )
        key = CaseKey.objects.get(case_id=case_id).key
    return key.encode("ascii")


# --- key rotation ----------------------------------------------------------------------------------


def rotate_model(
    model: type[models.Model], *, batch_size: int = 500, ignore_triggers: Iterable[str] = ()
) -> dict[str, dict[str, int]]:
    """Re-encrypts the model's encrypted columns under the current key, `batch_size` rows at a
    time, each batch in its own short transaction holding row locks only (no table lock), so the
    service stays up. Values already under the current key are left alone, so a re-run after an
    interruption only finishes the job. Works on the stored tokens directly (MultiFernet.rotate):
    nothing else in the row, `updated_at` included, changes. Each batch that rotated anything
    writes an audit entry in its own transaction, like every other write (row history triggers
    see these updates, and the entry accounts for them).

    `ignore_triggers`: pgtrigger URIs lifted for the UPDATE statements of this rotation only.

    Returns {"<app>.<model>.<field>": {"rotated": n, "already_current": n}}."""
    from .audit import audit_record  # the audit log's models load after this module's fields

    fields = [f for f in model._meta.concrete_fields if isinstance(f, EncryptedFieldMixin)]
    labels = [f"{model._meta.label}.{f.name}" for f in fields]
    qn = connection.ops.quote_name
    table, pk = qn(model._meta.db_table), qn(model._meta.pk.column)
    columns = [qn(f.column) for f in fields]
    not_empty = " OR ".join(f"COALESCE({column}, '') <> ''" for column in columns)
    # One statement per batch, each row written once: NULL in the VALUES list keeps a column.
    assignments = ", ".join(
        f"{column} = COALESCE(v.c{i}, {table}.{column})" for i, column in enumerate(columns)
    )
    names = ", ".join(f"c{i}" for i in range(len(columns)))
    counts = {label: {"rotated": 0, "already_current": 0} for label in labels}
    _, multi = _keys()
    last_pk = None
    while True:
        with transaction.atomic(), connection.cursor() as cursor:
            after = "" if last_pk is None else f"{pk} > %s AND "
            cursor.execute(
                f"SELECT {pk}, {', '.join(columns)} FROM {table} WHERE {after}({not_empty}) "
                f"ORDER BY {pk} LIMIT %s FOR UPDATE",  # nosec B608  # quoted meta identifiers
                ([] if last_pk is None else [last_pk]) + [batch_size],
            )
            rows = cursor.fetchall()
            updates = []
            batch = dict.fromkeys(labels, 0)
            for row_pk, *tokens in rows:
                new_tokens = []
                for label, token in zip(labels, tokens, strict=True):
                    if not token or is_current(token):
                        counts[label]["already_current"] += bool(token)
                        new_tokens.append(None)
                        continue
                    try:
                        new_tokens.append(multi.rotate(token.encode("ascii")).decode("ascii"))
                    except (InvalidToken, UnicodeError):
                        raise DecryptionError(
                            f"{label} (id {row_pk}): the stored value cannot be decrypted with any of "
                            "FIELD_ENCRYPTION_KEYS; batches before this one are done."
                        ) from None
                    counts[label]["rotated"] += 1
                    batch[label] += 1
                if any(new_tokens):
                    updates.append([row_pk, *new_tokens])
            if updates:
                row_sql = "(" + ", ".join(["%s"] * (len(columns) + 1)) + ")"
                lifted = pgtrigger.ignore(*ignore_triggers) if ignore_triggers else nullcontext()
                with lifted:
                    cursor.execute(
                        f"UPDATE {table} SET {assignments} "
                        f"FROM (VALUES {', '.join([row_sql] * len(updates))}) AS v(id, {names}) "
                        f"WHERE {table}.{pk} = v.id",  # nosec B608  # quoted meta identifiers
                        [value for update in updates for value in update],
                    )
                audit_record(
                    actor=None,
                    action=AuditAction.CRYPTO_ROTATE_KEYS_BATCH,
                    object_type="crypto",
                    object_id=model._meta.label_lower,
                    extra={
                        "rotated": {label: n for label, n in batch.items() if n},
                        "first_id": rows[0][0],
                        "last_id": rows[-1][0],
                    },
                )
        if len(rows) < batch_size:
            return counts
        last_pk = rows[-1][0]


# --- migrations ------------------------------------------------------------------------------------


def column_encryption(app_label: str, columns: dict[str, tuple[str, ...]], *, batch: int = 1000):
    """(forward, backward) for a RunPython that encrypts the existing values of `columns`
    ({model name: field names}) after an AlterField made them encrypted fields, and decrypts them
    back. Raw SQL on both sides (the fields decrypt on read), each row written once, every trigger
    lifted for these statements (row history and append-only triggers would take a change of
    storage for a change of content). Values already encrypted, by new code during a rolling
    deploy, are left alone; going back needs the key they were encrypted with, like any read."""

    def is_token(value: str) -> bool:
        try:
            decrypt(value)
        except DecryptionError:
            return False
        return True

    def rewrite(apps, schema_editor, convert) -> None:
        db = schema_editor.connection
        qn = db.ops.quote_name
        with pgtrigger.ignore(), db.cursor() as cursor:
            for model_name, names in columns.items():
                model = apps.get_model(app_label, model_name)
                table, pk = qn(model._meta.db_table), qn(model._meta.pk.column)
                cols = [qn(model._meta.get_field(name).column) for name in names]
                not_empty = " OR ".join(f"COALESCE({c}, '') <> ''" for c in cols)
                last = None
                while True:
                    after = "" if last is None else f"{pk} > %s AND "
                    cursor.execute(
                        f"SELECT {pk}, {', '.join(cols)} FROM {table} WHERE {after}({not_empty}) "
                        f"ORDER BY {pk} LIMIT %s",  # nosec B608  # quoted meta identifiers
                        ([] if last is None else [last]) + [batch],
                    )
                    rows = cursor.fetchall()
                    for row_pk, *values in rows:
                        converted = {c: convert(v) if v else None for c, v in zip(cols, values, strict=True)}
                        changed = {c: new for c, new in converted.items() if new is not None}
                        if changed:
                            cursor.execute(
                                f"UPDATE {table} SET {', '.join(f'{c} = %s' for c in changed)} "
                                f"WHERE {pk} = %s",  # nosec B608  # quoted meta identifiers
                                [*changed.values(), row_pk],
                            )
                    if len(rows) < batch:
                        break
                    last = rows[-1][0]

    def forward(apps, schema_editor) -> None:
        rewrite(apps, schema_editor, lambda value: None if is_token(value) else encrypt(value))

    def backward(apps, schema_editor) -> None:
        rewrite(apps, schema_editor, lambda value: decrypt(value) if is_token(value) else None)

    return forward, backward


# --- identifiers -----------------------------------------------------------------------------------


def normalise_phone(value: str, *, region: str | None = None) -> str:
    """The number in E.164 form (+254712345678). `region` (ISO 3166 alpha-2, the helpline's
    country) reads numbers written the national way; without it the number needs its +country
    code. ValueError (naming no digits, since messages end up in logs) if it is not a number."""
    try:
        number = phonenumbers.parse(value, region.upper() if region else None)
    except phonenumbers.NumberParseException:
        raise ValueError(gettext("Not a phone number.")) from None
    if not phonenumbers.is_possible_number(number):
        raise ValueError(gettext("Not a phone number."))
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def identifier_hash(value: str, *, region: str | None = None) -> str:
    """Keyed hash (HMAC-SHA256 under IDENTIFIER_HASH_KEY, hex) of a phone number, taken of its
    E.164 form: the same number however it is written gives the same hash."""
    e164 = normalise_phone(value, region=region)
    return hmac.new(settings.IDENTIFIER_HASH_KEY.encode(), e164.encode(), hashlib.sha256).hexdigest()
