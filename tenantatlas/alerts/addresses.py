"""Which receiver addresses alerts may reach, and what of a URL may be shown.

The static half of outbound safety (docs/alerts.md, "Outbound safety"): a receiver URL must be
https (plain http only to hosts an administrator lists), carry no user name, password or
fragment, stay within a bounded length and name its host canonically; an address must be public
unicast unless the administrator allows private networks or lists them (``OutboundPolicy``).
``check_url`` is what forms and the API run on save; ``outbound.post`` runs the address check
again on every address the host resolves to, at send time. ``redact_url`` is all of a URL a
page, log or error may show (a Teams workflow URL carries its signature in the query).
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

type IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
type IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

MAX_URL_LENGTH = 2000  # AlertChannel.url holds 2,000 characters
_DEFAULT_PORTS = {"https": 443, "http": 80}
_CGNAT = ipaddress.ip_network("100.64.0.0/10")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_UNIQUE_LOCAL = ipaddress.ip_network("fc00::/7")
# Never unlocked by allow_private: not a receiver (multicast, unspecified: 0.0.0.0 is this
# host), or the cloud metadata endpoint's range (link-local: 169.254.169.254). An
# administrator who really means one lists its network explicitly.
_ONLY_BY_NETWORK = {"unspecified", "multicast", "link-local"}
_KIND_WORDS = {
    "unspecified": "the unspecified address",
    "loopback": "a loopback address",
    "link-local": "a link-local address",
    "multicast": "a multicast address",
    "cgnat": "a shared (carrier-grade NAT) address",
    "unique-local": "a unique-local address",
    "reserved": "a reserved address",
    "private": "a private network address",
    "non-public": "a non-public address",
}


class OutboundError(Exception):
    """A delivery could not be made; ``code`` is a reason code, ``message`` safe to show."""

    retryable = True

    def __init__(self, code: str, message: str) -> None:
        self.code = code
        self.message = message
        super().__init__(code, message)

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.code!r}, {self.message!r})"


class OutboundRefused(OutboundError):
    """The URL or its addresses are not allowed: sending again cannot succeed until changed."""

    retryable = False


@dataclass(frozen=True)
class OutboundPolicy:
    """Where deliveries may go, whom they trust and how long they may take.

    ``read_timeout`` bounds the whole exchange once connected (sending the request, the status,
    the headers and the bounded body), not each read, so a receiver that drips bytes cannot
    hold a worker. ``allowed_private_networks`` allows exactly those networks (on-premises
    receivers), whatever kind of address they hold.
    """

    allow_private: bool = False
    allowed_private_networks: frozenset[IPNetwork] = frozenset()
    allowed_http_hosts: frozenset[str] = frozenset()
    ca_file: str | None = None
    connect_timeout: float = 5.0
    read_timeout: float = 15.0
    max_response_bytes: int = 64 * 1024

    def __post_init__(self) -> None:
        if self.connect_timeout <= 0 or self.read_timeout <= 0 or self.max_response_bytes < 0:
            raise ValueError("timeouts must be positive and max_response_bytes not negative")

    @classmethod
    def from_settings(cls) -> OutboundPolicy:
        """The policy of ``ALERTS_*`` settings (``TENANTATLAS_ALERTS_*`` environment)."""
        networks: set[IPNetwork] = set()
        for text in getattr(settings, "ALERTS_PRIVATE_NETWORKS", []):
            try:
                networks.add(ipaddress.ip_network(text))
            except ValueError:
                raise ImproperlyConfigured(
                    f"TENANTATLAS_ALERTS_PRIVATE_NETWORKS: {text!r} is not a network "
                    "(write it as 10.20.0.0/16 or fd00:1::/64, host bits zero)"
                ) from None
        hosts = getattr(settings, "ALERTS_HTTP_HOSTS", [])
        return cls(
            allow_private=bool(getattr(settings, "ALERTS_ALLOW_PRIVATE_NETWORKS", False)),
            allowed_private_networks=frozenset(networks),
            allowed_http_hosts=frozenset(host.strip("[]").lower() for host in hosts),
            ca_file=getattr(settings, "ALERTS_CA_FILE", "") or None,
            connect_timeout=float(getattr(settings, "ALERTS_CONNECT_TIMEOUT", 5.0)),
            read_timeout=float(getattr(settings, "ALERTS_READ_TIMEOUT", 15.0)),
            max_response_bytes=int(getattr(settings, "ALERTS_MAX_RESPONSE_BYTES", 64 * 1024)),
        )


def address_kind(address: IPAddress) -> str | None:
    """Why ``address`` is not a public unicast address (a key of the kinds), or None if it is.

    IPv6 forms that carry an IPv4 address (mapped, NAT64) are judged by that address; 6to4
    (deprecated, never a receiver's address) is refused, named after its IPv4 address if that
    is refused too.
    """
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return address_kind(address.ipv4_mapped)
        if address in _NAT64:
            return address_kind(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
        if address.sixtofour is not None:
            return address_kind(address.sixtofour) or "non-public"
    if address.is_unspecified:
        return "unspecified"
    if address.is_loopback:
        return "loopback"
    if address.is_link_local:
        return "link-local"
    if address.is_multicast:
        return "multicast"
    if isinstance(address, ipaddress.IPv4Address) and address in _CGNAT:
        return "cgnat"
    if isinstance(address, ipaddress.IPv6Address) and (
        address in _UNIQUE_LOCAL or address.is_site_local
    ):
        return "unique-local"
    if address.is_reserved:
        return "reserved"
    if address.is_private:
        return "private"
    return None if address.is_global else "non-public"


def _refused_kind(address: IPAddress, policy: OutboundPolicy) -> str | None:
    kind = address_kind(address)
    if kind is None:
        return None
    candidates = {address, getattr(address, "ipv4_mapped", None) or address}
    for network in policy.allowed_private_networks:
        if any(c.version == network.version and c in network for c in candidates):
            return None
    if policy.allow_private and kind not in _ONLY_BY_NETWORK:
        return None
    return kind


def _address_refused(subject: str, kind: str) -> OutboundRefused:
    return OutboundRefused(
        "alert.address_refused",
        f"{subject} {_KIND_WORDS[kind]}; alerts go only to public addresses. Use the "
        "receiver's public URL, or ask the administrator to allow its network "
        "(TENANTATLAS_ALERTS_PRIVATE_NETWORKS).",
    )


def _url_refused(message: str) -> OutboundRefused:
    return OutboundRefused("alert.url_refused", message)


def _is_dns_name(host: str) -> bool:
    labels = host.split(".")
    if len(host) > 253 or labels[-1].isdigit():
        return False
    return all(
        0 < len(label) <= 63
        and not label.startswith("-")
        and not label.endswith("-")
        and all(ch.isascii() and (ch.isalnum() or ch in "-_") for ch in label)
        for label in labels
    )


def _checked_host(hostname: str, policy: OutboundPolicy) -> str:
    """The host in URL form: a lower-case ASCII name, or an address literal (IPv6 in [])."""
    try:
        address = ipaddress.ip_address(hostname)
    except ValueError:
        address = None
    if address is not None:
        if isinstance(address, ipaddress.IPv6Address) and address.scope_id:
            raise _url_refused("Remove the zone (%…) from the IPv6 address.")
        kind = _refused_kind(address, policy)
        if kind is not None:
            raise _address_refused(f"{address} is", kind)
        return f"[{address}]" if address.version == 6 else str(address)
    try:
        host = hostname.rstrip(".").encode("idna").decode("ascii").lower()
    except UnicodeError:
        raise _url_refused("The host name is not a valid domain name.") from None
    try:
        socket.inet_aton(host)
    except OSError:
        pass
    else:  # 127.1, 0x7f.0.0.1, 2130706433: resolvers read these as addresses
        raise _url_refused("Write an IPv4 address as four decimal numbers (e.g. 192.0.2.10).")
    if not _is_dns_name(host):
        raise _url_refused("The host name is not a valid domain name.")
    if host == "localhost" or host.endswith(".localhost"):
        kind = _refused_kind(ipaddress.IPv4Address("127.0.0.1"), policy)
        if kind is not None:
            raise _address_refused(f"{host} is", kind)
    return host


def check_url(url: str, policy: OutboundPolicy) -> str:
    """The normalised receiver URL, or :class:`OutboundRefused` saying what to change.

    A static check (no DNS): a form or the API calls it on save; :func:`post` calls it again
    and then checks the addresses the host resolves to.
    """
    url = url.strip()
    if len(url) > MAX_URL_LENGTH:
        raise _url_refused(f"The URL is longer than {MAX_URL_LENGTH} characters.")
    if any(ch <= " " or ch == "\x7f" or ch == "\\" for ch in url):
        raise _url_refused("The URL contains spaces, control characters or backslashes.")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise _url_refused(
            "The URL is not valid (check the host, the port and any brackets)."
        ) from None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.netloc:
        raise _url_refused("Enter an absolute URL starting with https://.")
    if "@" in parts.netloc:
        raise _url_refused(
            "Remove the user name and password (user:pass@) from the URL; the channel's "
            "signing secret authenticates deliveries."
        )
    if "#" in url:
        raise _url_refused("Remove the fragment (#…): it is never sent to a receiver.")
    if not parts.hostname:
        raise _url_refused("The URL has no host name.")
    if port == 0:
        raise _url_refused("The port must be between 1 and 65535.")
    if not (parts.path + parts.query).isascii():
        raise _url_refused("Percent-encode the characters outside ASCII in the URL's path.")
    host = _checked_host(parts.hostname, policy)
    if scheme == "http" and host.strip("[]") not in policy.allowed_http_hosts:
        raise _url_refused(
            "Use https://. Plain http:// goes only to hosts the administrator allows "
            "(TENANTATLAS_ALERTS_HTTP_HOSTS)."
        )
    netloc = host if port in (None, _DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    query = f"?{parts.query}" if parts.query else ""
    return f"{scheme}://{netloc}{parts.path or '/'}{query}"


def redact_url(url: str) -> str:
    """``scheme://host[:port]/…``: what delivery logs and messages may show of a URL."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
        host = parts.hostname or ""
    except ValueError:
        return "[invalid URL]"
    if not parts.scheme or not host:
        return "[invalid URL]"
    host = f"[{host}]" if ":" in host else host
    netloc = host if port is None else f"{host}:{port}"
    return f"{parts.scheme.lower()}://{netloc[:260]}/…"
