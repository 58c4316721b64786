"""Monitoring: the runs of a workspace and one run's detail. Database reads only.

Both pages poll with htmx while something they show is active and answer 286 (stop polling)
with the final fragment once nothing is.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.cache import patch_vary_headers
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
from tenantatlas.workspaces.filters import history_connections
from tenantatlas.workspaces.requests import WorkspaceRequest

RUNS_PER_PAGE = 50
# Matches the index run_ws_created (workspace, -created_at, -id).
RUN_ORDER = Keyset("created_at", descending=True, decode=decode_datetime)
# What a row shows of a run and its connection; the rest (counts, context) is never read.
RUN_COLUMNS = (
    "id",
    "operation_type",
    "status",
    "trigger",
    "requested_by_label",
    "created_at",
    "started_at",
    "finished_at",
    "progress_done",
    "progress_total",
    "reason_code",
    "failure_message",
    "connection",
    "connection__display_name",
    "connection__deleted_at",
)
# Up to this many connections the filter's menu is written into the page; beyond, the page
# holds the chosen one and the menu fills itself when first pointed at or focused: a thousand
# options weigh more than the table of runs.
MENU_IN_PAGE = 100
MENU_ID = "id_connection"


@workspace_view(PROVIDER_VIEW)
def run_list(request: WorkspaceRequest) -> HttpResponse:
    form = RunFilterForm(request.GET or None, workspace=request.workspace)
    if request.htmx.target == MENU_ID:
        options = {"connection_options": form.connection_options()}
        response = render(request, "operations/runs.html#connection-options", options)
        patch_vary_headers(response, ("HX-Request", "HX-Target"))
        return response
    runs = form.filter(
        OperationRun.objects.for_workspace(request.workspace)
        .select_related("connection")
        .only(*RUN_COLUMNS)
    )
    try:
        page = paginate(runs, RUN_ORDER, request.GET, per_page=RUNS_PER_PAGE)
    except InvalidCursor:
        return invalid_cursor_page(request)
    active = any(run.is_active for run in page.items)
    context: dict[str, Any] = {
        "form": form,
        "page": page,
        "active": active,
        "fragment": "#runs-table",
        "urls": _urls(request.workspace.slug),
    }
    if not request.htmx:  # htmx asks for the table only
        context |= _connection_menu(form)
    response = render_polling(request, "operations/runs.html", context, active=active)
    patch_vary_headers(response, ("HX-Target",))  # the same address answers the menu
    return response


def _connection_menu(form: RunFilterForm) -> dict[str, Any]:
    """The connection filter's options in the page: all of them, or only the chosen one when
    there are more than MENU_IN_PAGE (the menu then fetches the rest itself)."""
    label = form.fields["connection"].label_from_instance  # type: ignore[attr-defined]
    chosen = getattr(form, "cleaned_data", {}).get("connection")
    first = history_connections(form.workspace).values_list(
        "pk", "display_name", "deleted_at", named=True
    )[: MENU_IN_PAGE + 1]
    complete = len(first) <= MENU_IN_PAGE
    shown = first if complete else [chosen] if chosen else []
    return {
        "connection_options": [
            (conn.pk, label(conn), chosen is not None and conn.pk == chosen.pk) for conn in shown
        ],
        "menu_complete": complete,
    }


def _urls(slug: str) -> dict[str, str]:
    """Addresses reversed once per page; the rows append a run's or a connection's id."""
    return {
        "runs": reverse("operations:runs", args=[slug]),
        "connections": reverse("providers:list", args=[slug]),
    }


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
