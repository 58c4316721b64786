"""The inventory list as CSV: the columns the list shows, read in keyset chunks, never `raw`.

`export_rows` walks the filtered list in its own order (name, id) `CHUNK` rows at a time, each
chunk one indexed range query of plain values, so a 250,000-device export holds one chunk in
memory at a time (bench/b_inventory_csv.py measures it).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from typing import Any

from django.utils import timezone
from django.utils.text import slugify

from tenantatlas.inventory.labels import item_platform, item_type
from tenantatlas.inventory.models import ComplianceState, InventoryKind
from tenantatlas.lib.keyset import Keyset, decode_str

CHUNK = 2000
# The list's ordering, matching the index inv_ws_kind_name (workspace, kind, display_name).
BY_NAME = Keyset("display_name", decode=decode_str)

DEVICE_HEADER = (
    "Device",
    "Graph id",
    "User (UPN)",
    "OS",
    "OS version",
    "Compliance",
    "Last sync (UTC)",
    "Connection",
    "Removed (UTC)",
)
_DEVICE_FIELDS = (
    "external_id",
    "user_principal_name",
    "platform",
    "os_version",
    "compliance_state",
    "last_sync_at",
    "connection__display_name",
    "removed_at",
)
ITEM_HEADER = (
    "Name",
    "Graph id",
    "Type",
    "Platform",
    "Last seen (UTC)",
    "Connection",
    "Removed (UTC)",
)
_ITEM_FIELDS = (
    "external_id",
    "odata_type",
    "last_seen_at",
    "connection__display_name",
    "removed_at",
)
_SETTINGS_CATALOG_FIELDS = ("graph_platforms", "template_family")
_STATES = dict(ComplianceState.choices)


def _when(value: dt.datetime | None) -> str:
    return value.astimezone(dt.UTC).isoformat(timespec="seconds") if value else ""


def header(kind: str) -> Sequence[str]:
    return DEVICE_HEADER if kind == InventoryKind.MANAGED_DEVICE else ITEM_HEADER


def _values(items: Any, fields: Sequence[str]) -> Iterator[tuple[Any, ...]]:
    """(display_name, id, *fields) of every item, in keyset chunks of CHUNK rows."""
    ordered = items.order_by(*BY_NAME.order())
    cursor: tuple[str, int] | None = None
    while True:
        chunk = ordered if cursor is None else BY_NAME.beyond(ordered, cursor, reverse=False)
        rows = list(chunk.values_list("display_name", "id", *fields)[:CHUNK])
        yield from rows
        if len(rows) < CHUNK:
            return
        cursor = (rows[-1][0], rows[-1][1])


def export_rows(kind: str, items: Any) -> Iterator[tuple[Any, ...]]:
    """The CSV rows of `items` (a filtered list of one kind) in the list's order."""
    if kind == InventoryKind.MANAGED_DEVICE:
        for name, _, graph_id, upn, system, version, state, synced, conn, removed in _values(
            items, _DEVICE_FIELDS
        ):
            yield (
                name or graph_id,
                graph_id,
                upn,
                system,
                version,
                _STATES.get(state, state),
                _when(synced),
                conn,
                _when(removed),
            )
        return
    settings_catalog = kind == InventoryKind.CONFIGURATION_POLICY
    fields = (*_ITEM_FIELDS, *(_SETTINGS_CATALOG_FIELDS if settings_catalog else ()))
    for name, _, graph_id, odata_type, seen, conn, removed, *catalog in _values(items, fields):
        platforms, family = catalog or (None, None)
        yield (
            name or graph_id,
            graph_id,
            item_type(kind, odata_type, family),
            item_platform(kind, odata_type, platforms),
            _when(seen),
            conn,
            _when(removed),
        )


def filename(workspace_slug: str, kind: str) -> str:
    """`acme-managed-devices-2026-12-01.csv`: the workspace, the kind and today (UTC)."""
    label = dict(InventoryKind.choices).get(kind, kind)
    return f"{workspace_slug}-{slugify(label)}-{timezone.now():%Y-%m-%d}.csv"
