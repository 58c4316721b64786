"""Small helpers the page views share: htmx polling answers and query strings without some keys."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import render
from django.utils.cache import patch_vary_headers
from django_htmx.http import HttpResponseStopPolling


def render_polling(
    request: HttpRequest, template: str, context: dict[str, Any], *, active: bool
) -> HttpResponse:
    """The whole page; for htmx only the fragment `context["fragment"]` names, answered 286
    (stop polling) once nothing it shows is active."""
    if not getattr(request, "htmx", False):
        response = render(request, template, context)
    else:
        response = render(request, template + context["fragment"], context)
        if not active:
            response = HttpResponseStopPolling(response.content)
    patch_vary_headers(response, ("HX-Request",))
    return response


def without(query: QueryDict, *keys: str) -> QueryDict:
    """A copy of `query` without `keys` (e.g. the paging cursor, for a filter or export link)."""
    query = query.copy()
    for key in keys:
        query.pop(key, None)
    return query


def reaches_microsoft(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Mark a view that must talk to Microsoft while the browser waits — the one exception to
    "pages never call Microsoft while rendering": Sign in with Microsoft's start and callback
    (discovery, the code, the keys) and bulk add's domains (which tenant each names). The test
    suite's outbound guard lets exactly these through (tenantatlas/testing.py)."""
    view.reaches_microsoft = True  # type: ignore[attr-defined]
    return view
