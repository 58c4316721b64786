"""Inventory browser and compliance history. Database reads only."""

from __future__ import annotations

import json

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.cache import patch_vary_headers

from tenantatlas.inventory.forms import (
    PLATFORM_SUGGESTIONS,
    ComplianceConnectionForm,
    InventoryFilterForm,
)
from tenantatlas.inventory.models import ComplianceSnapshot, InventoryItem, InventoryKind
from tenantatlas.lib.keyset import (
    InvalidCursor,
    Keyset,
    decode_str,
    invalid_cursor_page,
    paginate,
)
from tenantatlas.workspaces.access import get_object_for_member, workspace_view
from tenantatlas.workspaces.capabilities import PROVIDER_VIEW

ITEMS_PER_PAGE = 50
SNAPSHOT_HISTORY = 90
# Matches the ordering of InventoryItem and the index inv_ws_kind_name (workspace, kind, display_name).
BY_NAME = Keyset("display_name", decode=decode_str)


@workspace_view(PROVIDER_VIEW)
def item_list(request: HttpRequest) -> HttpResponse:
    form = InventoryFilterForm(request.GET or None, workspace=request.workspace)  # type: ignore[attr-defined]
    items = form.filter(
        InventoryItem.objects.for_workspace(request.workspace)  # type: ignore[attr-defined]
        .select_related("connection")
        .defer("raw")
    )
    try:
        page = paginate(items, BY_NAME, request.GET, per_page=ITEMS_PER_PAGE)
    except InvalidCursor:
        return invalid_cursor_page(request)
    tab_query = request.GET.copy()
    for key in ("kind", "after", "before", "platform", "compliance_state"):
        tab_query.pop(key, None)
    context = {
        "form": form,
        "page": page,
        "kind": form.chosen_kind,
        "kinds": InventoryKind.choices,
        "tab_query": tab_query.urlencode(),
        "platforms": PLATFORM_SUGGESTIONS,
    }
    template = "inventory/list.html#inventory-table" if request.htmx else "inventory/list.html"  # type: ignore[attr-defined]
    response = render(request, template, context)
    patch_vary_headers(response, ("HX-Request",))
    return response


@workspace_view(PROVIDER_VIEW)
def item_detail(request: HttpRequest, pk: int) -> HttpResponse:
    items = InventoryItem.objects.select_related("connection", "last_seen_run")
    item = get_object_for_member(items, request.member, pk=pk)  # type: ignore[attr-defined]
    raw_json = json.dumps(item.raw, indent=2, sort_keys=True, ensure_ascii=False, default=str)
    return render(request, "inventory/item.html", {"item": item, "raw_json": raw_json})


@workspace_view(PROVIDER_VIEW)
def compliance_history(request: HttpRequest) -> HttpResponse:
    form = ComplianceConnectionForm(request.GET or None, workspace=request.workspace)  # type: ignore[attr-defined]
    connection = form.chosen()
    snapshots = []
    if connection is not None:
        snapshots = list(
            ComplianceSnapshot.objects.for_workspace(request.workspace)  # type: ignore[attr-defined]
            .filter(connection=connection)
            .defer("tenant_summary")[:SNAPSHOT_HISTORY]
        )
    return render(
        request,
        "inventory/compliance.html",
        {"form": form, "connection": connection, "snapshots": snapshots},
    )
