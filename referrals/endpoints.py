"""Agencies' webhook endpoints: which URLs Lifeline may call, and the call itself.

Server-side request forgery: an administrator types the URL, and Lifeline's servers call it. So
only `https` is allowed (plain `http` only where AGENCY_WEBHOOK_ALLOW_HTTP says so, for local
development), and only public addresses: a URL naming or resolving to a loopback, private,
link-local, shared (CGNAT), multicast, reserved or unspecified address — IPv4 or IPv6, also one
embedded in an IPv6 address — is refused when it is saved (`url_problem`) and again when a request
goes out (`post`). At send time the host is resolved once, every address must be public, and the
connection goes to that checked address with the URL's host kept in the Host header and as the
TLS server name (SNI and certificate check): a name that answers a public address to the check and
an internal one to the connection (DNS rebinding) never reaches the internal one.

AGENCY_WEBHOOK_ALLOW_NON_PUBLIC lifts the address check, for tests and local development with an
endpoint on this machine; it is off by default.

What went wrong is told in a generic outcome (`SendFailure`), never the library's error text, which
names addresses and ports (a port scanner for whoever reads the delivery log)."""

from __future__ import annotations

import ipaddress
import socket
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import certifi
from django.conf import settings
from django.db import models
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from urllib3 import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import HTTPError, NewConnectionError, SSLError
from urllib3.exceptions import TimeoutError as Urllib3Timeout
from urllib3.util import Timeout

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# NAT64's well-known prefix: the last 32 bits are an IPv4 address.
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_DEFAULT_PORTS = {"https": 443, "http": 80}


class SendFailure(models.TextChoices):
    """What an agency (and the delivery log) is told about a request that got no answer."""

    SCHEME_NOT_ALLOWED = "refused: scheme not allowed", gettext_lazy("The URL's scheme is not allowed")
    ADDRESS_NOT_ALLOWED = "refused: address not allowed", gettext_lazy("The host is not a public address")
    NAME_NOT_RESOLVED = "name not resolved", gettext_lazy("The host name did not resolve")
    CONNECTION_FAILED = "connection failed", gettext_lazy("No connection (refused, reset or unreachable)")
    TLS_FAILED = "TLS handshake failed", gettext_lazy("TLS handshake or certificate check failed")
    TIMEOUT = "timeout", gettext_lazy("No answer within the timeout")


class SendFailed(Exception):
    """The request got no answer; `outcome` is what may be shown, `reason` is for the logs."""

    def __init__(self, outcome: SendFailure, reason: str = "") -> None:
        super().__init__(outcome.value)
        self.outcome = outcome
        self.reason = reason


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes


def is_public(address: IPAddress) -> bool:
    """A globally reachable unicast address, also for any IPv4 address an IPv6 one embeds
    (IPv4-mapped, 6to4, Teredo, NAT64)."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = [address.ipv4_mapped, address.sixtofour, address.teredo[1] if address.teredo else None]
        if address in _NAT64:
            embedded.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
        if any(inner is not None and not is_public(inner) for inner in embedded):
            return False
    return address.is_global and not (
        address.is_multicast
        or address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_reserved
        or address.is_unspecified
    )


def resolve(host: str, port: int) -> list[IPAddress]:
    """Every address the name resolves to (OSError if none). Tests replace it to play DNS."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    addresses: list[IPAddress] = []
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        if address not in addresses:
            addresses.append(address)
    if not addresses:
        raise OSError(f"{host} resolved to no address")
    return addresses


def _literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def _allowed(addresses: list[IPAddress]) -> bool:
    return settings.AGENCY_WEBHOOK_ALLOW_NON_PUBLIC or all(is_public(a) for a in addresses)


def _scheme_allowed(scheme: str) -> bool:
    return scheme == "https" or (scheme == "http" and settings.AGENCY_WEBHOOK_ALLOW_HTTP)


def url_problem(url: str) -> str | None:
    """Why `url` may not be an agency's webhook URL, or None. A name that does not resolve (yet) is
    let through: it is checked again when called, and a new URL is called (verified) before it is
    used."""
    try:
        parts = urlsplit(url)
        port = parts.port or _DEFAULT_PORTS.get(parts.scheme.lower(), 443)
    except ValueError:
        return _("Enter a valid URL.")
    if not _scheme_allowed(parts.scheme.lower()):
        if settings.AGENCY_WEBHOOK_ALLOW_HTTP:
            return _("Only https or http URLs are allowed.")
        return _("Only https URLs are allowed.")
    if not parts.hostname:
        return _("The URL has no host.")
    if parts.username is not None or parts.password is not None:
        return _("The URL may not carry a user name or password; webhooks are signed instead.")
    literal = _literal(parts.hostname)
    if literal is not None:
        addresses = [literal]
    else:
        try:
            addresses = resolve(parts.hostname, port)
        except (OSError, UnicodeError):
            return None
    if not _allowed(addresses):
        return _(
            "The URL's host is not a public address (loopback, private, link-local and similar are refused)."
        )
    return None


def post(url: str, *, body: bytes, headers: dict[str, str], timeout: float, read_limit: int = 0) -> Answer:
    """POSTs `body` to `url`, connecting only to a checked public address (see the module). Reads
    at most `read_limit` bytes of the answer (none by default: an endpoint trickling its answer
    cannot hold the caller). Raises SendFailed when there is no answer."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if not _scheme_allowed(scheme) or not parts.hostname:
        raise SendFailed(SendFailure.SCHEME_NOT_ALLOWED, f"scheme {scheme!r}")
    host = parts.hostname
    port = parts.port or _DEFAULT_PORTS[scheme]
    literal = _literal(host)
    try:
        addresses = [literal] if literal is not None else resolve(host, port)
    except (OSError, UnicodeError) as exc:
        raise SendFailed(SendFailure.NAME_NOT_RESOLVED, type(exc).__name__) from None
    if not _allowed(addresses):
        raise SendFailed(SendFailure.ADDRESS_NOT_ALLOWED, "non-public address")
    address = str(addresses[0])
    host_header = parts.netloc.rsplit("@", 1)[-1]
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    deadline = time.monotonic() + timeout
    pool_timeout = Timeout(total=timeout)
    if scheme == "https":
        pool: HTTPConnectionPool = HTTPSConnectionPool(
            address,
            port,
            timeout=pool_timeout,
            maxsize=1,
            retries=False,
            cert_reqs="CERT_REQUIRED",
            ca_certs=certifi.where(),
            server_hostname=host,
            assert_hostname=host,
        )
    else:
        pool = HTTPConnectionPool(address, port, timeout=pool_timeout, maxsize=1, retries=False)
    try:
        response = pool.urlopen(
            "POST",
            target,
            body=body,
            headers={**headers, "Host": host_header},
            redirect=False,
            retries=False,
            preload_content=False,
            assert_same_host=False,
        )
        try:
            data = b""
            while read_limit and len(data) <= read_limit and time.monotonic() < deadline:
                chunk = response.read(256)
                if not chunk:
                    break
                data += chunk
            return Answer(status=response.status, body=data[: read_limit + 1] if read_limit else b"")
        finally:
            response.release_conn()
            response.close()
    except NewConnectionError as exc:  # urllib3 makes it a kind of timeout; mostly it is a refusal
        raise SendFailed(SendFailure.CONNECTION_FAILED, type(exc).__name__) from None
    except (Urllib3Timeout, TimeoutError) as exc:
        raise SendFailed(SendFailure.TIMEOUT, type(exc).__name__) from None
    except SSLError as exc:
        raise SendFailed(SendFailure.TLS_FAILED, type(exc).__name__) from None
    except (HTTPError, OSError) as exc:
        raise SendFailed(SendFailure.CONNECTION_FAILED, type(exc).__name__) from None
    finally:
        pool.close()
