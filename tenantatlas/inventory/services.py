"""Writing observed inventory and compliance snapshots (called by provider modules in jobs).

Upserts are streamed page by page: one SELECT of the page's known hashes and one bulk upsert,
so memory and query count grow with the page size, never with the tenant. The observing run
arrives as ids (`SeenBy`): inventory knows connections and runs only as the rows it points at.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from tenantatlas.inventory.changes import Known, PageChanges, Tracking, record_removals
from tenantatlas.inventory.models import ComplianceSnapshot, InventoryItem, InventoryKind
from tenantatlas.inventory.observed import ObservedItem, SeenBy
from tenantatlas.inventory.stale import StaleRule, stale_device_rule
from tenantatlas.inventory.summaries import note_snapshot

UPSERT_FIELDS = [
    "display_name",
    "platform",
    "os_version",
    "compliance_state",
    "user_principal_name",
    "last_sync_at",
    "is_stale",
    "odata_type",
    "raw",
    "content_hash",
    "last_seen_at",
    "last_seen_run",
    "removed_at",
]
REMOVAL_CHUNK = 5_000
_UPSERT_COLUMNS = [f"{name}_id" if name == "last_seen_run" else name for name in UPSERT_FIELDS]


@dataclass
class KindCounts:
    seen: int = 0
    created: int = 0
    updated: int = 0
    removed: int = 0
    changes: int = 0  # change rows recorded (creations after the baseline, real changes)

    def as_dict(self) -> dict[str, int]:
        return {
            "seen": self.seen,
            "created": self.created,
            "updated": self.updated,
            "removed": self.removed,
            **({"changes": self.changes} if self.changes else {}),
        }


def _hash(raw: dict[str, Any]) -> str:
    return hashlib.sha1(
        json.dumps(raw, sort_keys=True, default=str).encode(), usedforsecurity=False
    ).hexdigest()


def upsert_page(
    seen_by: SeenBy,
    kind: str,
    items: Iterable[ObservedItem],
    counts: KindCounts,
    tracking: Tracking | None = None,
) -> None:
    """Insert new items, refresh known ones, and stamp all of them as seen by this run; with
    `tracking`, record what changed (inventory/changes.py) in the same transaction."""
    now = timezone.now()
    by_id: dict[str, ObservedItem] = {}
    for item in items:
        by_id[item.external_id] = item  # a page repeating an id keeps the last copy
    if not by_id:
        return
    stale = stale_device_rule(now)
    with transaction.atomic():
        known = _known(seen_by, kind, list(by_id))
        digests = {
            eid: tracking.fingerprint(item.raw) if tracking else _hash(item.raw)
            for eid, item in by_id.items()
        }
        for eid, digest in digests.items():
            if eid not in known:
                counts.created += 1
            elif (known[eid].content_hash, known[eid].removed_at) != (digest, None):
                counts.updated += 1  # changed, or back after having been marked removed
        page = None
        if tracking is not None:
            page = PageChanges.before_write(seen_by, kind, tracking, by_id, known, digests, now)
        rows = [_row(kind, item, digests[eid], stale) for eid, item in by_id.items()]
        _write(seen_by, kind, rows, now)
        if page is not None:
            counts.changes += page.after_write()
    counts.seen += len(rows)


def _known(seen_by: SeenBy, kind: str, external_ids: list[str]) -> dict[str, Known]:
    rows = InventoryItem.objects.filter(
        connection_id=seen_by.connection_id, kind=kind, external_id__in=external_ids
    ).values_list("external_id", "pk", "content_hash", "removed_at", "last_seen_at")
    return {eid: Known(pk, digest, removed, seen) for eid, pk, digest, removed, seen in rows}


def _row(kind: str, item: ObservedItem, digest: str, stale: StaleRule) -> dict[str, Any]:
    return {
        "external_id": item.external_id,
        "display_name": item.display_name[:300],
        "platform": item.platform[:60],
        "os_version": item.os_version[:60],
        "compliance_state": item.compliance_state[:20],
        "user_principal_name": item.user_principal_name[:300],
        "last_sync_at": item.last_sync_at,
        "is_stale": kind == InventoryKind.MANAGED_DEVICE and stale.is_stale(item.last_sync_at),
        "odata_type": item.odata_type[:120],
        "raw": item.raw,
        "content_hash": digest,
    }


def _write(seen_by: SeenBy, kind: str, rows: list[dict[str, Any]], now: dt.datetime) -> None:
    if connection.vendor == "postgresql":
        _upsert_postgresql(seen_by, kind, rows, now)
        return
    InventoryItem.objects.bulk_create(
        [
            InventoryItem(
                workspace_id=seen_by.workspace_id,
                connection_id=seen_by.connection_id,
                kind=kind,
                first_seen_at=now,
                last_seen_at=now,
                last_seen_run_id=seen_by.run_id,
                removed_at=None,
                **row,
            )
            for row in rows
        ],
        update_conflicts=True,
        unique_fields=["connection", "kind", "external_id"],
        update_fields=UPSERT_FIELDS,
    )


_PAGE_COLUMNS = (
    "external_id text, display_name text, platform text, os_version text, compliance_state text, "
    "user_principal_name text, last_sync_at timestamptz, is_stale boolean, odata_type text, raw jsonb, "
    "content_hash text"
)


def _upsert_postgresql(
    seen_by: SeenBy, kind: str, rows: list[dict[str, Any]], now: dt.datetime
) -> None:
    """One INSERT … ON CONFLICT for the page, sent as a single JSON document.

    PostgreSQL unpacks the page in C (jsonb_to_recordset); bulk_create would build a model
    instance and adapt every value of every row in Python, which made a 250,000-device sync
    spend most of its time preparing parameters.
    """
    table = connection.ops.quote_name(InventoryItem._meta.db_table)
    updates = ", ".join(f"{column} = EXCLUDED.{column}" for column in _UPSERT_COLUMNS)
    sql = f"""
        INSERT INTO {table} (
            workspace_id, connection_id, kind, first_seen_at, last_seen_at, last_seen_run_id,
            removed_at, external_id, display_name, platform, os_version, compliance_state,
            user_principal_name, last_sync_at, is_stale, odata_type, raw, content_hash
        )
        SELECT %s, %s, %s, %s, %s, %s, NULL, p.external_id, p.display_name, p.platform,
               p.os_version, p.compliance_state, p.user_principal_name, p.last_sync_at,
               p.is_stale, p.odata_type, p.raw, p.content_hash
        FROM jsonb_to_recordset(%s::jsonb) AS p({_PAGE_COLUMNS})
        ON CONFLICT (connection_id, kind, external_id) DO UPDATE SET {updates}
    """  # noqa: S608 - identifiers come from the model, values are parameters
    page = json.dumps(rows, cls=DjangoJSONEncoder)
    with connection.cursor() as cursor:
        ids = [seen_by.workspace_id, seen_by.connection_id]
        cursor.execute(sql, [*ids, kind, now, now, seen_by.run_id, page])


@transaction.atomic
def mark_removed(seen_by: SeenBy, kind: str, *, track: bool = False) -> int:
    """After a *complete* sync of a kind: items this run did not see are marked removed (with
    `track`, each gets a "removed" change row)."""
    gone = InventoryItem.objects.filter(
        connection_id=seen_by.connection_id, kind=kind, removed_at__isnull=True
    ).filter(Q(last_seen_run__isnull=True) | ~Q(last_seen_run_id=seen_by.run_id))
    now = timezone.now()
    if not track:
        return gone.update(removed_at=now)
    ids = list(gone.values_list("pk", flat=True))
    removed = 0
    for start in range(0, len(ids), REMOVAL_CHUNK):  # bounded IN lists (SQLite's variable limit)
        chunk = ids[start : start + REMOVAL_CHUNK]
        record_removals(seen_by, kind, chunk, now)
        removed += InventoryItem.objects.filter(pk__in=chunk).update(removed_at=now)
    return removed


def record_snapshot(
    seen_by: SeenBy,
    *,
    counts: dict[str, int],
    stale: int,
    stale_after_days: int,
    tenant_summary: dict[str, Any],
) -> ComplianceSnapshot:
    """Store the snapshot; it becomes the connection's latest and rewrites today's trend row."""
    snapshot = ComplianceSnapshot.objects.create(
        workspace_id=seen_by.workspace_id,
        connection_id=seen_by.connection_id,
        run_id=seen_by.run_id,
        taken_at=timezone.now(),
        compliant=counts.get("compliant", 0),
        noncompliant=counts.get("noncompliant", 0),
        in_grace_period=counts.get("inGracePeriod", 0),
        conflict=counts.get("conflict", 0),
        error=counts.get("error", 0),
        unknown=counts.get("unknown", 0),
        config_manager=counts.get("configManager", 0),
        stale=stale,
        stale_after_days=stale_after_days,
        total=sum(counts.values()),
        tenant_summary=tenant_summary,
    )
    note_snapshot(snapshot)
    return snapshot
