"""The workspace's own address and the workspace switcher (both only note the workspace used last)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_POST

from tenantatlas.workspaces.access import note_workspace_use, workspace_view
from tenantatlas.workspaces.capabilities import PROVIDER_VIEW
from tenantatlas.workspaces.models import Membership
from tenantatlas.workspaces.requests import AuthenticatedRequest, WorkspaceRequest


@workspace_view(PROVIDER_VIEW)
def workspace_home(request: WorkspaceRequest) -> HttpResponse:
    return redirect("overview:workspace", slug=request.workspace.slug)


@login_required
@require_POST
def switch_workspace(request: AuthenticatedRequest) -> HttpResponse:
    slug = request.POST.get("slug", "")
    membership = (
        Membership.objects.select_related("workspace")
        .filter(user=request.user, workspace__slug=slug)
        .first()
    )
    if membership is None:
        return redirect("overview:home")
    note_workspace_use(request, membership)
    return redirect("overview:workspace", slug=slug)
