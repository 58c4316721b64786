"""Inventory browser, its CSV export and compliance history. Database reads only."""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.http import HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.utils.cache import patch_vary_headers

from tenantatlas.inventory import export
from tenantatlas.inventory.charts import compliance_trend_svg
from tenantatlas.inventory.compliance_links import legend_entries, snapshot_rows
from tenantatlas.inventory.forms import (
    PLATFORM_SUGGESTIONS,
    ComplianceConnectionForm,
    InventoryFilterForm,
)
from tenantatlas.inventory.labels import PLATFORMS, item_platform, item_type
from tenantatlas.inventory.models import ComplianceSnapshot, InventoryItem, InventoryKind
from tenantatlas.lib.csv_export import csv_response
from tenantatlas.lib.keyset import AFTER, BEFORE, InvalidCursor, invalid_cursor_page, paginate
from tenantatlas.lib.pages import without
from tenantatlas.workspaces.access import get_object_for_member, workspace_view
from tenantatlas.workspaces.capabilities import PROVIDER_VIEW
from tenantatlas.workspaces.requests import WorkspaceRequest

ITEMS_PER_PAGE = 50
SNAPSHOT_HISTORY = 90
BY_NAME = export.BY_NAME
# How the total of a filtered list reads: "1 device", "1,234 devices".
NOUNS = {
    InventoryKind.MANAGED_DEVICE: ("device", "devices"),
    InventoryKind.COMPLIANCE_POLICY: ("compliance policy", "compliance policies"),
    InventoryKind.DEVICE_CONFIGURATION: ("device configuration", "device configurations"),
    InventoryKind.CONFIGURATION_POLICY: ("settings catalog policy", "settings catalog policies"),
    InventoryKind.MOBILE_APP: ("app", "apps"),
}


def _filtered(request: WorkspaceRequest) -> tuple[InventoryFilterForm, Any]:
    """The list's form and its items: this workspace only, filtered as the query asks."""
    form = InventoryFilterForm(request.GET or None, workspace=request.workspace)
    items = form.filter(InventoryItem.objects.for_workspace(request.workspace))
    return form, items


def _label(item: InventoryItem) -> InventoryItem:
    """Give the item the type and platform names the templates show (not Graph's type)."""
    raw = None if "raw" in item.get_deferred_fields() else item.raw
    family = getattr(item, "template_family", None)
    platforms = getattr(item, "graph_platforms", None)
    if raw is not None:
        template = raw.get("templateReference")
        family = template.get("templateFamily") if isinstance(template, dict) else None
        platforms = raw.get("platforms")
    item.type_label = item_type(item.kind, item.odata_type, family)  # type: ignore[attr-defined]
    item.platform_label = item_platform(item.kind, item.odata_type, platforms)  # type: ignore[attr-defined]
    return item


@workspace_view(PROVIDER_VIEW)
def item_list(request: WorkspaceRequest) -> HttpResponse:
    form, items = _filtered(request)
    try:
        page = paginate(
            items.select_related("connection").defer("raw"),
            BY_NAME,
            request.GET,
            per_page=ITEMS_PER_PAGE,
        )
    except InvalidCursor:
        return invalid_cursor_page(request)
    for item in page.items:
        _label(item)
    kind = form.chosen_kind
    total = items.count()
    singular, plural = NOUNS[InventoryKind(kind)]
    export_query = without(request.GET, AFTER, BEFORE)
    export_query["kind"] = kind
    tab_query = without(request.GET, "kind", AFTER, BEFORE, "platform", "compliance_state", "stale")
    context = {
        "form": form,
        "page": page,
        "kind": kind,
        "kinds": InventoryKind.choices,
        "tab_query": tab_query.urlencode(),
        "export_query": export_query.urlencode(),
        "total": total,
        "total_label": f"{total:,} {singular if total == 1 else plural}",
        "stale_only": form.stale_only,
        "stale_days": settings.COMPLIANCE_STALE_DAYS,
        "platforms": PLATFORM_SUGGESTIONS if kind == InventoryKind.MANAGED_DEVICE else PLATFORMS,
    }
    template = "inventory/list.html#inventory-table" if request.htmx else "inventory/list.html"
    response = render(request, template, context)
    patch_vary_headers(response, ("HX-Request",))
    return response


@workspace_view(PROVIDER_VIEW)
def item_export(request: WorkspaceRequest) -> StreamingHttpResponse:
    """The filtered list as a streamed CSV (every page of it, the columns the list shows)."""
    form, items = _filtered(request)
    kind = form.chosen_kind
    return csv_response(
        export.header(kind),
        export.export_rows(kind, items),
        filename=export.filename(request.workspace.slug, kind),
    )


@workspace_view(PROVIDER_VIEW)
def item_detail(request: WorkspaceRequest, pk: int) -> HttpResponse:
    items = InventoryItem.objects.select_related("connection", "last_seen_run")
    item = _label(get_object_for_member(items, request.member, pk=pk))
    raw_json = json.dumps(item.raw, indent=2, sort_keys=True, ensure_ascii=False, default=str)
    return render(request, "inventory/item.html", {"item": item, "raw_json": raw_json})


@workspace_view(PROVIDER_VIEW)
def compliance_history(request: WorkspaceRequest) -> HttpResponse:
    form = ComplianceConnectionForm(request.GET or None, workspace=request.workspace)
    connection = form.chosen()
    snapshots: list[ComplianceSnapshot] = []
    if connection is not None:
        snapshots = list(
            ComplianceSnapshot.objects.for_workspace(request.workspace)
            .filter(connection=connection)
            .defer("tenant_summary")[:SNAPSHOT_HISTORY]
        )
    latest = snapshots[0] if snapshots else None
    context = {
        "form": form,
        "connection": connection,
        "snapshots": snapshots,
        # The chart's legend is the HTML one below it (readable and linked at any width).
        "chart": compliance_trend_svg(snapshots, legend=False),
        "legend": legend_entries(request.workspace.slug, connection, latest),
        "rows": snapshot_rows(request.workspace.slug, connection, snapshots),
    }
    return render(request, "inventory/compliance.html", context)
