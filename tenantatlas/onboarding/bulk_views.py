"""Bulk add page: a list of tenant ids and verified domains becomes connections of the partner
app (or per-row errors), then "Check all new connections" starts their connection checks in one
bulk start."""

from __future__ import annotations

from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_http_methods, require_POST

from tenantatlas.lib.errors import Refused
from tenantatlas.lib.pages import reaches_microsoft
from tenantatlas.onboarding.bulk import MAX_ROWS, add_connections_in_bulk
from tenantatlas.onboarding.bulk_forms import BulkAddForm
from tenantatlas.onboarding.services import HEALTH_CHECK
from tenantatlas.operations.bulk import start_on_connections
from tenantatlas.operations.models import Trigger
from tenantatlas.providers.models import PartnerApp, ProviderConnection
from tenantatlas.workspaces.access import workspace_view
from tenantatlas.workspaces.capabilities import PROVIDER_MANAGE
from tenantatlas.workspaces.requests import WorkspaceRequest

TEMPLATE = "onboarding/bulk_add.html"


@reaches_microsoft  # a list's domains: which tenant each names (graph/discovery.py)
@workspace_view(PROVIDER_MANAGE)
@require_http_methods(["GET", "POST"])
def bulk_add(request: WorkspaceRequest) -> HttpResponse:
    partner_app = PartnerApp.objects.for_workspace(request.workspace).first()
    form = BulkAddForm(request.POST or None, request.FILES or None)
    context = {"form": form, "partner_app": partner_app, "max_rows": MAX_ROWS}
    if request.method == "POST" and partner_app is not None and form.is_valid():
        try:
            context["result"] = add_connections_in_bulk(
                actor=request.user,
                workspace=request.workspace,
                partner_app=partner_app,
                text=form.text(),
            )
        except Refused as exc:
            form.add_error(None, exc.message)
        else:
            context["form"] = BulkAddForm()  # the list is in the table; the form is for the next
    status = 400 if form.errors else 200
    return render(request, TEMPLATE, context, status=status)


@workspace_view(PROVIDER_MANAGE)
@require_POST
def bulk_check(request: WorkspaceRequest) -> HttpResponse:
    """Connection checks for the connections the bulk add created (ids of this workspace only),
    through the start gate: deduplicated like any start."""
    ids = [int(pk) for pk in request.POST.getlist("connection") if pk.isdigit()]
    connections = ProviderConnection.objects.for_workspace(request.workspace).filter(pk__in=ids)
    summary = start_on_connections(
        actor=request.user,
        member=request.member,
        operation_type=HEALTH_CHECK,
        connections=connections.order_by("pk"),
        trigger=Trigger.UI,
    )
    context = {"summary": summary, "connection_ids": ids}
    return render(request, TEMPLATE, context)
