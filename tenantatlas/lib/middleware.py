"""Request id and client address: one per request, echoed in the response, kept for audit.

The audit trail records who acted and from where, so neither may be chosen by the client. An
incoming ``X-Request-Id`` is used only when it comes through the trusted proxies
(``TENANTATLAS_PROXY_HOPS`` > 0; the proxy sets it, see docs/deploy.md) and only in a safe
format (8–64 of ``A-Z a-z 0-9 . _ -``). Otherwise the request gets an id of our own; a
well-formed id a client sent directly is echoed back as ``X-Client-Request-Id`` for its logs
and written nowhere else.
"""

from __future__ import annotations

import ipaddress
import re
import uuid
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from tenantatlas.lib import request_context

_SAFE = re.compile(r"[A-Za-z0-9._-]{8,64}", re.ASCII)  # fits AuditEvent.request_id (64)


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


class RequestIdMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
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
        return response
