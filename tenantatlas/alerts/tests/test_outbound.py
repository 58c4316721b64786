"""The outbound path of alert deliveries, against real HTTP(S) servers on 127.0.0.1.

Host names are made up (``receiver.test``) and answered by a stand-in for ``getaddrinfo``, so
the address checks, the pinning and TLS for a name are exercised without any DNS or internet.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import socket
import ssl
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from django.core.exceptions import ImproperlyConfigured
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from tenantatlas.alerts.addresses import (
    MAX_URL_LENGTH,
    OutboundError,
    OutboundPolicy,
    OutboundRefused,
    address_kind,
    check_url,
    redact_url,
)
from tenantatlas.alerts.outbound import post
from tenantatlas.simulator.certs import build_certificate, private_key_pem

SECRET = "sig-Zq8xK2v9LmN4pR7tW1yB"  # what a Teams workflow URL carries in its query
NAMES = ("localhost", "receiver.test")  # what the receiver's certificate is valid for
_real_getaddrinfo = socket.getaddrinfo


# --- a test PKI ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Pki:
    """A CA file and a server certificate (for NAMES and 127.0.0.1) it signed."""

    ca_file: Path
    cert_file: Path
    key_file: Path

    def server_context(self, sni: list[str]) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert_file, self.key_file)
        context.sni_callback = lambda _sock, name, _ctx: sni.append(name)
        return context


def _make_pki(directory: Path, label: str) -> Pki:
    directory.mkdir()
    now = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    ca_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"{label} CA")])
    ca_usage = x509.KeyUsage(True, False, False, False, False, True, True, False, False)
    ca = build_certificate(
        ca_name,
        ca_key,
        not_before=now,
        days_valid=30,
        extensions=[
            (x509.BasicConstraints(ca=True, path_length=0), True),
            (ca_usage, True),
            (x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False),
        ],
    )
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    names = [x509.DNSName(name) for name in NAMES] + [
        x509.IPAddress(ipaddress.ip_address("127.0.0.1"))
    ]
    cert = build_certificate(
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "receiver.test")]),
        key,
        not_before=now,
        days_valid=30,
        issuer=ca_name,
        issuer_key=ca_key,
        extensions=[
            (x509.SubjectAlternativeName(names), False),
            (x509.BasicConstraints(ca=False, path_length=None), True),
            (x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False),
            (x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False),
        ],
    )
    pki = Pki(directory / "ca.pem", directory / "server.pem", directory / "server-key.pem")
    pki.ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    pki.cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    pki.key_file.write_bytes(private_key_pem(key))
    return pki


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return _make_pki(tmp_path_factory.mktemp("outbound") / "trusted", "Receiver test")


@pytest.fixture(scope="module")
def rogue_pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return _make_pki(tmp_path_factory.mktemp("outbound") / "rogue", "Rogue")


# --- receivers -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Received:
    method: str
    target: str
    headers: dict[str, str]
    body: bytes


type Answer = Callable[["_Handler"], None]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: Receiver

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        headers = {name.lower(): value for name, value in self.headers.items()}
        self.server.received.append(Received(self.command, self.path, headers, body))
        self.close_connection = True
        self.server.answer(self)

    def reply(self, status: int, headers: dict[str, str] | None = None, body: bytes = b"") -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class Receiver(ThreadingHTTPServer):
    """An HTTP(S) server on 127.0.0.1 that records each POST and answers with ``answer``."""

    daemon_threads = True

    def __init__(self, answer: Answer, tls: ssl.SSLContext | None) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.answer = answer
        self.tls = tls
        self.received: list[Received] = []
        self.stopping = threading.Event()
        threading.Thread(target=self.serve_forever, args=(0.05,), daemon=True).start()

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def url(self, host: str = "receiver.test", path: str = "/hook") -> str:
        scheme = "https" if self.tls else "http"
        return f"{scheme}://{host}:{self.port}{path}"

    def finish_request(self, request: Any, client_address: Any) -> None:
        if self.tls is not None:  # the handshake runs in the connection's thread
            request = self.tls.wrap_socket(request, server_side=True)
        super().finish_request(request, client_address)

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # refused handshakes and clients that hang up are what several tests provoke

    def stop(self) -> None:
        self.stopping.set()
        self.shutdown()
        self.server_close()


def answer_with(status: int, headers: dict[str, str] | None = None, body: bytes = b"") -> Answer:
    return lambda handler: handler.reply(status, headers, body)


NO_CONTENT = answer_with(204)


@pytest.fixture
def start(pki: Pki) -> Iterator[Callable[..., Receiver]]:
    """Start receivers: ``start(answer)`` (HTTPS with the test CA), ``tls=False`` for http."""
    started: list[Receiver] = []
    sni: list[str] = []

    def _start(
        answer: Answer = NO_CONTENT, *, tls: bool = True, pki_: Pki | None = None
    ) -> Receiver:
        context = (pki_ or pki).server_context(sni) if tls else None
        receiver = Receiver(answer, context)
        receiver.sni = sni  # type: ignore[attr-defined]
        started.append(receiver)
        return receiver

    yield _start
    for receiver in started:
        receiver.stop()


@dataclass
class Resolver:
    """Stands in for DNS: made-up names answer with the given addresses; calls are counted."""

    answers: dict[str, list[list[str]]] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)

    def add(self, name: str, *answers: list[str]) -> None:
        """Each call for ``name`` takes the next answer (the last one repeats)."""
        self.answers[name] = list(answers)

    def __call__(self, host: Any, port: Any, *args: Any, **kwargs: Any) -> list[Any]:
        self.calls.append(str(host))
        queue = self.answers.get(str(host))
        if queue is None:
            try:
                ipaddress.ip_address(str(host).split("%")[0])
            except ValueError:
                raise socket.gaierror(socket.EAI_NONAME, "Name or service not known") from None
            return _real_getaddrinfo(host, port, *args, **kwargs)
        addresses = queue.pop(0) if len(queue) > 1 else queue[0]
        result = []
        for address in addresses:
            family = socket.AF_INET6 if ":" in address else socket.AF_INET
            sockaddr = (address, port, 0, 0) if family == socket.AF_INET6 else (address, port)
            result.append((family, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", sockaddr))
        return result


@pytest.fixture
def resolver(monkeypatch: pytest.MonkeyPatch) -> Resolver:
    fake = Resolver()
    fake.add("receiver.test", ["127.0.0.1"])
    fake.add("other.test", ["127.0.0.1"])
    monkeypatch.setattr(socket, "getaddrinfo", fake)
    return fake


@pytest.fixture
def no_connections(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fails the test if anything opens a connection (a refused address must stop before)."""

    def refuse(self: socket.socket, address: Any) -> None:
        raise AssertionError(f"connection attempted to {address}")

    monkeypatch.setattr(socket.socket, "connect", refuse)


@pytest.fixture
def policy(pki: Pki) -> OutboundPolicy:
    """Loopback allowed (the receivers run there) and the test CA trusted."""
    return OutboundPolicy(allow_private=True, ca_file=str(pki.ca_file), read_timeout=5.0)


def assert_no_secret(exc: BaseException) -> None:
    """Neither the query's secret nor the path shows in the failure (nor a chained cause)."""
    shown = [str(exc), repr(exc)]
    assert all(SECRET not in text and "/hook" not in text for text in shown), shown
    assert exc.__cause__ is None
    assert exc.__context__ is None or exc.__suppress_context__
    assert SECRET not in "".join(traceback.format_exception(exc))


# --- delivering ------------------------------------------------------------------------------


def test_it_posts_the_body_and_headers(start, resolver, policy):
    receiver = start(answer_with(202, {"X-Request-Id": "r-1"}, b'{"ok": true}'))
    body = b'{"alert": "device noncompliant"}'
    headers = {"Content-Type": "application/json", "X-TenantAtlas-Signature": "sha256=abc"}

    response = post(receiver.url(path=f"/hook?sig={SECRET}"), body, headers, policy)

    assert (response.status, response.ok, response.failure_code) == (202, True, None)
    assert response.headers["x-request-id"] == "r-1"
    assert response.body == b'{"ok": true}'
    [request] = receiver.received
    assert (request.method, request.target, request.body) == ("POST", f"/hook?sig={SECRET}", body)
    assert request.headers["content-type"] == "application/json"
    assert request.headers["x-tenantatlas-signature"] == "sha256=abc"
    assert request.headers["host"] == f"receiver.test:{receiver.port}"
    assert request.headers["user-agent"] == "TenantAtlas-Alerts"
    assert receiver.sni == ["receiver.test"]


def test_it_refuses_loopback_unless_private_networks_are_allowed(start, pki, resolver):
    receiver = start()
    strict = OutboundPolicy(ca_file=str(pki.ca_file))

    for url in (receiver.url("127.0.0.1"), receiver.url("localhost"), receiver.url()):
        with pytest.raises(OutboundRefused) as refused:
            post(url, b"{}", {}, strict)
        assert refused.value.code == "alert.address_refused"
        assert "loopback" in refused.value.message
    assert receiver.received == []

    allowed = OutboundPolicy(allow_private=True, ca_file=str(pki.ca_file))
    assert post(receiver.url("127.0.0.1"), b"{}", {}, allowed).status == 204
    assert len(receiver.received) == 1


@pytest.mark.usefixtures("no_connections")
def test_it_refuses_a_name_that_resolves_to_a_private_address(resolver):
    resolver.add("intranet.test", ["10.1.2.3"])
    resolver.add("mixed.test", ["8.8.8.8", "192.168.1.10"])

    for name in ("intranet.test", "mixed.test"):
        with pytest.raises(OutboundRefused) as refused:
            post(f"https://{name}/hook?sig={SECRET}", b"{}", {}, OutboundPolicy())
        assert refused.value.code == "alert.address_refused"
        assert f"{name} resolves to a private network address" in refused.value.message
        assert not refused.value.retryable
        assert_no_secret(refused.value)
    assert resolver.calls == ["intranet.test", "mixed.test"]


def test_it_connects_to_the_address_it_checked_without_resolving_again(start, resolver, policy):
    receiver = start()
    # A rebinding name: the first answer is checked; a second lookup would get another address
    # (one private networks allow too, so only the connection would tell them apart).
    resolver.add("receiver.test", ["127.0.0.1"], ["10.255.255.1"])

    response = post(receiver.url(), b"{}", {}, policy)

    assert response.status == 204
    assert resolver.calls == ["receiver.test"]
    assert len(receiver.received) == 1


def test_it_verifies_the_certificate_for_the_host_name(start, resolver, policy):
    receiver = start()
    resolver.add("elsewhere.test", ["127.0.0.1"])

    with pytest.raises(OutboundError) as failed:
        post(receiver.url("elsewhere.test", path=f"/hook?sig={SECRET}"), b"{}", {}, policy)

    assert failed.value.code == "alert.tls_failed"
    assert "elsewhere.test" in failed.value.message
    assert_no_secret(failed.value)
    assert receiver.received == []


def test_it_refuses_an_untrusted_certificate(start, resolver, policy, rogue_pki):
    rogue = start(pki_=rogue_pki)

    for trust in (policy, OutboundPolicy(allow_private=True)):  # the test CA; public CAs only
        with pytest.raises(OutboundError) as failed:
            post(rogue.url(path=f"/hook?sig={SECRET}"), b"{}", {}, trust)
        assert failed.value.code == "alert.tls_failed"
        assert "not trusted" in failed.value.message
        assert_no_secret(failed.value)
    assert rogue.received == []


def test_it_returns_a_redirect_without_following_it(start, resolver, policy):
    target = start()
    redirecting = start(answer_with(302, {"Location": target.url(path="/elsewhere")}))

    response = post(redirecting.url(), b"{}", {}, policy)

    assert (response.status, response.ok) == (302, False)
    assert response.failure_code == "alert.redirect_refused"
    assert response.headers["location"] == target.url(path="/elsewhere")
    assert len(redirecting.received) == 1
    assert target.received == []


def test_it_times_out_on_a_receiver_that_does_not_answer(start, resolver, pki):
    receiver = start(lambda handler: handler.server.stopping.wait(10))
    policy = OutboundPolicy(allow_private=True, ca_file=str(pki.ca_file), read_timeout=0.3)

    began = time.monotonic()
    with pytest.raises(OutboundError) as failed:
        post(receiver.url(path=f"/hook?sig={SECRET}"), b"{}", {}, policy)

    assert failed.value.code == "alert.timeout"
    assert failed.value.retryable
    assert time.monotonic() - began < 3
    assert_no_secret(failed.value)


def _drip(handler: _Handler) -> None:
    """Answers one header byte at a time, each well within the read timeout, for 10 s."""
    handler.wfile.write(b"HTTP/1.1 200 OK\r\nX-Slow: ")
    for _ in range(200):
        if handler.server.stopping.wait(0.05):
            return
        handler.wfile.write(b"a")
        handler.wfile.flush()


def test_it_bounds_the_whole_exchange_not_each_read(start, resolver, pki):
    receiver = start(_drip)
    policy = OutboundPolicy(allow_private=True, ca_file=str(pki.ca_file), read_timeout=0.5)

    began = time.monotonic()
    with pytest.raises(OutboundError) as failed:
        post(receiver.url(), b"{}", {}, policy)

    assert failed.value.code == "alert.timeout"
    assert time.monotonic() - began < 3


def test_it_fails_to_connect_to_a_closed_port(resolver, policy):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]

    with pytest.raises(OutboundError) as failed:
        post(f"https://receiver.test:{port}/hook?sig={SECRET}", b"{}", {}, policy)

    assert failed.value.code == "alert.connect_failed"
    assert f"https://receiver.test:{port}/…" in failed.value.message
    assert_no_secret(failed.value)


def test_it_fails_on_a_name_that_does_not_resolve(resolver, policy):
    with pytest.raises(OutboundError) as failed:
        post(f"https://unknown.test/hook?sig={SECRET}", b"{}", {}, policy)

    assert failed.value.code == "alert.connect_failed"
    assert "does not resolve" in failed.value.message
    assert_no_secret(failed.value)


def test_it_fails_on_an_answer_that_is_not_http(start, resolver, policy):
    receiver = start(lambda handler: handler.wfile.write(b"SSH-2.0-OpenSSH\r\n\r\n"))

    with pytest.raises(OutboundError) as failed:
        post(receiver.url(path=f"/hook?sig={SECRET}"), b"{}", {}, policy)

    assert failed.value.code == "alert.receiver_error"
    assert_no_secret(failed.value)


def test_it_sends_plain_http_only_to_allowed_hosts(start, resolver, policy):
    receiver = start(tls=False)

    with pytest.raises(OutboundRefused) as refused:
        post(receiver.url(path=f"/hook?sig={SECRET}"), b"{}", {}, policy)
    assert refused.value.code == "alert.url_refused"
    assert "TENANTATLAS_ALERTS_HTTP_HOSTS" in refused.value.message
    assert_no_secret(refused.value)
    assert receiver.received == []

    allowed = OutboundPolicy(allow_private=True, allowed_http_hosts=frozenset({"receiver.test"}))
    assert post(receiver.url(), b"{}", {}, allowed).status == 204
    assert [r.target for r in receiver.received] == ["/hook"]


def test_it_refuses_a_user_name_and_password_without_repeating_them(resolver, policy):
    with pytest.raises(OutboundRefused) as refused:
        post(f"https://alerts:{SECRET}@receiver.test/hook", b"{}", {}, policy)

    assert refused.value.code == "alert.url_refused"
    assert "user:pass@" in refused.value.message
    assert_no_secret(refused.value)
    assert resolver.calls == []


@pytest.mark.parametrize(
    ("value", "expected"),
    [("7", 7.0), ("2.5", 2.5), ("http-date", 120.0)],
)
def test_it_reads_retry_after(start, resolver, policy, value, expected):
    def throttled(handler: _Handler) -> None:
        wait = value
        if value == "http-date":
            when = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=120)
            wait = format_datetime(when, usegmt=True)
        handler.reply(429, {"Retry-After": wait})

    response = post(start(throttled).url(), b"{}", {}, policy)

    assert (response.status, response.failure_code) == (429, "alert.receiver_error")
    assert response.retry_after == pytest.approx(expected, abs=2.0)


def test_it_reads_at_most_max_response_bytes(start, resolver, pki):
    policy = OutboundPolicy(allow_private=True, ca_file=str(pki.ca_file), max_response_bytes=1000)

    big = post(start(answer_with(500, body=b"x" * 1_000_000)).url(), b"{}", {}, policy)
    exact = post(start(answer_with(200, body=b"y" * 1000)).url(), b"{}", {}, policy)

    assert (len(big.body), big.truncated, big.status) == (1000, True, 500)
    assert (exact.body, exact.truncated) == (b"y" * 1000, False)


def _endless(handler: _Handler) -> None:
    handler.wfile.write(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n")
    while not handler.server.stopping.is_set():
        try:
            handler.wfile.write(b"z" * 4096)
        except OSError:
            return


def test_it_stops_reading_an_endless_body_at_the_bound(start, resolver, pki):
    policy = OutboundPolicy(allow_private=True, ca_file=str(pki.ca_file), max_response_bytes=5000)

    response = post(start(_endless).url(), b"{}", {}, policy)

    assert (response.body, response.truncated) == (b"z" * 5000, True)


def test_it_refuses_headers_it_sets_itself_or_that_would_break_the_request(policy):
    for headers in ({"Host": "evil.test"}, {"X-A": "one\r\nX-B: two"}, {"Bad Name": "x"}):
        with pytest.raises(ValueError, match="header") as refused:
            post("https://receiver.test/hook", b"{}", headers, policy)
        assert "two" not in str(refused.value)


# --- the static check ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "normalised"),
    [
        ("HTTPS://Hooks.Example.COM:443/a/B?c=D", "https://hooks.example.com/a/B?c=D"),
        ("https://hooks.example.com", "https://hooks.example.com/"),
        ("  https://hooks.example.com./x  ", "https://hooks.example.com/x"),
        ("https://hooks.example.com:8443/x?", "https://hooks.example.com:8443/x"),
        ("https://bücher.example/x", "https://xn--bcher-kva.example/x"),
        ("https://[2606:4700:0::1111]:8443/x", "https://[2606:4700::1111]:8443/x"),
        ("https://52.96.0.1/webhookb2/x", "https://52.96.0.1/webhookb2/x"),
    ],
)
def test_check_url_normalises(url, normalised):
    assert check_url(url, OutboundPolicy()) == normalised


@pytest.mark.parametrize(
    ("url", "code", "says"),
    [
        ("ftp://hooks.example.com/x", "alert.url_refused", "https://"),
        ("hooks.example.com/x", "alert.url_refused", "https://"),
        ("//hooks.example.com/x", "alert.url_refused", "https://"),
        ("https:///x", "alert.url_refused", "https://"),
        ("https://:443/x", "alert.url_refused", "no host"),
        ("http://hooks.example.com/x", "alert.url_refused", "Use https://"),
        ("https://user@hooks.example.com/x", "alert.url_refused", "user:pass@"),
        ("https://hooks.example.com/x#frag", "alert.url_refused", "fragment"),
        ("https://hooks.example.com/x#", "alert.url_refused", "fragment"),
        ("https://hooks.example.com/a b", "alert.url_refused", "spaces"),
        ("https://hooks.example.com\\@evil.test/", "alert.url_refused", "backslash"),
        ("https://hooks.example.com/\r\nX: y", "alert.url_refused", "control"),
        ("https://hooks.example.com/ä", "alert.url_refused", "Percent-encode"),
        ("https://hooks.example.com:0/", "alert.url_refused", "port"),
        ("https://hooks.example.com:99999/", "alert.url_refused", "not valid"),
        ("https://[::1/", "alert.url_refused", "not valid"),
        ("https://-bad-.example.com/", "alert.url_refused", "domain name"),
        ("https://under.123/", "alert.url_refused", "domain name"),
        ("https://127.1/", "alert.url_refused", "four decimal numbers"),
        ("https://2130706433/", "alert.url_refused", "four decimal numbers"),
        ("https://0x7f.0.0.1/", "alert.url_refused", "four decimal numbers"),
        ("https://[fe80::1%25eth0]/", "alert.url_refused", "zone"),
        ("https://" + "a" * MAX_URL_LENGTH + ".example/", "alert.url_refused", "longer than"),
        ("https://localhost/", "alert.address_refused", "loopback"),
        ("https://a.localhost/", "alert.address_refused", "loopback"),
        ("https://127.0.0.1/", "alert.address_refused", "loopback"),
        ("https://[::1]/", "alert.address_refused", "loopback"),
        ("https://0.0.0.0/", "alert.address_refused", "unspecified"),
        ("https://10.0.0.1/", "alert.address_refused", "private network"),
        ("https://[::ffff:10.0.0.1]/", "alert.address_refused", "private network"),
        ("https://[::ffff:7f00:1]/", "alert.address_refused", "loopback"),
        ("https://[64:ff9b::a9fe:a9fe]/", "alert.address_refused", "link-local"),
        ("https://[2002:c0a8:101::1]/", "alert.address_refused", "private network"),
        ("https://169.254.169.254/", "alert.address_refused", "link-local"),
        ("https://100.64.0.1/", "alert.address_refused", "carrier-grade NAT"),
        ("https://[fd00::1]/", "alert.address_refused", "unique-local"),
        ("https://224.0.0.1/", "alert.address_refused", "multicast"),
        ("https://240.0.0.1/", "alert.address_refused", "reserved"),
        ("https://192.0.2.10/", "alert.address_refused", "private network"),
    ],
)
def test_check_url_refuses_with_a_message_saying_what_to_change(url, code, says):
    with pytest.raises(OutboundRefused) as refused:
        check_url(url, OutboundPolicy())

    assert refused.value.code == code
    assert says in refused.value.message


def test_allowing_private_networks_keeps_link_local_multicast_and_unspecified_refused():
    everything = OutboundPolicy(allow_private=True)
    for url in ("https://10.0.0.1/", "https://[fd00::1]/", "https://100.64.0.1/"):
        assert check_url(url, everything) == url
    for url in ("https://169.254.169.254/", "https://0.0.0.0/", "https://224.0.0.1/"):
        with pytest.raises(OutboundRefused):
            check_url(url, everything)


def test_allowed_networks_allow_exactly_those_addresses():
    listed = OutboundPolicy(
        allowed_private_networks=frozenset(
            {ipaddress.ip_network("10.20.0.0/16"), ipaddress.ip_network("169.254.10.0/24")}
        )
    )
    for url in ("https://10.20.1.1/", "https://[::ffff:10.20.1.1]/", "https://169.254.10.5/"):
        assert check_url(url, listed) == url
    for url in ("https://10.21.0.1/", "https://127.0.0.1/", "https://169.254.169.254/"):
        with pytest.raises(OutboundRefused):
            check_url(url, listed)


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (f"https://prod-12.westeurope.logic.azure.com:443/workflows/x?sig={SECRET}",
         "https://prod-12.westeurope.logic.azure.com:443/…"),
        (f"https://user:{SECRET}@Hooks.Example.com/x", "https://hooks.example.com/…"),
        ("https://[2001:db8::1]:8443/x", "https://[2001:db8::1]:8443/…"),
        ("HTTP://hooks.example.com", "http://hooks.example.com/…"),
        ("https://hooks.example.com:99999/x", "[invalid URL]"),
        ("not a url", "[invalid URL]"),
    ],
)  # fmt: skip
def test_redact_url_keeps_only_scheme_host_and_port(url, shown):
    assert redact_url(url) == shown


# --- settings --------------------------------------------------------------------------------


def test_policy_from_settings(settings):
    settings.ALERTS_ALLOW_PRIVATE_NETWORKS = True
    settings.ALERTS_PRIVATE_NETWORKS = ["10.20.0.0/16", "fd00:1::/64"]
    settings.ALERTS_HTTP_HOSTS = ["Receiver.Corp.Example", "[fd00:1::5]"]
    settings.ALERTS_CA_FILE = "/etc/tenantatlas/alerts-ca.pem"
    settings.ALERTS_CONNECT_TIMEOUT = 2.5
    settings.ALERTS_READ_TIMEOUT = 7.0
    settings.ALERTS_MAX_RESPONSE_BYTES = 2048

    assert OutboundPolicy.from_settings() == OutboundPolicy(
        allow_private=True,
        allowed_private_networks=frozenset(
            {ipaddress.ip_network("10.20.0.0/16"), ipaddress.ip_network("fd00:1::/64")}
        ),
        allowed_http_hosts=frozenset({"receiver.corp.example", "fd00:1::5"}),
        ca_file="/etc/tenantatlas/alerts-ca.pem",
        connect_timeout=2.5,
        read_timeout=7.0,
        max_response_bytes=2048,
    )


def test_policy_from_settings_refuses_a_network_with_host_bits(settings):
    settings.ALERTS_PRIVATE_NETWORKS = ["10.20.1.1/16"]

    with pytest.raises(ImproperlyConfigured, match="TENANTATLAS_ALERTS_PRIVATE_NETWORKS"):
        OutboundPolicy.from_settings()


def test_policy_defaults_refuse_private_networks_and_plain_http(settings):
    for name in ("ALERTS_ALLOW_PRIVATE_NETWORKS", "ALERTS_PRIVATE_NETWORKS", "ALERTS_HTTP_HOSTS"):
        if hasattr(settings, name):
            delattr(settings, name)

    policy = OutboundPolicy.from_settings()

    assert (policy.allow_private, policy.allowed_private_networks) == (False, frozenset())
    assert policy.allowed_http_hosts == frozenset()


# --- address classification, over generated addresses ---------------------------------------

# Written from the IANA special-purpose registries, independently of the code under test.
NON_PUBLIC = [
    "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16",
    "172.16.0.0/12", "192.0.0.0/29", "192.0.2.0/24", "192.168.0.0/16", "198.18.0.0/15",
    "198.51.100.0/24", "203.0.113.0/24", "224.0.0.0/4", "240.0.0.0/4",
    "::/128", "::1/128", "100::/64", "2001:2::/48", "2001:db8::/32", "fc00::/7", "fe80::/10",
    "fec0::/10", "ff00::/8", "::ffff:10.0.0.0/104", "::ffff:127.0.0.0/104",
    "64:ff9b::a00:0/104", "64:ff9b::7f00:0/104", "2002:a00::/24", "2002:a9fe::/32",
]  # fmt: skip
classification = hypothesis_settings(
    max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None
)


@classification
@given(st.sampled_from(NON_PUBLIC).flatmap(lambda net: st.ip_addresses(network=net)))
def test_every_non_public_address_is_refused(address):
    assert address_kind(address) is not None
    literal = f"[{address}]" if address.version == 6 else str(address)
    with pytest.raises(OutboundRefused) as refused:
        check_url(f"https://{literal}/x", OutboundPolicy())
    assert refused.value.code == "alert.address_refused"


@classification
@given(st.ip_addresses())
def test_an_accepted_address_is_global_unicast(address):
    literal = f"[{address}]" if address.version == 6 else str(address)
    try:
        check_url(f"https://{literal}/x", OutboundPolicy())
    except OutboundRefused:
        assert address_kind(address) is not None
    else:
        assert address.is_global
        assert not address.is_multicast


@classification
@given(st.ip_addresses(v=4))
def test_ipv6_forms_of_an_ipv4_address_are_judged_as_that_address(address):
    mapped = ipaddress.IPv6Address(f"::ffff:{address}")
    nat64 = ipaddress.IPv6Address(f"64:ff9b::{address}")
    sixtofour = ipaddress.IPv6Address((0x2002 << 112) | (int(address) << 80) | 1)

    assert address_kind(mapped) == address_kind(nat64) == address_kind(address)
    assert address_kind(sixtofour) == (address_kind(address) or "non-public")


def test_it_loads_the_trusted_cas_once_not_for_every_delivery(start, resolver, policy, monkeypatch):
    # Loading the system's and certifi's CAs costs about 0.1 s of CPU: done per delivery, it
    # was most of a webhook delivery's cost and capped a worker at a few deliveries a second.
    loads = []
    real = ssl.create_default_context
    monkeypatch.setattr(
        ssl, "create_default_context", lambda *a, **kw: loads.append(1) or real(*a, **kw)
    )
    receiver = start()
    for _ in range(3):
        assert post(receiver.url(), b"{}", {}, policy).status == 204
    assert len(receiver.received) == 3
    assert len(loads) <= 1  # none when an earlier test of this process loaded them already
