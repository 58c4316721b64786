"""Home, workspace switcher and the members page."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from tenantatlas.lib.errors import Refused
from tenantatlas.lib.typed_request import AuthenticatedRequest, WorkspaceRequest
from tenantatlas.workspaces import services
from tenantatlas.workspaces.access import get_object_for_member, workspace_view
from tenantatlas.workspaces.capabilities import PROVIDER_VIEW, WORKSPACE_MANAGE, capabilities_of
from tenantatlas.workspaces.forms import InviteForm, RoleForm, WorkspaceForm
from tenantatlas.workspaces.models import Membership, Role


@login_required
def home(request: AuthenticatedRequest) -> HttpResponse:
    """Go to the last used workspace, else the first; with none, offer to create one."""
    memberships = Membership.objects.filter(user=request.user).select_related("workspace")
    preferred = request.session.get("workspace_slug")
    chosen = next((m for m in memberships if m.workspace.slug == preferred), None)
    chosen = chosen or memberships.first()
    if chosen is not None:
        return redirect("providers:list", slug=chosen.workspace.slug)
    form = WorkspaceForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        workspace = services.create_workspace(actor=request.user, name=form.cleaned_data["name"])
        return redirect("providers:list", slug=workspace.slug)
    return render(request, "workspaces/no_workspace.html", {"form": form})


@workspace_view(PROVIDER_VIEW)
def workspace_home(request: WorkspaceRequest) -> HttpResponse:
    return redirect("providers:list", slug=request.workspace.slug)


@workspace_view(WORKSPACE_MANAGE)
def member_list(request: WorkspaceRequest) -> HttpResponse:
    form = InviteForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            membership = services.add_member(
                actor=request.user,
                workspace=request.workspace,
                username_or_email=form.cleaned_data["user"],
                role=form.cleaned_data["role"],
            )
        except Refused as exc:
            form.add_error("user", exc.message)
        else:
            messages.success(
                request, f"{membership.user.username} added as {membership.get_role_display()}."
            )
            return redirect("workspaces:members", slug=request.workspace.slug)
    members = Membership.objects.select_related("user").filter(workspace=request.workspace)
    roles = [(role, label, sorted(capabilities_of(role))) for role, label in Role.choices]
    return render(
        request, "workspaces/members.html", {"members": members, "form": form, "roles": roles}
    )


@workspace_view(WORKSPACE_MANAGE)
@require_POST
def member_role(request: WorkspaceRequest, pk: int) -> HttpResponse:
    membership = get_object_for_member(
        Membership.objects.select_related("user", "workspace"), request.member, pk=pk
    )
    form = RoleForm(request.POST)
    if form.is_valid():
        try:
            services.change_role(
                actor=request.user, membership=membership, role=form.cleaned_data["role"]
            )
        except Refused as exc:
            messages.error(request, exc.message)
        else:
            messages.success(
                request, f"{membership.user.username} is now {membership.get_role_display()}."
            )
    else:
        messages.error(request, "Choose a valid role.")
    return redirect("workspaces:members", slug=request.workspace.slug)


@workspace_view(WORKSPACE_MANAGE)
@require_POST
def member_remove(request: WorkspaceRequest, pk: int) -> HttpResponse:
    membership = get_object_for_member(
        Membership.objects.select_related("user", "workspace"), request.member, pk=pk
    )
    try:
        services.remove_member(actor=request.user, membership=membership)
    except Refused as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"{membership.user.username} removed from the workspace.")
    return redirect("workspaces:members", slug=request.workspace.slug)


@login_required
@require_POST
def switch_workspace(request: AuthenticatedRequest) -> HttpResponse:
    slug = request.POST.get("slug", "")
    if Membership.objects.filter(user=request.user, workspace__slug=slug).exists():
        request.session["workspace_slug"] = slug
        return redirect("providers:list", slug=slug)
    return redirect("workspaces:home")
