"""Inventory (last observed state per kind) and compliance snapshots. Database reads only."""

from __future__ import annotations

from typing import Any

from django.db.models import Q
from django.http import HttpRequest
from ninja import Path, Query, Router

from tenantatlas.api.auth import principal
from tenantatlas.api.errors import COMMON_ERRORS
from tenantatlas.api.pagination import BY_NAME, LATEST_SNAPSHOT_FIRST, cursor_page
from tenantatlas.api.schemas import (
    MAX_ID,
    CursorParams,
    InventoryFilters,
    InventoryKindName,
    InventoryPage,
    SnapshotPage,
)
from tenantatlas.inventory.models import ComplianceSnapshot, InventoryItem
from tenantatlas.workspaces.capabilities import PROVIDER_VIEW

router = Router(tags=["inventory"])

KindPath = Path(..., description="The kind of inventory object.")
SnapshotConnection = Query(None, ge=1, le=MAX_ID, description="Only this connection's snapshots.")


@router.get(
    "/inventory/{kind}",
    response={200: InventoryPage, **COMMON_ERRORS},
    operation_id="list_inventory",
)
def list_inventory(
    request: HttpRequest,
    filters: Query[InventoryFilters],
    page: Query[CursorParams],
    kind: InventoryKindName = KindPath,
) -> Any:
    """Inventory items of one kind, by name (cursor pages); removed items only on request."""
    me = principal(request, PROVIDER_VIEW)
    items = InventoryItem.objects.for_workspace(me.workspace).filter(kind=kind).defer("raw")
    if filters.connection_id:
        items = items.filter(connection_id=filters.connection_id)
    if filters.q:
        items = items.filter(
            Q(display_name__icontains=filters.q) | Q(user_principal_name__icontains=filters.q)
        )
    if filters.platform:
        items = items.filter(platform__iexact=filters.platform)
    if filters.compliance_state:
        items = items.filter(compliance_state=filters.compliance_state)
    if not filters.include_removed:
        items = items.filter(removed_at__isnull=True)
    return cursor_page(items, BY_NAME, page.cursor, page.limit)


@router.get(
    "/compliance-snapshots",
    response={200: SnapshotPage, **COMMON_ERRORS},
    operation_id="list_compliance_snapshots",
)
def list_compliance_snapshots(
    request: HttpRequest,
    page: Query[CursorParams],
    connection_id: int | None = SnapshotConnection,
) -> Any:
    """Compliance snapshots, latest first (the trend of one connection when filtered)."""
    me = principal(request, PROVIDER_VIEW)
    snapshots = ComplianceSnapshot.objects.for_workspace(me.workspace).defer("tenant_summary")
    if connection_id:
        snapshots = snapshots.filter(connection_id=connection_id)
    return cursor_page(snapshots, LATEST_SNAPSHOT_FIRST, page.cursor, page.limit)
