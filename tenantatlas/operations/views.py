"""Monitoring: the runs of a workspace and one run's detail. Database reads only.

Both pages poll with htmx while something they show is active and answer 286 (stop polling)
with the final fragment once nothing is.
"""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_POST

from tenantatlas.lib.errors import Refused
from tenantatlas.lib.keyset import (
    InvalidCursor,
    Keyset,
    decode_datetime,
    invalid_cursor_page,
    paginate,
)
from tenantatlas.lib.pages import render_polling
from tenantatlas.operations.forms import RunFilterForm
from tenantatlas.operations.models import OperationRun
from tenantatlas.operations.services import cancel_run
from tenantatlas.workspaces.access import get_object_for_member, workspace_view
from tenantatlas.workspaces.capabilities import PROVIDER_RUN, PROVIDER_VIEW
from tenantatlas.workspaces.requests import WorkspaceRequest

RUNS_PER_PAGE = 50
# Matches the index run_ws_created (workspace, -created_at, -id).
RUN_ORDER = Keyset("created_at", descending=True, decode=decode_datetime)


@workspace_view(PROVIDER_VIEW)
def run_list(request: WorkspaceRequest) -> HttpResponse:
    form = RunFilterForm(request.GET or None, workspace=request.workspace)
    runs = form.filter(
        OperationRun.objects.for_workspace(request.workspace).select_related("connection")
    )
    try:
        page = paginate(runs, RUN_ORDER, request.GET, per_page=RUNS_PER_PAGE)
    except InvalidCursor:
        return invalid_cursor_page(request)
    active = any(run.is_active for run in page.items)
    context = {"form": form, "page": page, "active": active, "fragment": "#runs-table"}
    return render_polling(request, "operations/runs.html", context, active=active)


@workspace_view(PROVIDER_VIEW)
def run_detail(request: WorkspaceRequest, pk: int) -> HttpResponse:
    runs = OperationRun.objects.select_related("connection", "requested_by")
    run = get_object_for_member(runs, request.member, pk=pk)
    context = {"run": run, "active": run.is_active, "fragment": "#run-body"}
    return render_polling(request, "operations/run.html", context, active=run.is_active)


@workspace_view(PROVIDER_RUN)
@require_POST
def run_cancel(request: WorkspaceRequest, pk: int) -> HttpResponse:
    """Queued runs end now; running runs stop at their next page boundary."""
    run = get_object_for_member(OperationRun.objects.all(), request.member, pk=pk)
    try:
        run = cancel_run(actor=request.user, member=request.member, run=run)
    except Refused as exc:
        messages.error(request, exc.message)
    else:
        done = run.status == "cancelled"
        messages.success(
            request, "Run cancelled." if done else "Stop requested: the run ends at its next page."
        )
    return redirect("operations:run", slug=request.workspace.slug, pk=run.pk)
