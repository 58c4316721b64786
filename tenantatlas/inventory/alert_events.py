"""The inventory's alert events: a snapshot's non-compliant share (raised with the snapshot),
a sync's changes (raised with its summary), and data getting old (a scan on the reaper's tick,
one per rule, since each rule says how old is too old).
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.db.models import Count
from django.urls import reverse

from tenantatlas.alerts.models import AlertEvent, AlertRule, EventKind, Severity
from tenantatlas.alerts.services import NewEvent, listening, raise_event
from tenantatlas.inventory.models import InventoryKind, ItemChange, TenantSummary

if TYPE_CHECKING:
    from tenantatlas.inventory.models import ComplianceSnapshot
    from tenantatlas.inventory.observed import SeenBy


def noncompliant_share(snapshot: ComplianceSnapshot | None) -> float | None:
    """Percent of the snapshot's devices that are not compliant, one decimal; None: no devices."""
    if snapshot is None or not snapshot.total:
        return None
    return round(100.0 * snapshot.noncompliant / snapshot.total, 1)


def snapshot_taken(snapshot: ComplianceSnapshot, previous: ComplianceSnapshot | None) -> None:
    """Every snapshot is an event with its share and the one before; each compliance rule's
    condition (above N %, up by N points) decides whether it alerts (alerts.services)."""
    if not listening(snapshot.workspace_id, EventKind.COMPLIANCE):
        return
    share, before = noncompliant_share(snapshot), noncompliant_share(previous)
    if share is None:
        return
    connection = snapshot.connection
    change = "" if before is None else f" (was {before:g} % at the snapshot before)"
    raise_event(
        NewEvent(
            workspace_id=snapshot.workspace_id,
            kind=EventKind.COMPLIANCE,
            severity=Severity.WARNING,
            key=f"snapshot:{snapshot.pk}",
            title=f"{share:g} % of devices not compliant: {connection.display_name}",
            body=f"{snapshot.noncompliant} of {snapshot.total} managed devices are not compliant{change}.",
            path=reverse("inventory:compliance", kwargs={"slug": connection.workspace.slug})
            + f"?connection={connection.pk}",
            connection_id=connection.pk,
            occurred_at=snapshot.taken_at,
            facts={
                "snapshot_id": snapshot.pk,
                "noncompliant": snapshot.noncompliant,
                "total": snapshot.total,
                "noncompliant_share": share,
                "previous_noncompliant_share": before,
            },
        )
    )


def sync_recorded(seen_by: SeenBy) -> None:
    """A sync that found changes is one event with their counts by kind; each rule says which
    kinds it wants (alerts.services)."""
    if seen_by.run_id is None or not listening(seen_by.workspace_id, EventKind.CHANGES):
        return
    counts = dict(
        ItemChange.objects.filter(run_id=seen_by.run_id)
        .order_by()
        .values_list("kind")
        .annotate(n=Count("id"))
    )
    total = sum(counts.values())
    if not total:
        return
    summary = TenantSummary.objects.select_related("connection__workspace").get(
        connection_id=seen_by.connection_id
    )
    connection = summary.connection
    kinds = ", ".join(
        f"{InventoryKind(kind).label if kind in InventoryKind.values else kind}: {n}"
        for kind, n in sorted(counts.items())
    )
    raise_event(
        NewEvent(
            workspace_id=seen_by.workspace_id,
            kind=EventKind.CHANGES,
            severity=Severity.INFO,
            key=f"changes:{seen_by.run_id}",
            title=f"{total} inventory change{'s' if total != 1 else ''}: {connection.display_name}",
            body=f"Detected by the last sync ({kinds}).",
            path=reverse("inventory:changes", kwargs={"slug": connection.workspace.slug})
            + f"?run={seen_by.run_id}",
            connection_id=connection.pk,
            facts={"run_id": seen_by.run_id, "changes_by_kind": counts},
        )
    )


def scan_stale_data(now: dt.datetime) -> int:
    """For each enabled data.stale rule: every live, enabled connection in its scope whose last
    successful sync or snapshot is older than the rule's hours (or that has none and is older
    than that itself) is announced once per spell (the key holds the last success's time)."""
    raised = 0
    rules = AlertRule.objects.filter(event_kind=EventKind.DATA_STALE, is_enabled=True)
    for rule in rules.select_related("workspace").prefetch_related("connections"):
        hours = int((rule.params or {}).get("hours") or 24)
        before = now - dt.timedelta(hours=hours)
        connections = rule.workspace.connections.filter(
            deleted_at__isnull=True, status="enabled", created_at__lt=before
        )
        if not rule.all_connections:
            connections = connections.filter(pk__in=[c.pk for c in rule.connections.all()])
        summaries = {
            s.connection_id: s
            for s in TenantSummary.objects.filter(connection__in=connections).only(
                "connection_id", "last_sync_at", "last_snapshot_at"
            )
        }
        for connection in connections.order_by("pk"):
            summary = summaries.get(connection.pk)
            for what in ("sync", "snapshot"):
                last = getattr(summary, f"last_{what}_at") if summary else None
                if last is not None and last >= before:
                    continue
                raised += _stale(rule, connection, what, last, hours, now)
    return raised


def _stale(
    rule: AlertRule,
    connection: Any,
    what: str,
    last: dt.datetime | None,
    hours: int,
    now: dt.datetime,
) -> int:
    key = f"stale:{rule.pk}:{connection.pk}:{what}:{last.isoformat() if last else 'never'}"
    if AlertEvent.objects.filter(workspace_id=rule.workspace_id, key=key).exists():
        return 0
    label = "inventory sync" if what == "sync" else "compliance snapshot"
    since = f"since {last:%Y-%m-%d %H:%M} UTC" if last else "ever"
    with transaction.atomic():
        event = raise_event(
            NewEvent(
                workspace_id=rule.workspace_id,
                kind=EventKind.DATA_STALE,
                severity=Severity.WARNING,
                key=key,
                rule_id=rule.pk,
                title=f"No successful {label} for {hours} h: {connection.display_name}",
                body=f"The last successful {label} of this connection: {since}.",
                path=reverse(
                    "providers:detail", kwargs={"slug": rule.workspace.slug, "pk": connection.pk}
                ),
                connection_id=connection.pk,
                occurred_at=now,
                facts={
                    "what": what,
                    "last_success_at": last.isoformat() if last else None,
                    "hours": hours,
                },
            )
        )
    return int(event is not None)
