"""Recording what each inventory sync found different: created, changed (setting by setting),
removed — and, from the tenant's audit events, who did it.

A sync hands every page to `upsert_page` with the kind's `Tracking` (its `Normalisation` from the
provider, and whether this is the kind's first observation, its baseline). An item whose
normalised fingerprint is unchanged costs nothing more; for the others the previous raw payload
is read before the page is written and diffed after, and one `ItemChange` row per real change is
written in the same transaction. A fingerprint that differs only because it was computed under
older rules produces an empty diff and no row.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from tenantatlas.inventory.diffs import diff, fingerprint
from tenantatlas.inventory.models import ChangeType, InventoryItem, ItemChange, TenantSummary

if TYPE_CHECKING:
    from tenantatlas.inventory.observed import ObservedItem, SeenBy


@dataclass(frozen=True)
class Tracking:
    """How one kind's changes are recorded by this sync."""

    normalise: Callable[[Mapping[str, Any]], dict[str, Any]]
    baseline: bool = False  # the kind's first sync on this connection: no "created" rows
    detected_at: dt.datetime | None = None

    def fingerprint(self, raw: Mapping[str, Any]) -> str:
        return fingerprint(self.normalise(raw))


@dataclass(frozen=True)
class Known:
    """What the inventory holds of one item before this page is written."""

    pk: int
    content_hash: str
    removed_at: dt.datetime | None
    last_seen_at: dt.datetime


@dataclass
class PageChanges:
    """The changes of one page: read what they need before the write, record them after."""

    seen_by: SeenBy
    kind: str
    tracking: Tracking
    detected_at: dt.datetime
    changed: dict[str, ItemChange] = field(default_factory=dict)  # external id → row
    created: dict[str, ObservedItem] = field(default_factory=dict)  # rows once they have ids

    @classmethod
    def before_write(
        cls,
        seen_by: SeenBy,
        kind: str,
        tracking: Tracking,
        items: Mapping[str, ObservedItem],
        known: Mapping[str, Known],
        digests: Mapping[str, str],
        now: dt.datetime,
    ) -> PageChanges:
        page = cls(seen_by, kind, tracking, tracking.detected_at or now)
        present = {eid for eid, k in known.items() if k.removed_at is None}
        differs = [eid for eid in present if digests[eid] != known[eid].content_hash]
        previous = dict(
            InventoryItem.objects.filter(pk__in=[known[eid].pk for eid in differs]).values_list(
                "external_id", "raw"
            )
            if differs
            else []
        )
        for eid in differs:
            changes = diff(
                tracking.normalise(previous.get(eid) or {}), tracking.normalise(items[eid].raw)
            )
            if changes:
                page.changed[eid] = page._row(
                    items[eid],
                    ChangeType.CHANGED,
                    known[eid].pk,
                    known[eid].last_seen_at,
                    [change.as_dict() for change in changes],
                )
        if not tracking.baseline:
            page.created = {eid: items[eid] for eid in items.keys() - present}
        return page

    def _row(
        self,
        item: ObservedItem,
        change_type: str,
        item_id: int,
        previous_seen_at: dt.datetime | None,
        changes: list[dict[str, Any]],
    ) -> ItemChange:
        return ItemChange(
            workspace_id=self.seen_by.workspace_id,
            connection_id=self.seen_by.connection_id,
            run_id=self.seen_by.run_id,
            item_id=item_id,
            kind=self.kind,
            change_type=change_type,
            display_name=item.display_name[:300],
            changes=changes,
            detected_at=self.detected_at,
            previous_seen_at=previous_seen_at,
        )

    def after_write(self) -> int:
        """Write the rows (new items now have ids); the number of changes recorded."""
        rows = list(self.changed.values())
        if self.created:
            ids = InventoryItem.objects.filter(
                connection_id=self.seen_by.connection_id,
                kind=self.kind,
                external_id__in=list(self.created),
            ).values_list("external_id", "pk")
            rows += [
                self._row(self.created[eid], ChangeType.CREATED, pk, None, []) for eid, pk in ids
            ]
        ItemChange.objects.bulk_create(rows, batch_size=500)
        return len(rows)


def record_removals(
    seen_by: SeenBy, kind: str, removed_ids: Iterable[int], now: dt.datetime
) -> None:
    """One "removed" row per item a complete sync no longer saw."""
    items = InventoryItem.objects.filter(pk__in=list(removed_ids)).values_list(
        "pk", "display_name", "last_seen_at"
    )
    ItemChange.objects.bulk_create(
        [
            ItemChange(
                workspace_id=seen_by.workspace_id,
                connection_id=seen_by.connection_id,
                run_id=seen_by.run_id,
                item_id=pk,
                kind=kind,
                change_type=ChangeType.REMOVED,
                display_name=name,
                detected_at=now,
                previous_seen_at=last_seen_at,
            )
            for pk, name, last_seen_at in items
        ],
        batch_size=500,
    )


def has_baseline(connection_id: int, kind: str) -> bool:
    """Whether a sync has read this kind of the connection completely before; until one has,
    every sync of it is its baseline (a first sync that failed half-way recorded no baseline,
    so the next one does not take the rest of the tenant for new items)."""
    kinds = (
        TenantSummary.objects.filter(connection_id=connection_id)
        .values_list("baselined_kinds", flat=True)
        .first()
    )
    return kind in (kinds or [])


@transaction.atomic
def note_baseline(seen_by: SeenBy, kind: str) -> None:
    """A sync read this kind completely: from now on its changes are recorded."""
    summary, _ = TenantSummary.objects.select_for_update().get_or_create(
        connection_id=seen_by.connection_id, defaults={"workspace_id": seen_by.workspace_id}
    )
    if kind not in summary.baselined_kinds:
        summary.baselined_kinds = [*summary.baselined_kinds, kind]
        summary.save(update_fields=["baselined_kinds"])


class AuditEventLike(Protocol):
    """An audit event as a provider maps it: who did what to which resource, when."""

    @property
    def event_id(self) -> str: ...
    @property
    def resource_ids(self) -> frozenset[str]: ...
    @property
    def actor(self) -> str: ...
    @property
    def actor_type(self) -> str: ...
    @property
    def activity(self) -> str: ...
    @property
    def at(self) -> dt.datetime: ...


ATTRIBUTION_FIELDS = ["actor", "actor_type", "activity", "activity_at", "audit_event_id"]


def attribute(run_id: int, events: Iterable[AuditEventLike]) -> int:
    """Attach to each change this run recorded the latest audit event on its item inside the
    item's window (after its previous observation, not after this detection). Returns how many
    changes were attributed; the others stay "unknown"."""
    by_resource: dict[str, list[AuditEventLike]] = {}
    for event in events:
        for resource in event.resource_ids:
            by_resource.setdefault(resource.lower(), []).append(event)
    changes = (
        ItemChange.objects.filter(run_id=run_id)
        .exclude(kind="managed_device")
        .select_related("item")
        .only("pk", "previous_seen_at", "detected_at", "item__external_id")
    )
    matched = []
    for change in changes:
        match = _latest_in_window(change, by_resource.get(change.item.external_id.lower(), []))
        if match is None:
            continue
        change.actor = match.actor[:300]
        change.actor_type = match.actor_type[:40]
        change.activity = match.activity[:200]
        change.activity_at = match.at
        change.audit_event_id = match.event_id[:64]
        matched.append(change)
    ItemChange.objects.bulk_update(matched, ATTRIBUTION_FIELDS, batch_size=500)
    return len(matched)


def _latest_in_window(change: ItemChange, events: list[AuditEventLike]) -> AuditEventLike | None:
    start, end = change.previous_seen_at, change.detected_at
    inside = [e for e in events if (start is None or e.at > start) and e.at <= end]
    return max(inside, key=lambda e: e.at, default=None)


PRUNE_BATCH = 1000
PRUNE_BATCHES_PER_PASS = 20


def prune_changes(now: dt.datetime | None = None, *, days: int | None = None) -> int:
    """Delete change rows older than the retention period, in bounded batches (each its own
    short transaction, so no table stays locked); at most a few batches per call, the next
    pass of the reaper loop goes on. Returns how many rows went."""
    keep = settings.CHANGE_RETENTION_DAYS if days is None else days
    cutoff = (now or timezone.now()) - dt.timedelta(days=keep)
    pruned = 0
    for _ in range(PRUNE_BATCHES_PER_PASS):
        batch = list(
            ItemChange.objects.filter(detected_at__lt=cutoff)
            .order_by("detected_at")
            .values_list("pk", flat=True)[:PRUNE_BATCH]
        )
        if not batch:
            break
        pruned += ItemChange.objects.filter(pk__in=batch).delete()[0]
    return pruned
