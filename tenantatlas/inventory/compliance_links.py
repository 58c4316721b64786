"""Compliance history's counts as links to the devices they count.

The latest snapshot's counts (in the legend and in the table's first row) link to the devices
list filtered by the connection and Graph's compliance state, stale to `stale=1`, the total to
all the connection's devices. Older snapshots stay plain numbers: the list shows the devices as
they are now, which is what the latest snapshot counted.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from django.urls import reverse

from tenantatlas.inventory.charts import SERIES, STALE
from tenantatlas.inventory.models import ComplianceSnapshot, ComplianceState, InventoryKind

# Snapshot column → Graph's complianceState (IN_GRACE_PERIOD → in_grace_period → inGracePeriod).
STATE_OF_COLUMN = {state.name.lower(): state.value for state in ComplianceState}
# The table's count columns, in order.
COLUMNS = (
    "compliant",
    "noncompliant",
    "in_grace_period",
    "conflict",
    "error",
    "unknown",
    "config_manager",
    "stale",
    "total",
)


def devices_url(slug: str, connection_pk: int, column: str) -> str:
    """The devices list of the connection that `column` of a snapshot counts."""
    query: dict[str, Any] = {"kind": InventoryKind.MANAGED_DEVICE, "connection": connection_pk}
    if column == "stale":
        query["stale"] = "1"
    elif column in STATE_OF_COLUMN:
        query["compliance_state"] = STATE_OF_COLUMN[column]
    return reverse("inventory:list", args=[slug]) + "?" + urlencode(query)


def snapshot_links(slug: str, connection: Any, latest: ComplianceSnapshot | None) -> dict[str, str]:
    """Column → devices URL for the latest snapshot (nothing without one)."""
    if connection is None or latest is None:
        return {}
    return {column: devices_url(slug, connection.pk, column) for column in COLUMNS}


@dataclass(frozen=True)
class LegendEntry:
    label: str
    css_class: str
    count: int | None
    url: str


def legend_entries(
    slug: str, connection: Any, latest: ComplianceSnapshot | None
) -> list[LegendEntry]:
    """The chart's series with the latest counts, each linked to its devices."""
    if connection is None or latest is None:
        return []
    return [
        LegendEntry(
            series.label,
            series.css_class,
            getattr(latest, series.column),
            devices_url(slug, connection.pk, series.column),
        )
        for series in (*SERIES, STALE)
    ]


@dataclass(frozen=True)
class Cell:
    value: int
    url: str = ""


@dataclass(frozen=True)
class SnapshotRow:
    snapshot: ComplianceSnapshot
    cells: list[Cell]


def snapshot_rows(
    slug: str, connection: Any, snapshots: list[ComplianceSnapshot]
) -> list[SnapshotRow]:
    """The table's rows, newest first; the first one's counts link to their devices."""
    rows = []
    for index, snapshot in enumerate(snapshots):
        links = snapshot_links(slug, connection, snapshot) if index == 0 else {}
        cells = [Cell(getattr(snapshot, column), links.get(column, "")) for column in COLUMNS]
        rows.append(SnapshotRow(snapshot, cells))
    return rows
