"""The one access module: outsiders get 404, members lacking a capability get 403.

Each condition sits on its own line so branch coverage proves every case.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar, cast

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, HttpRequest

from tenantatlas.workspaces.capabilities import TemplateCapabilities, can
from tenantatlas.workspaces.models import Invitation, Membership
from tenantatlas.workspaces.requests import WorkspaceRequest
from tenantatlas.workspaces.services import touch_membership

# The session remembers the workspace the user is in, so a change of workspace is noticed.
CURRENT_WORKSPACE = "workspace_slug"

V = TypeVar("V", bound=Callable[..., Any])


def _loaded(user: Any) -> Any:
    """The user itself, not the lazy object the authentication middleware puts on the request."""
    return getattr(user, "_wrapped", user)


def memberships_of(user: Any) -> QuerySet[Membership]:
    """The user's memberships with their workspaces, in the workspace switcher's order."""
    return (
        Membership.objects.filter(user=user)
        .select_related("workspace")
        .order_by("workspace__name", "workspace_id")
    )


def get_membership(user: Any, slug: str) -> Membership:
    """The user's membership of the workspace named by slug, or 404."""
    if not user.is_authenticated:
        raise Http404("No such workspace")
    membership = (
        Membership.objects.select_related("workspace")
        .filter(workspace__slug=slug, user=user)
        .first()
    )
    if membership is None:
        raise Http404("No such workspace")
    membership.user = _loaded(user)  # the signed-in user, already read
    return membership


def get_membership_for_page(request: HttpRequest, slug: str) -> Membership:
    """As get_membership, reading all the user's memberships in the same query: a page's
    workspace switcher lists them (request.memberships, see context_processors), so a full
    page pays one query for both. Polls and partials, which show no switcher, use
    get_membership."""
    user = request.user
    if not user.is_authenticated:
        raise Http404("No such workspace")
    memberships = list(memberships_of(user))
    for membership in memberships:
        membership.user = _loaded(user)
    current = next((m for m in memberships if m.workspace.slug == slug), None)
    if current is None:
        raise Http404("No such workspace")
    request.memberships = memberships  # type: ignore[attr-defined]
    return current


def require(member: Membership, capability: str) -> None:
    if not can(member, capability):
        raise PermissionDenied(f"Your role does not allow {capability}")


def get_object_for_member(queryset: Any, member: Membership, **lookup: Any) -> Any:
    """One object of the member's workspace, or 404 (also for other workspaces' ids)."""
    obj = queryset.for_workspace(member.workspace).filter(**lookup).first()
    if obj is None:
        raise Http404("Not found")
    return obj


def get_invitation_for_invitee(user: Any, pk: int) -> Invitation:
    """An invitation addressed to the user (any state), or 404: others' invitations stay hidden."""
    invitation = (
        Invitation.objects.addressed_to(user).select_related("workspace").filter(pk=pk).first()
    )
    if invitation is None:
        raise Http404("Not found")
    return invitation


def note_workspace_use(request: HttpRequest, member: Membership) -> None:
    """Remember the workspace as the one used last: at once on a change, else once a minute."""
    changed = request.session.get(CURRENT_WORKSPACE) != member.workspace.slug
    if changed:
        request.session[CURRENT_WORKSPACE] = member.workspace.slug
    touch_membership(member, force=changed)


def workspace_view(capability: str) -> Callable[[V], V]:
    """Resolve `slug` to the member's workspace, enforce the capability, expose both on request."""

    def decorator(view: V) -> V:
        @login_required
        @functools.wraps(view)
        def wrapper(request: HttpRequest, slug: str, *args: Any, **kwargs: Any) -> Any:
            page = request.method == "GET" and not getattr(request, "htmx", False)
            if page:
                member = get_membership_for_page(request, slug)
            else:
                member = get_membership(request.user, slug)
            require(member, capability)
            typed = cast(WorkspaceRequest, request)
            typed.member = member
            typed.workspace = member.workspace
            typed.can = TemplateCapabilities(member)
            if page:
                note_workspace_use(request, member)  # pages, not polls or partials
            return view(request, *args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorator
