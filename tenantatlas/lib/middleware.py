"""Request id and client address: one per request, echoed in the response, kept for audit;
and the access log: one line per request, with its id and how long it took.

The audit trail records who acted and from where, so neither may be chosen by the client. An
incoming ``X-Request-Id`` is used only when it comes through the trusted proxies
(``TENANTATLAS_PROXY_HOPS`` > 0; the proxy sets it, see docs/deploy.md) and only in a safe
format (8–64 of ``A-Z a-z 0-9 . _ -``). Otherwise the request gets an id of our own; a
well-formed id a client sent directly is echoed back as ``X-Client-Request-Id`` for its logs
and written nowhere else.

The access line (logger ``tenantatlas.access``) goes through the sanitizing handler like every
record. It names the path without its query string, and a secret that travels in the path
itself (an invitation's token) is replaced, so the log holds no link that works. The duration is
the time until the response was ready (a streamed export goes on sending after it).
"""

from __future__ import annotations

import ipaddress
import logging
import re
import time
import uuid
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from tenantatlas.lib import request_context

_SAFE = re.compile(r"[A-Za-z0-9._-]{8,64}", re.ASCII)  # fits AuditEvent.request_id (64)
# URL parameters whose values are secrets (members' invitation links carry a token).
_SECRET_PARAMETER = re.compile(r"(?i)token|secret|key|password")
_PATH_LIMIT = 300
access_log = logging.getLogger("tenantatlas.access")


def client_ip(request: HttpRequest) -> str | None:
    """The client's address; behind N trusted proxies, the Nth address from the right of
    X-Forwarded-For (never the left-most, which the client can forge). None when that is not an
    IP address (the audit log and the sign-in lockout store it in an address column)."""
    hops = settings.PROXY_HOPS
    forwarded = [part.strip() for part in request.headers.get("X-Forwarded-For", "").split(",")]
    forwarded = [part for part in forwarded if part]
    if hops and len(forwarded) >= hops:
        address = forwarded[-hops]
    else:
        address = request.META.get("REMOTE_ADDR") or ""
    try:
        return str(ipaddress.ip_address(address))
    except ValueError:
        return None


def logged_path(request: HttpRequest) -> str:
    """The path as the access log shows it: no query string, secret path parameters replaced."""
    path = request.path
    match = getattr(request, "resolver_match", None)
    for name, value in match.kwargs.items() if match else ():
        if _SECRET_PARAMETER.search(name) and isinstance(value, str) and value:
            path = path.replace(value, "[redacted]")
    return path[:_PATH_LIMIT]


def log_access(request: HttpRequest, response: HttpResponse, request_id: str, ms: float) -> None:
    path, ip = logged_path(request), client_ip(request)
    access_log.info(
        "%s %s %s %.1f ms request_id=%s ip=%s",
        request.method,
        path,
        response.status_code,
        ms,
        request_id,
        ip or "-",
        extra={
            "request_id": request_id,
            "method": request.method,
            "path": path,
            "status": response.status_code,
            "duration_ms": round(ms, 1),
            "client_ip": ip,
        },
    )


class RequestIdMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        incoming = request.headers.get("X-Request-Id", "")
        well_formed = _SAFE.fullmatch(incoming) is not None
        trusted = well_formed and settings.PROXY_HOPS > 0
        request_id = incoming if trusted else uuid.uuid4().hex
        request.request_id = request_id  # type: ignore[attr-defined]
        via = "api" if request.path.startswith("/api/") else "web"
        context = request_context.RequestContext(
            request_id=request_id, ip=client_ip(request), via=via
        )
        with request_context.bind(context):
            response = self.get_response(request)
        response["X-Request-Id"] = request_id
        if well_formed and not trusted:
            response["X-Client-Request-Id"] = incoming
        log_access(request, response, request_id, (time.perf_counter() - started) * 1000)
        return response
