"""Who changed what: Intune audit events matched to the changes a sync recorded.

After its kinds, an inventory sync that recorded changes of policies, configurations or apps
reads `GET /deviceManagement/auditEvents` for the window since the earliest previous
observation of those items (`activityDateTime gt …`, as Microsoft documents the filter) and
hands the events to `inventory.changes.attribute`, which gives each change the latest event on
its item inside its own window. Devices change without admins (check-ins, compliance
evaluation): their changes are not attributed. When the audit log cannot be read (no
permission, no Intune licence, throttled), the changes stay "unknown" and the run says why; the
sync itself is not failed for it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.db.models import Min

from tenantatlas.inventory.changes import attribute
from tenantatlas.inventory.models import InventoryKind, ItemChange
from tenantatlas.lib.reasons import ProviderError, RetryLater
from tenantatlas.providers.microsoft.mapping import _when

MARGIN = dt.timedelta(minutes=5)  # events are written a little after the change they record


@dataclass(frozen=True)
class AuditEvent:
    event_id: str
    resource_ids: frozenset[str]
    actor: str
    actor_type: str
    activity: str
    at: dt.datetime


def to_event(raw: dict[str, Any]) -> AuditEvent | None:
    at = _when(raw.get("activityDateTime"))
    if at is None:
        return None
    actor = raw.get("actor") or {}
    who = (
        actor.get("userPrincipalName")
        or actor.get("servicePrincipalName")
        or actor.get("applicationDisplayName")
        or ""
    )
    return AuditEvent(
        event_id=str(raw.get("id") or ""),
        resource_ids=frozenset(
            str(r.get("resourceId")) for r in raw.get("resources") or [] if r.get("resourceId")
        ),
        actor=str(who),
        actor_type=str(actor.get("type") or actor.get("auditActorType") or ""),
        activity=str(
            raw.get("activityType") or raw.get("activity") or raw.get("displayName") or ""
        ),
        at=at,
    )


def attribute_changes(client: Any, run_id: int) -> dict[str, Any]:
    """Attribute this run's changes; a summary for the run (`attributed`, `unknown`, `error`)."""
    changes = ItemChange.objects.filter(run_id=run_id).exclude(kind=InventoryKind.MANAGED_DEVICE)
    total = changes.count()
    if not total:
        return {}
    since = changes.aggregate(start=Min("previous_seen_at"))["start"]
    query: dict[str, Any] = {"$orderby": "activityDateTime desc"}
    if since is not None:
        start = (since - MARGIN).astimezone(dt.UTC)
        query["$filter"] = f"activityDateTime gt {start:%Y-%m-%dT%H:%M:%SZ}"
    try:
        events = [
            event
            for page in client.iter_pages("audit_events.list", query=query)
            for event in map(to_event, page)
            if event is not None
        ]
    except (ProviderError, RetryLater) as exc:
        code = getattr(exc, "reason_code", "graph.throttled")
        return {"attributed": 0, "unknown": total, "error": code}
    attributed = attribute(run_id, events)
    return {"attributed": attributed, "unknown": total - attributed}
