"""The HTTPS transport: one TLS listener, the request handler and the request log's record.

TLS handshakes run in the per-connection threads (not in ``accept``), so one slow client
cannot stall others. The handler reads a request, asks its ``RequestSink`` (the server) to route
it, records it and writes the reply; it knows no route itself.
"""

from __future__ import annotations

import datetime as dt
import http.server
import logging
import re
import ssl
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

from tenantatlas.simulator.errors import Reply

logger = logging.getLogger(__name__)

RequestKind = Literal["discovery", "token", "browser", "graph", "teams", "control", "other"]

_SIGNATURE = re.compile(r"([?&])sig=[^&\s\"]*")


@dataclass(frozen=True)
class RequestRecord:
    """One request as the simulator saw it (no bodies: they may hold secrets)."""

    kind: RequestKind
    method: str
    path: str
    query: dict[str, str]
    tenant_id: str | None
    client_id: str | None
    status: int
    at: dt.datetime


class RequestSink(Protocol):
    """What the handler needs of the server: a route for each request, and its log."""

    def route(
        self, method: str, path: str, query: dict[str, str], headers: dict[str, str], body: bytes
    ) -> tuple[Reply, RequestKind, str | None, str | None]: ...

    def record(self, entry: RequestRecord) -> None: ...


class TLSServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 64
    simulator: RequestSink

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients that distrust our CA or hang up mid-request are routine in tests.
        logger.debug("simulator connection from %s failed", client_address, exc_info=True)


def listen(host: str, port: int, cert: Path, key: Path, sink: RequestSink) -> TLSServer:
    """A bound HTTPS listener serving ``sink`` (call ``serve_forever`` to start answering)."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    httpd = TLSServer((host, port), Handler, bind_and_activate=True)
    httpd.socket = context.wrap_socket(
        httpd.socket, server_side=True, do_handshake_on_connect=False
    )
    httpd.simulator = sink
    return httpd


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes; with Nagle on, the body would wait for a
    # delayed ACK (about 40 ms per response).
    disable_nagle_algorithm = True
    server: TLSServer

    def version_string(self) -> str:
        return "Microsoft-IIS/10.0"

    def log_message(self, format: str, *args: Any) -> None:
        # A Teams trigger URL's signature is its secret: never in a log line either.
        logger.debug("simulator %s", _SIGNATURE.sub(r"\1sig=[redacted]", format % args))

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_PUT(self) -> None:
        self._dispatch()

    def do_PATCH(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    def _dispatch(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        split = urllib.parse.urlsplit(self.path)
        query = dict(urllib.parse.parse_qsl(split.query, keep_blank_values=True))
        headers = {key.lower(): value for key, value in self.headers.items()}
        try:
            reply, kind, tenant_id, client_id = self.server.simulator.route(
                self.command, split.path, query, headers, body
            )
        except Exception:
            # A simulator bug must surface as a 500 the test sees, not a dropped connection.
            logger.exception("simulator failed on %s %s", self.command, split.path)
            reply = Reply.json(
                500, {"error": {"code": "simulatorError", "message": "Simulator bug"}}
            )
            kind, tenant_id, client_id = "other", None, None
        # Logged before replying: a client that has its answer can rely on the log.
        self.server.simulator.record(
            RequestRecord(
                kind=kind,
                method=self.command,
                path=split.path,
                query=query,
                tenant_id=tenant_id,
                client_id=client_id,
                status=reply.status,
                at=dt.datetime.now(dt.UTC),
            )
        )
        self._reply(reply)

    def _reply(self, reply: Reply) -> None:
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(reply.body)))
        for key, value in reply.headers.items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(reply.body)
