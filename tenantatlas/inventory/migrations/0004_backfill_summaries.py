"""Mark the stored devices that were stale when observed, then fill the overview's
per-connection summaries and daily trend from what is already stored."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.db import migrations
from django.db.models import Count, ExpressionWrapper, F, DateTimeField, Q

STATES = {
    "compliant": "compliant",
    "noncompliant": "noncompliant",
    "inGracePeriod": "in_grace_period",
    "conflict": "conflict",
    "error": "error",
    "unknown": "unknown",
    "configManager": "config_manager",
}
COLUMNS = [*STATES.values(), "total"]


def backfill(apps: Any, schema_editor: Any) -> None:
    connection_model = apps.get_model("providers", "ProviderConnection")
    item_model = apps.get_model("inventory", "InventoryItem")
    snapshot_model = apps.get_model("inventory", "ComplianceSnapshot")
    run_model = apps.get_model("operations", "OperationRun")
    summary_model = apps.get_model("inventory", "TenantSummary")
    trend_model = apps.get_model("inventory", "ComplianceTrendDay")
    period = dt.timedelta(days=settings.COMPLIANCE_STALE_DAYS)
    cutoff = ExpressionWrapper(F("last_seen_at") - period, output_field=DateTimeField())
    item_model.objects.filter(kind="managed_device").alias(cutoff=cutoff).filter(
        Q(last_sync_at__isnull=True) | Q(last_sync_at__lt=F("cutoff"))
    ).update(is_stale=True)
    for conn in connection_model.objects.all().iterator():
        fields: dict[str, Any] = dict.fromkeys(COLUMNS, 0)
        devices = item_model.objects.filter(
            connection_id=conn.pk, kind="managed_device", removed_at__isnull=True
        )
        fields["stale"] = devices.filter(is_stale=True).count()
        for state, n in devices.order_by().values_list("compliance_state").annotate(n=Count("id")):
            fields[STATES.get(state, "unknown")] += n
            fields["total"] += n
        sync = (
            run_model.objects.filter(
                connection_id=conn.pk,
                operation_type="inventory.sync",
                status__in=["succeeded", "partially_succeeded"],
            )
            .order_by("-finished_at")
            .first()
        )
        snapshot = (
            snapshot_model.objects.filter(connection_id=conn.pk).order_by("-taken_at").first()
        )
        if sync is None and snapshot is None and not fields["total"]:
            continue
        summary_model.objects.update_or_create(
            connection_id=conn.pk,
            defaults={
                "workspace_id": conn.workspace_id,
                **fields,
                "last_sync_at": sync.finished_at if sync else None,
                "last_sync_status": sync.status if sync else "",
                "last_sync_run_id": sync.pk if sync else None,
                "last_snapshot_id": snapshot.pk if snapshot else None,
                "last_snapshot_at": snapshot.taken_at if snapshot else None,
            },
        )
    _backfill_trend(snapshot_model, trend_model)


def _backfill_trend(snapshot_model: Any, trend_model: Any) -> None:
    """Per workspace and day: every connection's latest snapshot up to that day, summed."""
    latest: dict[int, dict[int, Any]] = {}  # workspace → connection → snapshot
    days: dict[tuple[int, Any], Any] = {}
    snapshots = snapshot_model.objects.filter(connection__deleted_at__isnull=True)
    for snap in snapshots.order_by("taken_at", "id").iterator():
        latest.setdefault(snap.workspace_id, {})[snap.connection_id] = snap
        days[(snap.workspace_id, snap.taken_at.date())] = (
            snap.taken_at,
            dict(latest[snap.workspace_id]),
        )
    for (workspace_id, day), (taken_at, by_connection) in days.items():
        sums = {c: sum(getattr(s, c) for s in by_connection.values()) for c in [*COLUMNS, "stale"]}
        trend_model.objects.update_or_create(
            workspace_id=workspace_id,
            day=day,
            defaults={**sums, "connections": len(by_connection), "updated_at": taken_at},
        )


class Migration(migrations.Migration):
    dependencies = [
        ("inventory", "0003_overview_summaries"),
        ("operations", "0003_schedules"),
        ("providers", "0002_disabled_connections_are_never_default"),
    ]

    operations = [migrations.RunPython(backfill, migrations.RunPython.noop)]
