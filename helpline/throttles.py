"""Sign-in attempts per address, one count for every way in (the API's token and set-password
endpoints, the console's sign-in form), so that alternating between them gains an attacker
nothing. django-axes locks an account out after repeated failures; this limits one address's
attempts on any account."""

from typing import Any

from django.conf import settings
from rest_framework.throttling import SimpleRateThrottle


class SignInThrottle(SimpleRateThrottle):
    """`settings.SIGN_IN_RATE` attempts (default 30 a minute) per address, signed in or not."""

    scope = "sign_in"

    def get_rate(self) -> str:
        return settings.SIGN_IN_RATE

    def get_cache_key(self, request: Any, view: Any) -> str:
        # The address as DRF's throttles read it (settings.NUM_PROXIES: X-Forwarded-For only from
        # the proxies in front of us), for a Django request as for a DRF one.
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}
