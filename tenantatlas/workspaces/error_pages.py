"""The 403, 404 and 500 pages: inside a workspace they keep its navigation, for its members only.

``workspace_view`` exposes the workspace on the request only once the member passed the
capability check, and an unknown URL reaches no view at all; so the handlers look the workspace
up again from the path, through the access module. A person who is not a member of the workspace
the path names (the outsider who gets the isolation 404) sees the plain page: nothing names the
workspace. The full 500 page (``500_full.html``) falls back to ``500.html``, which reads nothing and needs
no request, when anything fails (the database is down, a context processor breaks).
"""

from __future__ import annotations

import logging
import re

from django.http import Http404, HttpRequest, HttpResponse, HttpResponseServerError
from django.shortcuts import render
from django.template import loader
from django.views import defaults

from tenantatlas.workspaces.access import get_membership
from tenantatlas.workspaces.capabilities import TemplateCapabilities

logger = logging.getLogger(__name__)

WORKSPACE_PATH = re.compile(r"^/w/(?P<slug>[-a-zA-Z0-9_]+)/")
MINIMAL = (
    "<!doctype html><html lang='en'><head><meta charset='utf-8'><title>Something went wrong ·"
    " TenantAtlas</title></head><body><h1>Something went wrong</h1><p>The page could not be"
    " shown. Try again in a moment.</p></body></html>"
)


def enter_workspace(request: HttpRequest) -> None:
    """Expose the workspace the path names on the request, as workspace_view does, when the
    person is a member of it; leave the request alone otherwise."""
    if getattr(request, "workspace", None) is not None:
        return  # workspace_view already did, for this member
    match = WORKSPACE_PATH.match(request.path_info)
    if match is None:
        return
    user = getattr(request, "user", None)
    if user is None:
        return  # failed before authentication ran
    try:
        member = get_membership(user, match["slug"])
    except Http404:
        return
    request.member = member  # type: ignore[attr-defined]
    request.workspace = member.workspace  # type: ignore[attr-defined]
    request.can = TemplateCapabilities(member)  # type: ignore[attr-defined]


def permission_denied(request: HttpRequest, exception: Exception) -> HttpResponse:
    enter_workspace(request)
    return defaults.permission_denied(request, exception)


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    enter_workspace(request)
    return defaults.page_not_found(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    try:
        enter_workspace(request)
        return render(request, "500_full.html", status=500)
    except Exception:
        logger.exception("The full 500 page failed; answering the minimal one")
    return minimal_server_error()


def minimal_server_error() -> HttpResponse:
    """The 500 page without request context: no database, no context processors."""
    try:
        return HttpResponseServerError(loader.render_to_string("500.html"))
    except Exception:
        logger.exception("The minimal 500 page failed; answering plain HTML")
    return HttpResponseServerError(MINIMAL)
