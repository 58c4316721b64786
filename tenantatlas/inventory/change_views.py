"""The change history: the Changes page (every connection, filtered), its CSV export, and one
item's history (its first page sits on the item page). Database reads only.

Lists are keyset pages on (detected_at, id), newest first, matching the indexes
`change_ws_detected`, `change_conn_detected` and `change_item_detected`; rows are read without
their diff (`change_forms.summarised`), except an item's history, which shows it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

from django.http import HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.cache import patch_vary_headers

from tenantatlas.inventory.change_forms import (
    NEWEST_FIRST,
    ChangeFilterForm,
    ChangeFilters,
    item_history_page,
    summarised,
    workspace_changes,
)
from tenantatlas.inventory.models import ChangeType, InventoryItem, InventoryKind
from tenantatlas.inventory.templatetags.changes import value_text
from tenantatlas.lib.csv_export import csv_response
from tenantatlas.lib.keyset import (
    AFTER,
    BEFORE,
    InvalidCursor,
    invalid_cursor_page,
    paginate,
)
from tenantatlas.lib.pages import without
from tenantatlas.workspaces.access import get_object_for_member, workspace_view
from tenantatlas.workspaces.capabilities import PROVIDER_VIEW
from tenantatlas.workspaces.requests import WorkspaceRequest

CHANGES_PER_PAGE = 50
CHUNK = 500  # CSV: change rows read per keyset query (each with its diff)
CSV_HEADER = (
    "detected_at",
    "connection",
    "kind",
    "item",
    "change_type",
    "path",
    "old",
    "new",
    "actor",
    "activity",
    "activity_at",
)
_KINDS = dict(InventoryKind.choices)


@workspace_view(PROVIDER_VIEW)
def change_list(request: WorkspaceRequest) -> HttpResponse:
    form = ChangeFilterForm(request.GET or None, workspace=request.workspace)
    filters = form.filters()
    rows = summarised(filters.apply(workspace_changes(request.workspace)))
    try:
        page = paginate(
            rows.select_related("connection"), NEWEST_FIRST, request.GET, per_page=CHANGES_PER_PAGE
        )
    except InvalidCursor:
        return invalid_cursor_page(request)
    context = {
        "form": form,
        "filters": filters,
        "filtered": filters != ChangeFilters(),
        "page": page,
        "export_query": without(request.GET, AFTER, BEFORE).urlencode(),
        "without_run": without(request.GET, AFTER, BEFORE, "run").urlencode(),
        "without_item": without(request.GET, AFTER, BEFORE, "item").urlencode(),
        "chosen_item": form.chosen_item if filters.item_id else None,
    }
    template = "inventory/changes.html#changes-table" if request.htmx else "inventory/changes.html"
    response = render(request, template, context)
    patch_vary_headers(response, ("HX-Request",))
    return response


def _when(value: dt.datetime | None) -> str:
    return value.astimezone(dt.UTC).isoformat(timespec="seconds") if value else ""


def _chunks(changes: Any) -> Iterator[tuple[Any, ...]]:
    """The rows of `changes` newest first, `CHUNK` at a time (one indexed range query each)."""
    ordered = changes.order_by(*NEWEST_FIRST.order())
    fields = (
        "detected_at",
        "id",
        "connection__display_name",
        "kind",
        "display_name",
        "item_id",
        "change_type",
        "changes",
        "actor",
        "activity",
        "activity_at",
    )
    cursor: tuple[dt.datetime, int] | None = None
    while True:
        chunk = ordered if cursor is None else NEWEST_FIRST.beyond(ordered, cursor, reverse=False)
        rows = list(chunk.values_list(*fields)[:CHUNK])
        yield from rows
        if len(rows) < CHUNK:
            return
        cursor = (rows[-1][0], rows[-1][1])


def export_rows(changes: Any) -> Iterator[tuple[Any, ...]]:
    """One CSV row per changed setting; one (without path) per creation or removal."""
    for row in _chunks(changes):
        detected, _, connection, kind, name, item_id, change_type, diff, *who = row
        actor, activity, activity_at = who
        head = (_when(detected), connection, _KINDS.get(kind, kind), name or f"#{item_id}")
        tail = (actor, activity, _when(activity_at))
        settings = diff if change_type == ChangeType.CHANGED and isinstance(diff, list) else []
        if not settings:
            yield (*head, change_type, "", "", "", *tail)
        for setting in settings:
            old, new = setting.get("old"), setting.get("new")
            yield (
                *head,
                change_type,
                setting.get("path", ""),
                value_text(old),
                value_text(new),
                *tail,
            )


@workspace_view(PROVIDER_VIEW)
def change_export(request: WorkspaceRequest) -> StreamingHttpResponse:
    """The filtered list as a streamed CSV, one row per changed setting."""
    form = ChangeFilterForm(request.GET or None, workspace=request.workspace)
    changes = form.filters().apply(workspace_changes(request.workspace))
    name = f"{request.workspace.slug}-changes-{timezone.now():%Y-%m-%d}.csv"
    return csv_response(CSV_HEADER, export_rows(changes), filename=name)


@workspace_view(PROVIDER_VIEW)
def item_changes(request: WorkspaceRequest, pk: int) -> HttpResponse:
    """An item's whole change history, page by page (the item page shows the first)."""
    items = InventoryItem.objects.select_related("connection").defer("raw")
    item = get_object_for_member(items, request.member, pk=pk)
    try:
        page = item_history_page(item, request.GET)
    except InvalidCursor:
        return invalid_cursor_page(request)
    context = {"item": item, "history": page}
    template = "inventory/changes_item.html"
    response = render(request, template + ("#item-history" if request.htmx else ""), context)
    patch_vary_headers(response, ("HX-Request",))
    return response
