"""Every API error answers ``{"error": {"code", "message"}}``; nothing else leaves the API."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any

from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.http import Http404, HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError

from tenantatlas.api.schemas import ErrorOut, RunOut
from tenantatlas.lib import body_limits
from tenantatlas.lib.errors import Refused
from tenantatlas.lib.sanitize import sanitize
from tenantatlas.operations.models import OperationRun
from tenantatlas.operations.services import ScopeBusy

logger = logging.getLogger("tenantatlas.api")

UNAUTHENTICATED = (
    "Missing, malformed, unknown, expired or revoked API token: "
    "send a valid one in the Authorization header."
)

# The errors every operation may answer (documented in the OpenAPI responses).
COMMON_ERRORS: dict[int, Any] = {400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut}
CHANGE_ERRORS: dict[int, Any] = {**COMMON_ERRORS, 409: ErrorOut, 413: ErrorOut}


def error_body(code: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"error": {"code": code, "message": sanitize(message, limit=500), **extra}}


def _respond(
    api: NinjaAPI, request: HttpRequest, status: int, body: dict[str, Any]
) -> HttpResponse:
    return api.create_response(request, body, status=status)


def _where(loc: Any) -> str:
    parts = [
        str(p) for p in loc if p not in ("body", "query", "path", "payload", "filters", "page")
    ]
    return ".".join(parts)


def _validation(api: NinjaAPI, request: HttpRequest, exc: ValidationError) -> HttpResponse:
    problems = []
    for error in exc.errors[:5]:
        where = _where(error.get("loc", ()))
        problems.append(
            f"{where}: {error.get('msg', 'invalid')}" if where else str(error.get("msg"))
        )
    first = _where(exc.errors[0].get("loc", ())) if exc.errors else ""
    return _respond(
        api,
        request,
        400,
        error_body("invalid", "; ".join(problems) or "Invalid request.", field=first or None),
    )


def _unauthenticated(api: NinjaAPI, request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    response = _respond(api, request, 401, error_body("unauthenticated", UNAUTHENTICATED))
    response["WWW-Authenticate"] = 'Bearer realm="api"'
    return response


def _http_error(api: NinjaAPI, request: HttpRequest, exc: HttpError) -> HttpResponse:
    code = {400: "invalid", 403: "forbidden", 404: "not_found", 429: "throttled"}.get(
        exc.status_code, "error"
    )
    return _respond(api, request, exc.status_code, error_body(code, str(exc)))


def _forbidden(api: NinjaAPI, request: HttpRequest, exc: PermissionDenied) -> HttpResponse:
    message = str(exc) or "This token may not do that."
    return _respond(api, request, 403, error_body("forbidden", message))


def _not_found(api: NinjaAPI, request: HttpRequest, exc: Http404) -> HttpResponse:
    return _respond(api, request, 404, error_body("not_found", "Not found."))


def _refused(api: NinjaAPI, request: HttpRequest, exc: Refused) -> HttpResponse:
    field = exc.details.get("field")
    extra: dict[str, Any] = {"field": field} if field else {}
    if isinstance(exc, ScopeBusy):
        active = OperationRun.objects.select_related("connection").get(pk=exc.active_run.pk)
        extra["active_run"] = RunOut.from_orm(active).model_dump(mode="json")
    return _respond(api, request, exc.status, error_body(exc.code, exc.message, **extra))


def _too_large(api: NinjaAPI, request: HttpRequest, exc: RequestDataTooBig) -> HttpResponse:
    # Normally answered by BodyLimitMiddleware before the API runs; this keeps it a 413.
    body = error_body(body_limits.CODE, body_limits.api_message())
    return _respond(api, request, body_limits.STATUS, body)


def _unexpected(api: NinjaAPI, request: HttpRequest, exc: Exception) -> HttpResponse:
    request_id = getattr(request, "request_id", "")
    logger.exception("API error (request %s)", request_id)
    message = f"Something went wrong on our side (request id {request_id})."
    return _respond(api, request, 500, error_body("internal.error", message))


# django-ninja answers with the handler of the nearest class in the exception's MRO.
HANDLERS: list[tuple[type[Exception], Callable[..., HttpResponse]]] = [
    (ValidationError, _validation),
    (AuthenticationError, _unauthenticated),
    (HttpError, _http_error),
    (PermissionDenied, _forbidden),
    (Http404, _not_found),
    (Refused, _refused),
    (RequestDataTooBig, _too_large),
    (Exception, _unexpected),
]


def install_error_handlers(api: NinjaAPI) -> None:
    for exc_class, handler in HANDLERS:
        api.add_exception_handler(exc_class, functools.partial(handler, api))
