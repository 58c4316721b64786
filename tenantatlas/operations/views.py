"""Monitoring: the runs of a workspace and one run's detail. Database reads only.

Both pages poll with htmx while something they show is active and answer 286 (stop polling)
with the final fragment once nothing is.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.cache import patch_vary_headers
from django_htmx.http import HttpResponseStopPolling

from tenantatlas.lib.keyset import Keyset, decode_datetime, paginate
from tenantatlas.operations.forms import RunFilterForm
from tenantatlas.operations.models import OperationRun
from tenantatlas.workspaces.access import get_object_for_member, workspace_view
from tenantatlas.workspaces.capabilities import PROVIDER_VIEW

RUNS_PER_PAGE = 50
# Matches the index run_ws_created (workspace, -created_at, -id).
RUN_ORDER = Keyset("created_at", descending=True, decode=decode_datetime)


def _render_polling(
    request: HttpRequest, template: str, context: dict, *, active: bool
) -> HttpResponse:
    """Full page for a normal request; for htmx just the fragment, with 286 once nothing is active."""
    if not request.htmx:  # type: ignore[attr-defined]
        response = render(request, template, context)
    else:
        response = render(request, template + context["fragment"], context)
        if not active:
            response = HttpResponseStopPolling(response.content)
    patch_vary_headers(response, ("HX-Request",))
    return response


@workspace_view(PROVIDER_VIEW)
def run_list(request: HttpRequest) -> HttpResponse:
    form = RunFilterForm(request.GET or None, workspace=request.workspace)  # type: ignore[attr-defined]
    runs = form.filter(
        OperationRun.objects.for_workspace(request.workspace).select_related("connection")  # type: ignore[attr-defined]
    )
    page = paginate(runs, RUN_ORDER, request.GET, per_page=RUNS_PER_PAGE)
    active = any(run.is_active for run in page.items)
    context = {"form": form, "page": page, "active": active, "fragment": "#runs-table"}
    return _render_polling(request, "operations/runs.html", context, active=active)


@workspace_view(PROVIDER_VIEW)
def run_detail(request: HttpRequest, pk: int) -> HttpResponse:
    runs = OperationRun.objects.select_related("connection", "requested_by")
    run = get_object_for_member(runs, request.member, pk=pk)  # type: ignore[attr-defined]
    context = {"run": run, "active": run.is_active, "fragment": "#run-body"}
    return _render_polling(request, "operations/run.html", context, active=run.is_active)
