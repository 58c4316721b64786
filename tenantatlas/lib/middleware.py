"""Request id and client address: one per request, echoed in the response, kept for audit."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from tenantatlas.lib import request_context

_SAFE = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


def current_request_id() -> str | None:
    return request_context.current().request_id


class RequestIdMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        incoming = request.headers.get("X-Request-Id", "")
        request_id = incoming if _SAFE.match(incoming) else uuid.uuid4().hex
        request.request_id = request_id  # type: ignore[attr-defined]
        via = "api" if request.path.startswith("/api/") else "web"
        context = request_context.RequestContext(
            request_id=request_id, ip=request.META.get("REMOTE_ADDR"), via=via
        )
        with request_context.bind(context):
            response = self.get_response(request)
        response["X-Request-Id"] = request_id
        return response
