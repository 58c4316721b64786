"""The JSON API under /api/v1/: bearer tokens, one workspace per token, OpenAPI 3.1."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, JsonResponse
from django.urls import URLPattern, URLResolver, re_path
from django.views.decorators.csrf import csrf_exempt
from ninja import NinjaAPI

from tenantatlas.api.auth import ApiTokenAuth
from tenantatlas.api.errors import error_body, install_error_handlers
from tenantatlas.api.routers import (
    alerts,
    audit,
    bulk_runs,
    changes,
    connections,
    inventory,
    me,
    notifications,
    onboarding,
    runs,
)

DESCRIPTION = """\
Automate TenantAtlas. Authenticate with an API token created on the workspace's *API tokens*
page: `Authorization: Bearer ta_<prefix>_<secret>`. A token acts as its owner in one workspace,
with the capabilities chosen at creation that the owner's role still grants.

Errors always answer `{"error": {"code": "...", "message": "..."}}`. Secrets are write-only:
accepted in requests, never returned. Lists are cursor-paginated: pass `next_cursor` back as
`cursor` until it is null.
"""


@csrf_exempt
def unknown_endpoint(request: HttpRequest, *args: Any, **kwargs: Any) -> JsonResponse:
    """Any other path under /api/v1/: the error envelope, not the HTML 404 page."""
    return JsonResponse(
        error_body("not_found", "No such API endpoint: see /api/v1/docs."), status=404
    )


def _method_not_allowed_as_envelope(view: Callable[..., HttpResponse]) -> Callable[..., Any]:
    """django-ninja answers a wrong method with a bare text 405; answer the envelope instead."""

    @functools.wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        response = view(request, *args, **kwargs)
        if not isinstance(response, HttpResponseNotAllowed):
            return response
        allowed = response["Allow"]
        message = f"{request.method} is not allowed here: use {allowed}."
        enveloped = JsonResponse(error_body("method_not_allowed", message), status=405)
        enveloped["Allow"] = allowed
        return enveloped

    return wrapped


class TenantAtlasApi(NinjaAPI):
    def _get_urls(self) -> list[URLPattern | URLResolver]:
        urls: list[URLPattern | URLResolver] = [
            URLPattern(
                p.pattern, _method_not_allowed_as_envelope(p.callback), p.default_args, p.name
            )
            if isinstance(p, URLPattern)
            else p
            for p in super()._get_urls()
        ]
        return [*urls, re_path(r"^.*$", unknown_endpoint, name="unknown")]


api = TenantAtlasApi(
    title="TenantAtlas API",
    version="1",
    description=DESCRIPTION,
    urls_namespace="api",
    auth=ApiTokenAuth(),
    docs_url="/docs",
)
install_error_handlers(api)
# bulk_runs before runs: the path /runs/{run_id} would also match /runs/bulk.
for module in (
    me,
    connections,
    bulk_runs,
    runs,
    inventory,
    changes,
    notifications,
    alerts,
    onboarding,
    audit,
):
    api.add_router("", module.router)
