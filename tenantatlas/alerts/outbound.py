"""The one outbound HTTP path of alerts: every webhook and Teams delivery is a POST from here.

A receiver URL is typed by a workspace member, so each delivery is a request the server makes
on someone's behalf. The rules that keep it from reaching what it should not (SSRF):

* **https only** (plain http only to hosts an administrator lists), no user name or password in
  the URL, no fragment, a bounded length, host names that are names or canonical addresses;
* **public addresses only**: private, loopback, link-local, unique-local, carrier-grade NAT,
  multicast, reserved and unspecified addresses are refused, also when wrapped in IPv6
  (IPv4-mapped, NAT64, 6to4), unless the administrator allows private networks or lists them;
* **one resolution**: the host is resolved once, every address it resolves to is checked, and
  the connection goes to a checked address itself (a second lookup could answer differently:
  DNS rebinding); TLS still verifies the certificate for the host name and sends it as SNI;
* **no redirects**: a 3xx is handed back as a response, never followed;
* **bounded**: connect and exchange timeouts, at most ``max_response_bytes`` read.

Everything after ``scheme://host:port`` is treated as secret (a Teams workflow URL carries its
signature in the query): failures name only :func:`redact_url`'s form, never paths, queries,
header values or the low-level exception (raised ``from None``).

The standard library's ``http.client`` does the HTTP, so only ``tenantatlas.graph`` imports
``requests``. Outbound proxies (``HTTPS_PROXY``) are not used: deliveries connect directly.
"""

from __future__ import annotations

import contextlib
import http.client
import ipaddress
import re
import socket
import ssl
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import certifi
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from tenantatlas.graph.retry import parse_retry_after

type IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
type IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
type Resolved = list[tuple[socket.AddressFamily, tuple[Any, ...]]]

MAX_URL_LENGTH = 2000  # AlertChannel.url holds 2,000 characters
USER_AGENT = "TenantAtlas-Alerts"
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
_FORBIDDEN_HEADERS = {"host", "content-length", "transfer-encoding", "connection"}
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_HEADER_VALUE = re.compile(r"[\x20-\x7e\t]*")


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


@dataclass(frozen=True)
class OutboundResponse:
    """What the receiver answered. ``headers`` have lower-case names; ``body`` is bounded."""

    status: int
    headers: Mapping[str, str]
    body: bytes
    retry_after: float | None = None
    truncated: bool = False

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def failure_code(self) -> str | None:
        """``alert.redirect_refused`` for a 3xx, ``alert.receiver_error`` for other non-2xx."""
        if self.ok:
            return None
        return "alert.redirect_refused" if 300 <= self.status < 400 else "alert.receiver_error"

    @property
    def failure_message(self) -> str:
        if self.ok:
            return ""
        if 300 <= self.status < 400:
            return (
                f"The receiver answered {self.status} (a redirect); alerts never follow "
                "redirects. Enter the URL the receiver redirects to."
            )
        return f"The receiver answered {self.status}."


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


def _resolve(host: str, port: int, shown: str, policy: OutboundPolicy) -> Resolved:
    """Every address ``host`` resolves to, each one checked; the one lookup of a delivery."""
    try:
        answers = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError):
        raise OutboundError(
            "alert.connect_failed", f"The host name of {shown} does not resolve."
        ) from None
    addresses: Resolved = []
    for family, _, _, _, sockaddr in answers:
        address = ipaddress.ip_address(str(sockaddr[0]).split("%")[0])
        kind = _refused_kind(address, policy)
        if kind is not None:
            raise _address_refused(f"{host} resolves to", kind)
        if (family, sockaddr) not in addresses:
            addresses.append((family, sockaddr))
    return addresses


def _open_socket(addresses: Resolved, timeout: float) -> socket.socket:
    """Connect to the first checked address that answers, all within ``timeout`` (no lookup)."""
    last: OSError | None = None
    deadline = time.monotonic() + timeout
    for family, sockaddr in addresses:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.settimeout(remaining)
        try:
            sock.connect(sockaddr)
        except OSError as exc:
            sock.close()
            last = exc
            continue
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock
    raise last or OSError("no address")


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """Plain HTTP to an address checked beforehand; ``host`` only names it in the request."""

    def __init__(self, host: str, port: int, addresses: Resolved, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._addresses = addresses
        self._connect_timeout = timeout

    def connect(self) -> None:
        self.sock = _open_socket(self._addresses, self._connect_timeout)


class _PinnedHTTPSConnection(_PinnedHTTPConnection):
    """HTTPS to a checked address, verifying the certificate for the host name (and SNI)."""

    default_port = http.client.HTTPS_PORT  # the Host header leaves out the port only for 443

    def __init__(
        self,
        host: str,
        port: int,
        addresses: Resolved,
        timeout: float,
        context: ssl.SSLContext,
    ) -> None:
        super().__init__(host, port, addresses, timeout)
        self._tls = context

    def connect(self) -> None:
        sock = _open_socket(self._addresses, self._connect_timeout)
        try:
            self.sock = self._tls.wrap_socket(sock, server_hostname=self.host)
        except BaseException:
            sock.close()
            raise


def _tls_context(ca_file: str | None) -> ssl.SSLContext:
    """The system's and certifi's public CAs, plus ``ca_file`` (an on-premises or test CA)."""
    context = ssl.create_default_context()
    context.load_verify_locations(cafile=certifi.where())
    if ca_file:
        try:
            context.load_verify_locations(cafile=ca_file)
        except (OSError, ssl.SSLError):
            raise OutboundError(
                "alert.tls_failed",
                f"The CA file {ca_file} (TENANTATLAS_ALERTS_CA_FILE) is not a readable PEM file.",
            ) from None
    return context


def _checked_headers(headers: Mapping[str, str]) -> list[tuple[str, str]]:
    """The caller's headers, refusing framing ones and line breaks (without echoing values)."""
    checked = []
    for name, value in headers.items():
        if name.lower() in _FORBIDDEN_HEADERS:
            raise ValueError(f"header {name!r} is set by the outbound path itself")
        if not _TOKEN.fullmatch(name) or not _HEADER_VALUE.fullmatch(value):
            raise ValueError(f"header {name!r} has an invalid name or value")
        checked.append((name, value))
    return checked


def post(
    url: str, body: bytes, headers: Mapping[str, str], policy: OutboundPolicy
) -> OutboundResponse:
    """POST ``body`` to ``url`` under ``policy``; any HTTP answer (3xx too) is a response.

    Raises :class:`OutboundRefused` for a refused URL or address and :class:`OutboundError`
    when the receiver cannot be reached, times out, fails TLS or answers malformed HTTP.
    """
    target = check_url(url, policy)
    parts = urlsplit(target)
    host, port = parts.hostname or "", parts.port or _DEFAULT_PORTS[parts.scheme]
    shown = redact_url(target)
    request_headers = _checked_headers(headers)
    addresses = _resolve(host, port, shown, policy)
    connection: _PinnedHTTPConnection
    if parts.scheme == "https":
        context = _tls_context(policy.ca_file)
        connection = _PinnedHTTPSConnection(host, port, addresses, policy.connect_timeout, context)
    else:
        connection = _PinnedHTTPConnection(host, port, addresses, policy.connect_timeout)
    try:
        _connect(connection, shown, policy)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        return _exchange(connection, path, body, request_headers, shown, policy)
    finally:
        connection.close()


def _connect(connection: _PinnedHTTPConnection, shown: str, policy: OutboundPolicy) -> None:
    try:
        connection.connect()
    except TimeoutError:
        raise OutboundError(
            "alert.timeout",
            f"{shown} did not accept a connection within {policy.connect_timeout:g} s.",
        ) from None
    except ssl.SSLCertVerificationError as exc:
        raise OutboundError(
            "alert.tls_failed",
            f"The certificate of {shown} is not trusted ({exc.verify_message}). The receiver "
            "needs a certificate from a public CA, or the administrator adds its CA "
            "(TENANTATLAS_ALERTS_CA_FILE).",
        ) from None
    except ssl.SSLError as exc:
        raise OutboundError(
            "alert.tls_failed",
            f"The TLS handshake with {shown} failed ({exc.reason or 'TLS error'}).",
        ) from None
    except OSError as exc:
        raise OutboundError(
            "alert.connect_failed",
            f"{shown} could not be reached ({exc.strerror or type(exc).__name__}).",
        ) from None


def _exchange(
    connection: _PinnedHTTPConnection,
    path: str,
    body: bytes,
    headers: list[tuple[str, str]],
    shown: str,
    policy: OutboundPolicy,
) -> OutboundResponse:
    """Send the request and read the bounded answer, all within ``read_timeout``."""
    sock = connection.sock
    assert sock is not None
    sock.settimeout(policy.read_timeout)
    expired = threading.Event()

    def stop() -> None:  # the deadline of the whole exchange: wakes any blocked read or write
        expired.set()
        with contextlib.suppress(OSError):
            socket.socket.shutdown(sock, socket.SHUT_RDWR)

    deadline = threading.Timer(policy.read_timeout, stop)
    deadline.daemon = True
    deadline.start()
    try:
        connection.putrequest("POST", path)
        names = {name.lower() for name, _ in headers}
        if "user-agent" not in names:
            connection.putheader("User-Agent", USER_AGENT)
        for name, value in headers:
            connection.putheader(name, value)
        connection.putheader("Content-Length", str(len(body)))
        connection.putheader("Connection", "close")
        connection.endheaders(body)
        response = connection.getresponse()
        data = response.read(policy.max_response_bytes + 1)
    except (TimeoutError, OSError, http.client.HTTPException) as exc:
        if expired.is_set() or isinstance(exc, TimeoutError):
            raise OutboundError(
                "alert.timeout", f"{shown} did not answer within {policy.read_timeout:g} s."
            ) from None
        if isinstance(exc, http.client.HTTPException):
            raise OutboundError(
                "alert.receiver_error", f"{shown} did not answer with valid HTTP."
            ) from None
        raise OutboundError(
            "alert.connect_failed", f"The connection to {shown} was lost before it answered."
        ) from None
    finally:
        deadline.cancel()
    if expired.is_set():  # the deadline's shutdown can look like a clean end of the answer
        raise OutboundError(
            "alert.timeout", f"{shown} did not answer within {policy.read_timeout:g} s."
        )
    received: dict[str, str] = {}
    for name, value in response.getheaders():
        key = name.lower()
        received[key] = f"{received[key]}, {value}" if key in received else value
    return OutboundResponse(
        status=response.status,
        headers=received,
        body=data[: policy.max_response_bytes],
        retry_after=parse_retry_after(received.get("retry-after"), now=datetime.now(UTC)),
        truncated=len(data) > policy.max_response_bytes,
    )
