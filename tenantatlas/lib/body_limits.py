"""A request body over ``DATA_UPLOAD_MAX_MEMORY_SIZE`` answers 413, before anything reads it.

Django raises ``RequestDataTooBig`` wherever the body is first read (the CSRF check, a form, the
API's JSON parser) and turns it into a bare 400, or the API's catch-all into a 500. Reading it
here, once and first, makes the answer the same everywhere: the API's error envelope under
/api/, a page in the normal layout elsewhere. Views read the body Django has kept.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

# Django's own logger for this refusal, so log filters written for it keep working.
logger = logging.getLogger("django.security.RequestDataTooBig")

API_PREFIX = "/api/"
STATUS = 413
CODE = "request_too_large"


def _limit() -> str:
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    return f"{limit} bytes ({limit / 1024 / 1024:.1f} MB)"


def api_message() -> str:
    return f"This request is too large: the limit is {_limit()} of JSON. Nothing was changed."


def _read_body(request: HttpRequest) -> None:
    """Read the body the way the view will, so the size checks run now."""
    multipart = request.content_type == "multipart/form-data"
    if multipart and request.method == "POST" and not request.path.startswith(API_PREFIX):
        request.POST  # noqa: B018 - streams files to disk; only fields count against the limit
    else:
        request.body  # noqa: B018 - refused from Content-Length before anything is read


def too_large_response(request: HttpRequest) -> HttpResponse:
    if request.path.startswith(API_PREFIX):
        body = {"error": {"code": CODE, "message": api_message()}}
        return JsonResponse(body, status=STATUS)
    context = {"limit": _limit()}
    return render(request, "request_too_large.html", context, status=STATUS)


class BodyLimitMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            _read_body(request)
        except RequestDataTooBig:
            logger.warning("Refused a %s %s body over the size limit", request.method, request.path)
            return too_large_response(request)
        return self.get_response(request)
