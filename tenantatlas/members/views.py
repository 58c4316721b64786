"""Starting out (invitations and a new workspace when one has none), members and invitations.

An invitation has two sides: the inviter's (the members page) and the invitee's (their own list
and the single-use link).
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from tenantatlas.lib.errors import Refused
from tenantatlas.members import services
from tenantatlas.members.forms import InvitationAnswerForm, InviteForm, RoleForm, WorkspaceForm
from tenantatlas.workspaces.access import (
    get_invitation_for_invitee,
    get_object_for_member,
    workspace_view,
)
from tenantatlas.workspaces.capabilities import WORKSPACE_MANAGE, capabilities_of
from tenantatlas.workspaces.models import Invitation, InvitationStatus, Membership, Role
from tenantatlas.workspaces.requests import AuthenticatedRequest, WorkspaceRequest
from tenantatlas.workspaces.services import last_used_membership


def _my_invitations(user: Any) -> Any:
    return Invitation.objects.pending().addressed_to(user).select_related("workspace", "invited_by")


@login_required
def start(request: AuthenticatedRequest) -> HttpResponse:
    """Without a workspace: the user's invitations and a new workspace; with one, the home page."""
    if last_used_membership(request.user) is not None:
        return redirect("overview:home")
    form = WorkspaceForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        workspace = services.create_workspace(actor=request.user, name=form.cleaned_data["name"])
        return redirect("overview:workspace", slug=workspace.slug)
    context = {"form": form, "invitations": _my_invitations(request.user)}
    return render(request, "members/no_workspace.html", context)


@workspace_view(WORKSPACE_MANAGE)
def member_list(request: WorkspaceRequest) -> HttpResponse:
    """Members and pending invitations; inviting shows the single-use accept link once."""
    form = InviteForm(request.POST if request.method == "POST" else None)
    created = link = None
    if request.method == "POST" and form.is_valid():
        try:
            created, secret = services.invite_member(
                actor=request.user,
                workspace=request.workspace,
                identifier=form.cleaned_data["user"],
                role=form.cleaned_data["role"],
            )
        except Refused as exc:
            form.add_error("role" if exc.details.get("field") == "role" else "user", exc.message)
        else:
            path = reverse("members:invitation_link", kwargs={"token": secret})
            link = request.build_absolute_uri(path)
            form = InviteForm()
    context = {
        "members": Membership.objects.select_related("user").filter(workspace=request.workspace),
        "invitations": Invitation.objects.pending()
        .for_workspace(request.workspace)
        .select_related("invited_by"),
        "form": form,
        "roles": [(role, label, sorted(capabilities_of(role))) for role, label in Role.choices],
        "created": created,
        "link": link,
    }
    response = render(request, "members/members.html", context)
    if link:
        response["Cache-Control"] = "no-store"  # the one page that shows the link
    return response


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
    return redirect("members:list", slug=request.workspace.slug)


@workspace_view(WORKSPACE_MANAGE)
@require_http_methods(["GET", "POST"])
def member_remove(request: WorkspaceRequest, pk: int) -> HttpResponse:
    """GET asks "Remove <name> from <workspace>?"; only the POST of that page removes."""
    membership = get_object_for_member(
        Membership.objects.select_related("user", "workspace"), request.member, pk=pk
    )
    if request.method == "GET":
        context = {"membership": membership, "yourself": membership.user_id == request.user.pk}
        return render(request, "members/confirm_remove.html", context)
    try:
        services.remove_member(actor=request.user, membership=membership)
    except Refused as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"{membership.user.username} removed from the workspace.")
    return redirect("members:list", slug=request.workspace.slug)


@workspace_view(WORKSPACE_MANAGE)
@require_POST
def invitation_revoke(request: WorkspaceRequest, pk: int) -> HttpResponse:
    invitation = get_object_for_member(Invitation.objects, request.member, pk=pk)
    try:
        services.revoke_invitation(actor=request.user, invitation=invitation)
    except Refused as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Invitation for {invitation.identifier} revoked.")
    return redirect("members:list", slug=request.workspace.slug)


# -- the invitee's side: their own invitations, and the single-use link --------------------------


@login_required
def my_invitations(request: AuthenticatedRequest) -> HttpResponse:
    invitations = _my_invitations(request.user)
    return render(request, "members/invitations.html", {"invitations": invitations})


def _answer(request: AuthenticatedRequest, invitation: Invitation, accept: bool) -> HttpResponse:
    """Accept or decline as the signed-in invitee; a refusal is raised to the caller."""
    if accept:
        membership = services.accept_invitation(actor=request.user, invitation=invitation)
        workspace = membership.workspace
        messages.success(
            request, f"You joined {workspace.name} as {membership.get_role_display()}."
        )
        return redirect("providers:list", slug=workspace.slug)
    services.decline_invitation(actor=request.user, invitation=invitation)
    messages.success(request, f"Invitation to {invitation.workspace.name} declined.")
    return redirect("members:invitations")


def _answer_from_list(request: AuthenticatedRequest, pk: int, accept: bool) -> HttpResponse:
    invitation = get_invitation_for_invitee(request.user, pk)
    try:
        return _answer(request, invitation, accept)
    except Refused as exc:
        messages.error(request, exc.message)
        return redirect("members:invitations")


@login_required
@require_POST
def invitation_accept(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    return _answer_from_list(request, pk, accept=True)


@login_required
@require_POST
def invitation_decline(request: AuthenticatedRequest, pk: int) -> HttpResponse:
    return _answer_from_list(request, pk, accept=False)


def _link_page(
    request: AuthenticatedRequest,
    invitation: Invitation | None,
    problem: str = "",
    *,
    status: int = 200,
) -> HttpResponse:
    context = {"invitation": invitation, "problem": problem, "status": status}
    return render(request, "members/invitation_link.html", context, status=status)


@login_required
def invitation_link(request: AuthenticatedRequest, token: str) -> HttpResponse:
    """The accept link: only the invited account may use it; anyone else leaves it unused."""
    invitation = services.find_invitation_by_token(token)
    if invitation is None:
        return _link_page(request, None, "This invitation link is not valid.", status=404)
    if not services.is_addressed_to(invitation, request.user):
        return _link_page(request, None, "This invitation is for another account.", status=403)
    problem = ""
    if request.method == "POST":
        form = InvitationAnswerForm(request.POST)
        if not form.is_valid():
            return _link_page(request, invitation, "Choose Accept or Decline.", status=400)
        try:
            return _answer(request, invitation, accept=form.cleaned_data["action"] == "accept")
        except Refused as exc:
            invitation.refresh_from_db()
            problem = exc.message
    if invitation.state != InvitationStatus.PENDING:
        message = services.CLOSED_MESSAGES[InvitationStatus(invitation.state)]
        return _link_page(request, None, message, status=410)
    return _link_page(request, invitation, problem, status=409 if problem else 200)
