"""Per-connection summaries and the workspace's daily compliance trend, written when a sync or a
snapshot finishes, so the overview reads a few hundred precomputed rows, never the devices."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db import transaction
from django.db.models import Count, Sum
from django.utils import timezone

from tenantatlas.inventory.alert_events import snapshot_taken, sync_recorded
from tenantatlas.inventory.models import (
    STATE_COLUMNS,
    ComplianceSnapshot,
    ComplianceState,
    ComplianceTrendDay,
    InventoryItem,
    InventoryKind,
    TenantSummary,
)

if TYPE_CHECKING:
    from tenantatlas.inventory.observed import SeenBy

COUNT_COLUMNS = [*STATE_COLUMNS.values(), "total"]


def device_counts(connection_id: int) -> dict[str, int]:
    """The connection's present managed devices by compliance-state column, their total, and
    how many were stale when observed."""
    counts = dict.fromkeys([*COUNT_COLUMNS, "stale"], 0)
    rows = (
        InventoryItem.objects.filter(
            connection_id=connection_id,
            kind=InventoryKind.MANAGED_DEVICE,
            removed_at__isnull=True,
        )
        .order_by()
        .values_list("compliance_state", "is_stale")
        .annotate(n=Count("id"))
    )
    for state, stale, n in rows:
        column = STATE_COLUMNS.get(state, STATE_COLUMNS[ComplianceState.UNKNOWN])
        counts[column] += n
        counts["total"] += n
        counts["stale"] += n if stale else 0
    return counts


@transaction.atomic
def record_sync_summary(seen_by: SeenBy, *, status: str) -> TenantSummary:
    """A sync finished with data (succeeded or partially): recount its devices, note when."""
    now = timezone.now()
    summary, _ = TenantSummary.objects.update_or_create(
        connection_id=seen_by.connection_id,
        defaults={
            "workspace_id": seen_by.workspace_id,
            **device_counts(seen_by.connection_id),
            "last_sync_at": now,
            "last_sync_status": status,
            "last_sync_run_id": seen_by.run_id,
        },
    )
    sync_recorded(seen_by)
    return summary


@transaction.atomic
def note_snapshot(snapshot: ComplianceSnapshot) -> None:
    """A snapshot was recorded: it is its connection's latest, and today's trend row is
    the sum of every live connection's latest snapshot."""
    before = TenantSummary.objects.filter(connection_id=snapshot.connection_id).first()
    previous = before.last_snapshot if before is not None else None
    TenantSummary.objects.update_or_create(
        connection_id=snapshot.connection_id,
        defaults={
            "workspace_id": snapshot.workspace_id,
            "last_snapshot": snapshot,
            "last_snapshot_at": snapshot.taken_at,
        },
    )
    rewrite_trend_day(snapshot.workspace_id)
    snapshot_taken(snapshot, previous)


def rewrite_trend_day(workspace_id: int) -> ComplianceTrendDay:
    latest = TenantSummary.objects.filter(
        workspace_id=workspace_id,
        last_snapshot__isnull=False,
        connection__deleted_at__isnull=True,
    )
    columns = [*COUNT_COLUMNS, "stale"]
    sums = latest.aggregate(
        connections=Count("id"), **{c: Sum(f"last_snapshot__{c}") for c in columns}
    )
    now = timezone.now()
    row, _ = ComplianceTrendDay.objects.update_or_create(
        workspace_id=workspace_id,
        day=now.date(),
        defaults={**{key: value or 0 for key, value in sums.items()}, "updated_at": now},
    )
    return row
