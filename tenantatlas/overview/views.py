"""The landing pages: every workspace of the signed-in person, and one workspace's overview.

Database reads only, in a fixed number of queries (see queries.py and tenants.py).
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import F
from django.http import HttpResponse
from django.shortcuts import redirect, render

from tenantatlas.lib.links import layout_url
from tenantatlas.overview import queries
from tenantatlas.overview.tenants import SORT_LABELS, tenant_page
from tenantatlas.overview.trend import trend_svg
from tenantatlas.providers.models import Health, ProviderConnection
from tenantatlas.workspaces.access import workspace_view
from tenantatlas.workspaces.capabilities import PROVIDER_VIEW
from tenantatlas.workspaces.models import Invitation, Membership
from tenantatlas.workspaces.requests import AuthenticatedRequest, WorkspaceRequest

TROUBLED_SHOWN = 20


@login_required
def home(request: AuthenticatedRequest) -> HttpResponse:
    """One row per workspace of the person; with a single workspace, its overview at once."""
    memberships = list(
        Membership.objects.filter(user=request.user)
        .select_related("workspace")
        .order_by(F("last_used_at").desc(nulls_last=True), "-created_at", "-pk")
    )
    if not memberships:
        return redirect("members:start")
    waiting = Invitation.objects.pending().addressed_to(request.user).count()
    if waiting:
        messages.info(request, f"You have {waiting} pending invitation(s): see Invitations.")
    if len(memberships) == 1:
        return redirect("overview:workspace", slug=memberships[0].workspace.slug)
    ids = [m.workspace_id for m in memberships]
    figures = queries.workspace_figures(ids)
    problems = queries.problem_counts(ids)
    rows = []
    for m in memberships:
        found = figures.get(m.workspace_id) or queries.WorkspaceFigures.empty()
        rows.append(
            {
                "membership": m,
                "health": found.health,
                "devices": found.devices,
                "share": _share(found.devices),
                "problems": problems.get(m.workspace_id, 0),
                "expiry": found.expiry,
            }
        )
    return render(
        request, "overview/home.html", {"rows": rows, "health_order": queries.HEALTH_ORDER}
    )


def _base_urls(slug: str) -> dict[str, str]:
    """Addresses of the cards and rows (reversed once per process): they append their filters."""
    urls = {
        name: layout_url(view, slug)
        for name, view in (
            ("connections", "providers:list"),
            ("inventory", "inventory:list"),
            ("runs", "operations:runs"),
            ("changes", "inventory:changes"),
            ("compliance", "inventory:compliance"),
        )
    }
    urls["devices"] = urls["inventory"] + "?kind=managed_device&connection="
    return urls


def _share(devices: dict[str, int]) -> float | None:
    return queries.compliance_share(devices.get("compliant", 0), devices.get("total", 0))


@workspace_view(PROVIDER_VIEW)
def workspace_overview(request: WorkspaceRequest) -> HttpResponse:
    workspace = request.workspace
    figures = (
        queries.workspace_figures([workspace.pk]).get(workspace.pk)
        or queries.WorkspaceFigures.empty()
    )
    health, devices = figures.health, figures.devices
    troubled = list(
        ProviderConnection.objects.for_workspace(workspace)
        .filter(status="enabled", health__in=[Health.UNHEALTHY, Health.DEGRADED])
        .order_by("-health", "display_name", "id")
        .only("pk", "display_name", "health", "health_reason_code", "health_message")[
            :TROUBLED_SHOWN
        ]
    )
    problems = queries.problem_runs_by_connection(workspace)
    sort, tenants = tenant_page(
        workspace,
        sort=request.GET.get("sort", "health"),
        page_number=request.GET.get("page"),
        problems=problems,
    )
    trend = queries.trend_days(workspace)
    context = {
        "health": health,
        "health_order": queries.HEALTH_ORDER,
        "troubled": troubled,
        "troubled_total": health.get(Health.UNHEALTHY, 0) + health.get(Health.DEGRADED, 0),
        "devices": devices,
        "share": _share(devices),
        "stale": devices.get("stale", 0),
        "expiry": figures.expiry,
        "expiry_windows": queries.EXPIRY_WINDOWS,
        "problems": sum(problems.values()),
        "changes": queries.recent_changes(workspace),
        "tenants": tenants,
        "sort": sort,
        "sort_labels": SORT_LABELS,
        "trend_svg": trend_svg(trend),
        "urls": _base_urls(workspace.slug),
        "trend_days": len(trend),
    }
    return render(request, "overview/workspace.html", context)
