"""Personal data at rest: the Fernet keys of the encrypted columns (helpline/crypto.py) and the key
of the identifier hash. Settings refuse to load without them."""

from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured

from .environment import env


def _fernet_keys(keys: list[str]) -> list[str]:
    keys = [key.strip() for key in keys if key.strip()]
    if not keys:
        raise ImproperlyConfigured(
            "Set FIELD_ENCRYPTION_KEYS: comma-separated Fernet keys, the current one first "
            "(python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())')."
        )
    for position, key in enumerate(keys, start=1):
        try:
            Fernet(key)
        except ValueError:
            raise ImproperlyConfigured(
                f"FIELD_ENCRYPTION_KEYS: key {position} is not a Fernet key (32 bytes, url-safe base64)."
            ) from None
    return keys


# Personal data at rest (helpline/crypto.py): the first key encrypts, every key decrypts. To
# rotate, put a new key first, deploy, run `manage.py rotate_keys`, then drop the old key.
FIELD_ENCRYPTION_KEYS = _fernet_keys(env.list("FIELD_ENCRYPTION_KEYS", default=[]))
# Key of the HMAC that lets us look identifiers (reporters' phone numbers) up without keeping
# them in clear; separate from the encryption keys. Changing it orphans the stored hashes.
IDENTIFIER_HASH_KEY = env("IDENTIFIER_HASH_KEY", default="")
if len(IDENTIFIER_HASH_KEY) < 32:
    raise ImproperlyConfigured("Set IDENTIFIER_HASH_KEY: a random secret of at least 32 characters.")
