"""How API callers prove who they are: django-rest-knox tokens (hashed at rest, several per person,
expiring after TOKEN_IDLE_HOURS without use), sent as `Authorization: Token <key>`."""

import ipaddress

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.plumbing import build_bearer_security_scheme_object
from knox.auth import TokenAuthentication as KnoxTokenAuthentication
from rest_framework.throttling import BaseThrottle


class TokenAuthentication(KnoxTokenAuthentication):
    """knox's token check, unchanged; a class of our own so the OpenAPI scheme keeps its name."""


class TokenScheme(OpenApiAuthenticationExtension):
    target_class = "helpline.api.authentication.TokenAuthentication"
    name = "tokenAuth"  # the name clients generated from earlier schemas know
    priority = 1  # ahead of drf-spectacular's own knox extension ("knoxApiToken")

    def get_security_definition(self, auto_schema):
        return build_bearer_security_scheme_object(
            header_name="Authorization", token_prefix=self.target.authenticate_header(None)
        )


def client_ip(request) -> str | None:
    """The address sign-in failures are counted against (django-axes): the one DRF's throttles use,
    so NUM_PROXIES decides for both whether X-Forwarded-For is believed."""
    ident = BaseThrottle().get_ident(request)
    try:
        return ipaddress.ip_address(ident).compressed
    except ValueError:
        # Not an address (a proxy that forwarded garbage): fall back to the connection's own.
        return request.META.get("REMOTE_ADDR") or None
