"""Real receivers for alert tests: an SMTP server (aiosmtpd) that keeps every message.

Started on 127.0.0.1 at a free port; nothing leaves the machine.
"""

from __future__ import annotations

import email
import email.policy
import socket
import threading
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Mailbox:
    """What the SMTP server received: one EmailMessage per DATA, with its envelope."""

    messages: list[EmailMessage] = field(default_factory=list)
    envelopes: list[tuple[str, list[str]]] = field(default_factory=list)
    refuse_with: str | None = None  # e.g. "451 4.3.0 Try again later" for the next DATA
    refusals: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.lock:
            if self.refuse_with and self.refusals > 0:
                self.refusals -= 1
                return self.refuse_with
            message = email.message_from_bytes(envelope.content, policy=email.policy.default)
            self.messages.append(message)  # type: ignore[arg-type]
            self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 Message accepted for delivery"

    def refuse(self, reply: str, times: int = 1) -> None:
        with self.lock:
            self.refuse_with, self.refusals = reply, times


class SmtpServer:
    def __init__(self) -> None:
        self.mailbox = Mailbox()
        self.port = free_port()
        self._controller = Controller(self.mailbox, hostname="127.0.0.1", port=self.port)

    def __enter__(self) -> SmtpServer:
        self._controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._controller.stop()

    def configure(self, settings: Any) -> None:
        """Point Django's e-mail at this server (plain SMTP: it is on the loopback)."""
        settings.MAILERS = {
            "default": {
                "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
                "OPTIONS": {"host": "127.0.0.1", "port": self.port, "timeout": 5},
            }
        }


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    signature_ok: bool | None  # None: the receiver has no secret

    def json(self) -> Any:
        import json

        return json.loads(self.body)


class WebhookReceiver:
    """An HTTPS webhook receiver on 127.0.0.1 (certificate from a private test CA) that checks
    each request's signature the way docs/alerts.md tells receivers to, and records it.

    ``answer(status, times, headers=..., delay=...)`` scripts the next answers (e.g. 429 with
    Retry-After); afterwards it answers 204. ``by_delivery()`` dedupes on the delivery id.
    """

    def __init__(self, state_dir: Any, secret: str = "") -> None:
        import http.server
        import ssl

        from tenantatlas.simulator.ca import ensure_keys

        keys = ensure_keys(state_dir)
        self.ca_file = str(keys.ca_bundle)
        self.secret = secret
        self.received: list[Received] = []
        self._script: list[tuple[int, dict[str, str], float]] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                return

            def do_POST(self) -> None:
                import time

                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                status, headers, delay = receiver._next()
                if delay:
                    time.sleep(delay)
                receiver._record(self.path, dict(self.headers.items()), body)
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(keys.server_cert, keys.server_key)
        self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        self.port = int(self._server.server_address[1])
        self.url = f"https://127.0.0.1:{self.port}/hooks/tenantatlas"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> WebhookReceiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def answer(
        self, status: int, times: int = 1, headers: dict[str, str] | None = None, delay: float = 0
    ) -> None:
        with self._lock:
            self._script.extend([(status, headers or {}, delay)] * times)

    def _next(self) -> tuple[int, dict[str, str], float]:
        with self._lock:
            return self._script.pop(0) if self._script else (204, {}, 0.0)

    def _record(self, path: str, headers: dict[str, str], body: bytes) -> None:
        ok = None
        if self.secret:
            ok = verify_signature(self.secret, headers, body)
        with self._lock:
            self.received.append(Received(path, headers, body, ok))

    def by_delivery(self) -> dict[str, list[Received]]:
        seen: dict[str, list[Received]] = {}
        for request in list(self.received):
            seen.setdefault(request.headers.get("X-TenantAtlas-Delivery", ""), []).append(request)
        return seen

    def configure(self, settings: Any) -> None:
        """Trust this receiver's CA and allow its loopback address."""
        settings.ALERTS_CA_FILE = self.ca_file
        settings.ALERTS_ALLOW_PRIVATE_NETWORKS = True


def verify_signature(
    secret: str, headers: dict[str, str], body: bytes, tolerance: int = 300
) -> bool:
    """The receiver's side of docs/alerts.md: t=<unix>,v1=<hex HMAC-SHA256 of "<t>." + body>,
    compared in constant time, and refused when the timestamp is too far off."""
    import hashlib
    import hmac
    import time

    lower = {k.lower(): v for k, v in headers.items()}
    parts = dict(
        p.split("=", 1) for p in lower.get("x-tenantatlas-signature", "").split(",") if "=" in p
    )
    try:
        timestamp = int(parts.get("t", ""))
    except ValueError:
        return False
    if abs(time.time() - timestamp) > tolerance:
        return False
    expected = hmac.new(
        secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256
    ).hexdigest()
    return hmac.compare_digest(expected, parts.get("v1", ""))


@dataclass(frozen=True)
class Arrival:
    """A request as it reached an ObservedWebhookReceiver: its delivery key, the wall-clock
    moment its headers were read (``time.time()``) and the sender's port."""

    key: str
    at: float
    client_port: int


class ObservedWebhookReceiver(WebhookReceiver):
    """A WebhookReceiver that also notes when each request arrived and from which port, and
    which requests it holds (read, not yet answered); ``delay`` holds every answer that long
    unless the script says otherwise. For the kill test (which sender had a request in flight)
    and the latency benchmark (arrival times).

    A sender that goes away before its answer (a killed worker) is no error here: the request
    was received and is recorded all the same, as a real receiver would have processed it.
    """

    def __init__(self, state_dir: Any, secret: str = "", *, delay: float = 0.0) -> None:
        super().__init__(state_dir, secret)
        self.delay = delay
        self.arrivals: list[Arrival] = []
        self._holding: dict[int, str] = {}
        receiver = self
        base = self._server.RequestHandlerClass

        class Observed(base):  # type: ignore[valid-type,misc]
            def do_POST(self) -> None:
                port = int(self.client_address[1])
                receiver._arrived(port, self.headers.get("X-TenantAtlas-Delivery", ""))
                try:
                    super().do_POST()
                finally:
                    receiver._answered(port)

        self._server.RequestHandlerClass = Observed
        self._server.handle_error = lambda request, client_address: None  # type: ignore[method-assign]

    def _next(self) -> tuple[int, dict[str, str], float]:
        status, headers, delay = super()._next()
        return status, headers, delay or self.delay

    def _arrived(self, port: int, key: str) -> None:
        import time

        with self._lock:
            self.arrivals.append(Arrival(key, time.time(), port))
            self._holding[port] = key

    def _answered(self, port: int) -> None:
        with self._lock:
            self._holding.pop(port, None)

    def holding(self, ports: set[int]) -> list[str]:
        """Delivery keys of the requests from these client ports that are read, not answered."""
        with self._lock:
            return [key for port, key in self._holding.items() if port in ports]

    def first_arrivals(self) -> dict[str, float]:
        """Each delivery key's first arrival (``time.time()``)."""
        first: dict[str, float] = {}
        with self._lock:
            for arrival in self.arrivals:
                first.setdefault(arrival.key, arrival.at)
        return first


def process_with_tcp_port(port: int, pids: list[int]) -> int | None:
    """Which of these processes has a TCP socket on this local port (Linux /proc): the
    sender of a request, from the request's client port."""
    import contextlib
    import os
    from pathlib import Path

    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                if len(fields) > 9 and int(fields[1].rsplit(":", 1)[1], 16) == port:
                    inodes.add(f"socket:[{fields[9]}]")
    for pid in pids if inodes else []:
        with contextlib.suppress(OSError):
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                with contextlib.suppress(OSError):
                    if os.readlink(fd) in inodes:
                        return pid
    return None
