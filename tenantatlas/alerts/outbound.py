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
import functools
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

from tenantatlas.alerts.addresses import (
    _DEFAULT_PORTS,
    OutboundError,
    OutboundPolicy,
    _address_refused,
    _refused_kind,
    check_url,
    redact_url,
)
from tenantatlas.graph.retry import parse_retry_after

type Resolved = list[tuple[socket.AddressFamily, tuple[Any, ...]]]

USER_AGENT = "TenantAtlas-Alerts"

_FORBIDDEN_HEADERS = {"host", "content-length", "transfer-encoding", "connection"}
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_HEADER_VALUE = re.compile(r"[\x20-\x7e\t]*")


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


@functools.lru_cache(maxsize=8)
def _tls_context(ca_file: str | None) -> ssl.SSLContext:
    """The system's and certifi's public CAs, plus ``ca_file`` (an on-premises or test CA).

    Built once per CA file and process (loading the CAs costs about 0.1 s of CPU, most of a
    delivery's cost otherwise): a changed CA file is read when the worker restarts.
    """
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
        _send_request(connection, path, body, headers)
        response = connection.getresponse()
        data = response.read(policy.max_response_bytes + 1)
    except (TimeoutError, OSError, http.client.HTTPException) as exc:
        raise _exchange_failure(exc, expired.is_set(), shown, policy) from None
    finally:
        deadline.cancel()
    if expired.is_set():  # the deadline's shutdown can look like a clean end of the answer
        raise _timed_out(shown, policy)
    return _bounded_response(response, data, policy)


def _send_request(
    connection: _PinnedHTTPConnection, path: str, body: bytes, headers: list[tuple[str, str]]
) -> None:
    """The POST with the caller's headers; the outbound path sets the framing ones."""
    connection.putrequest("POST", path)
    names = {name.lower() for name, _ in headers}
    if "user-agent" not in names:
        connection.putheader("User-Agent", USER_AGENT)
    for name, value in headers:
        connection.putheader(name, value)
    connection.putheader("Content-Length", str(len(body)))
    connection.putheader("Connection", "close")
    connection.endheaders(body)


def _timed_out(shown: str, policy: OutboundPolicy) -> OutboundError:
    return OutboundError(
        "alert.timeout", f"{shown} did not answer within {policy.read_timeout:g} s."
    )


def _exchange_failure(
    exc: Exception, expired: bool, shown: str, policy: OutboundPolicy
) -> OutboundError:
    """The error a failed exchange reports (the low-level exception is never shown)."""
    if expired or isinstance(exc, TimeoutError):
        return _timed_out(shown, policy)
    if isinstance(exc, http.client.HTTPException):
        return OutboundError("alert.receiver_error", f"{shown} did not answer with valid HTTP.")
    return OutboundError(
        "alert.connect_failed", f"The connection to {shown} was lost before it answered."
    )


def _bounded_response(
    response: http.client.HTTPResponse, data: bytes, policy: OutboundPolicy
) -> OutboundResponse:
    """The answer with its headers joined by lower-case name and its body cut to the bound."""
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
