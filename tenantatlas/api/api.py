"""The JSON API under /api/v1/: bearer tokens, one workspace per token, OpenAPI 3.1."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, JsonResponse
from django.urls import URLPattern, URLResolver, re_path
from django.views.decorators.csrf import csrf_exempt
from ninja import NinjaAPI

from tenantatlas.api.auth import ApiTokenAuth
from tenantatlas.api.errors import error_body, install_error_handlers
from tenantatlas.api.routers import audit, connections, inventory, me, notifications, runs

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


class TenantAtlasApi(NinjaAPI):
    def _get_urls(self) -> list[URLPattern | URLResolver]:
        return [*super()._get_urls(), re_path(r"^.*$", unknown_endpoint, name="unknown")]


api = TenantAtlasApi(
    title="TenantAtlas API",
    version="1",
    description=DESCRIPTION,
    urls_namespace="api",
    auth=ApiTokenAuth(),
    docs_url="/docs",
)
install_error_handlers(api)
for module in (me, connections, runs, inventory, notifications, audit):
    api.add_router("", module.router)
