"""The token owner's notifications in the workspace: list and mark read."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import Path, Query, Router

from tenantatlas.api.auth import principal
from tenantatlas.api.errors import CHANGE_ERRORS, COMMON_ERRORS
from tenantatlas.api.pagination import NEWEST_FIRST, cursor_page
from tenantatlas.api.schemas import (
    MAX_ID,
    CursorParams,
    MarkedRead,
    NotificationOut,
    NotificationPage,
)
from tenantatlas.notifications import services
from tenantatlas.notifications.models import Notification
from tenantatlas.workspaces.access import get_object_for_member
from tenantatlas.workspaces.capabilities import PROVIDER_VIEW

router = Router(tags=["notifications"])


@router.get(
    "/notifications",
    response={200: NotificationPage, **COMMON_ERRORS},
    operation_id="list_notifications",
)
def list_notifications(
    request: HttpRequest,
    page: Query[CursorParams],
    unread: bool = Query(False, description="Only unread ones."),
) -> Any:
    me = principal(request, PROVIDER_VIEW)
    notifications = Notification.objects.for_workspace(me.workspace).filter(user=me.user)
    if unread:
        notifications = notifications.filter(read_at__isnull=True)
    return cursor_page(notifications, NEWEST_FIRST, page.cursor, page.limit)


@router.post(
    "/notifications/{notification_id}/read",
    response={200: NotificationOut, **CHANGE_ERRORS},
    operation_id="mark_notification_read",
)
def mark_read(request: HttpRequest, notification_id: int = Path(..., ge=1, le=MAX_ID)) -> Any:
    me = principal(request, PROVIDER_VIEW)
    mine = Notification.objects.filter(user=me.user)
    notification = get_object_for_member(mine, me.member, pk=notification_id)
    services.mark_read(actor=me.user, notification=notification)
    notification.refresh_from_db()
    return notification


@router.post(
    "/notifications/read",
    response={200: MarkedRead, **CHANGE_ERRORS},
    operation_id="mark_all_notifications_read",
)
def mark_all_read(request: HttpRequest) -> Any:
    me = principal(request, PROVIDER_VIEW)
    return {"marked": services.mark_all_read(actor=me.user, workspace=me.workspace)}
