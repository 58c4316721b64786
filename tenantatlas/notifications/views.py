"""Notifications of the signed-in person in one workspace: list, bell, mark read."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from tenantatlas.lib.keyset import (
    InvalidCursor,
    Keyset,
    decode_datetime,
    invalid_cursor_page,
    paginate,
)
from tenantatlas.notifications import services
from tenantatlas.notifications.models import Notification
from tenantatlas.workspaces.access import get_object_for_member, workspace_view
from tenantatlas.workspaces.capabilities import PROVIDER_VIEW
from tenantatlas.workspaces.requests import WorkspaceRequest

PER_PAGE = 30
NEWEST_FIRST = Keyset("created_at", descending=True, decode=decode_datetime)


def _mine(request: WorkspaceRequest) -> Any:
    """Only the requester's own notifications: someone else's id is a 404 like any outsider's."""
    return Notification.objects.filter(user=request.user)


def _is_local(url: str) -> bool:
    return bool(url) and url_has_allowed_host_and_scheme(url, allowed_hosts=None)


def _to_list(request: WorkspaceRequest) -> HttpResponse:
    return redirect("notifications:list", slug=request.workspace.slug)


@workspace_view(PROVIDER_VIEW)
@require_GET
def notification_list(request: WorkspaceRequest) -> HttpResponse:
    notifications = _mine(request).for_workspace(request.workspace)
    try:
        page = paginate(notifications, NEWEST_FIRST, request.GET, per_page=PER_PAGE)
    except InvalidCursor:
        return invalid_cursor_page(request)
    unread = services.unread_count(user=request.user, workspace=request.workspace)
    return render(request, "notifications/list.html", {"page": page, "unread": unread})


@workspace_view(PROVIDER_VIEW)
@require_POST
def notification_read(request: WorkspaceRequest, pk: int) -> HttpResponse:
    notification = get_object_for_member(_mine(request), request.member, pk=pk)
    services.mark_read(actor=request.user, notification=notification)
    if request.POST.get("open") and _is_local(notification.url):
        return redirect(notification.url)
    if request.htmx:
        notification.refresh_from_db()
        return render(request, "notifications/list.html#notification-row", {"n": notification})
    return _to_list(request)


@workspace_view(PROVIDER_VIEW)
@require_POST
def notification_read_all(request: WorkspaceRequest) -> HttpResponse:
    count = services.mark_all_read(actor=request.user, workspace=request.workspace)
    messages.success(request, f"{count} notification{'s' if count != 1 else ''} marked read.")
    return _to_list(request)


@workspace_view(PROVIDER_VIEW)
@require_GET
def bell(request: WorkspaceRequest) -> HttpResponse:
    workspace = request.workspace
    unread = services.unread_count(user=request.user, workspace=workspace)
    context = {"unread": unread, "current_workspace": workspace}
    return render(request, "notifications/_bell.html", context)
