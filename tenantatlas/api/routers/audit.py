"""The workspace audit log (audit.view), newest first."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import Query, Router

from tenantatlas.api.auth import principal
from tenantatlas.api.errors import COMMON_ERRORS
from tenantatlas.api.pagination import NEWEST_FIRST, cursor_page
from tenantatlas.api.schemas import AuditFilters, AuditPage, CursorParams
from tenantatlas.audit.models import AuditEvent
from tenantatlas.workspaces.capabilities import AUDIT_VIEW

router = Router(tags=["audit"])


@router.get(
    "/audit-events", response={200: AuditPage, **COMMON_ERRORS}, operation_id="list_audit_events"
)
def list_audit_events(
    request: HttpRequest, filters: Query[AuditFilters], page: Query[CursorParams]
) -> Any:
    me = principal(request, AUDIT_VIEW)
    events = AuditEvent.objects.for_workspace(me.workspace)
    if filters.action:
        events = events.filter(action__startswith=filters.action)
    if filters.actor:
        events = events.filter(actor_label__icontains=filters.actor)
    if filters.target_type:
        events = events.filter(target_type=filters.target_type)
    if filters.since:
        events = events.filter(created_at__date__gte=filters.since)
    if filters.until:
        events = events.filter(created_at__date__lte=filters.until)
    return cursor_page(events, NEWEST_FIRST, page.cursor, page.limit)
