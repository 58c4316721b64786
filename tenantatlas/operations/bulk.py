"""One operation on many connections at once ("Run on all shown…", ``POST /runs/bulk``).

Every connection goes through the start gate on its own (``start_operation``): its own
transaction, its own scope lock and audit row, so one refusal or failure never undoes the others.
The request is answered with a summary (started / already running / busy / skipped, with counts
and a bounded list of names per group) and audited once with its counts.

Nothing here calls Microsoft: a start only queues a run. The cost per connection is the gate's
own (lock, re-read, active-run check, insert, audit, enqueue); the connections are read once.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import models, transaction

from tenantatlas.audit.services import record_event
from tenantatlas.lib.actors import Actor
from tenantatlas.lib.errors import Refused
from tenantatlas.operations.models import OperationRun, RunStatus, Trigger
from tenantatlas.operations.registry import OPERATIONS, get_operation
from tenantatlas.operations.services import (
    QUEUE_UNAVAILABLE,
    ConnectionDisabled,
    QueueUnavailable,
    ScopeBusy,
    start_operation,
)
from tenantatlas.operations.targets import RunTarget
from tenantatlas.workspaces.capabilities import can
from tenantatlas.workspaces.models import Membership

logger = logging.getLogger(__name__)

# Names listed per group (the counts are always exact): enough to act on, bounded at any size.
LISTED_PER_GROUP = 50

# Why a connection was skipped (``BulkItem.reason`` in the skipped group).
DISABLED = "connection_disabled"
NOT_PERMITTED = "forbidden"
SKIP_REASONS: dict[str, str] = {
    DISABLED: "disabled",
    NOT_PERMITTED: "not permitted",
    QUEUE_UNAVAILABLE: "not started: the queue is unavailable",
    "deleted": "deleted meanwhile",
}


GROUP_TITLES: dict[str, str] = {
    "started": "Started",
    "deduplicated": "Already running",
    "busy": "Busy",
    "skipped": "Skipped",
}


@dataclass(frozen=True)
class BulkItem:
    """One connection in a group: its run (started, already running, or the one keeping it busy)
    and, when skipped or busy, why."""

    connection_id: int
    name: str
    run_id: int | None = None
    reason: str = ""  # skipped: a key of SKIP_REASONS (or a refusal's code); busy: the active run

    @property
    def reason_text(self) -> str:
        return SKIP_REASONS.get(self.reason, self.reason)


@dataclass
class BulkGroup:
    """The connections of one outcome: all counted (also per reason), the first ones listed."""

    count: int = 0
    items: list[BulkItem] = field(default_factory=list)
    reasons: dict[str, int] = field(default_factory=dict)

    def add(self, item: BulkItem) -> None:
        self.count += 1
        if item.reason:
            self.reasons[item.reason] = self.reasons.get(item.reason, 0) + 1
        if len(self.items) < LISTED_PER_GROUP:
            self.items.append(item)

    @property
    def more(self) -> int:
        """Connections counted but not listed."""
        return self.count - len(self.items)


@dataclass
class BulkStartSummary:
    """What a bulk start did, per group. ``stopped`` names why it ended early (the queue refused
    a run: every further start would have been failed the same way), else it is empty."""

    operation_type: str
    started: BulkGroup = field(default_factory=BulkGroup)
    deduplicated: BulkGroup = field(default_factory=BulkGroup)
    busy: BulkGroup = field(default_factory=BulkGroup)
    skipped: BulkGroup = field(default_factory=BulkGroup)
    stopped: str = ""

    @property
    def label(self) -> str:
        return OPERATIONS[self.operation_type].label

    @property
    def total(self) -> int:
        return self.started.count + self.deduplicated.count + self.busy.count + self.skipped.count

    def groups(self) -> list[tuple[str, str, BulkGroup]]:
        """(key, title, group) in the order a summary shows them."""
        return [(key, title, getattr(self, key)) for key, title in GROUP_TITLES.items()]

    def counts(self) -> dict[str, int]:
        return {
            "total": self.total,
            "started": self.started.count,
            "deduplicated": self.deduplicated.count,
            "busy": self.busy.count,
            "skipped": self.skipped.count,
        }

    @property
    def message(self) -> str:
        """One line for a toast: "Connection check: 30 started, 2 already running, …"."""
        parts = [f"{self.started.count} started"]
        if self.deduplicated.count:
            parts.append(f"{self.deduplicated.count} already running")
        if self.busy.count:
            parts.append(f"{self.busy.count} busy")
        if self.skipped.count:
            parts.append(f"{self.skipped.count} skipped")
        return f"{self.label}: {', '.join(parts)}."


def _busy_reason(run: OperationRun) -> str:
    state = "queued" if run.status == RunStatus.QUEUED else "running"
    return f"{OPERATIONS[run.operation_type].label} is {state}"


def start_on_connections(
    *,
    actor: Actor,
    member: Membership,
    operation_type: str,
    connections: models.QuerySet[Any] | None = None,
    trigger: str = Trigger.UI,
    filters: Mapping[str, str] | None = None,
) -> BulkStartSummary:
    """Start ``operation_type`` on each live connection of ``connections`` (default: all of the
    member's workspace), in their order. Disabled ones are skipped without a start.

    Raises UnknownOperation, or PermissionDenied when the member may not start it (nothing is
    started then). Call it outside a transaction: each start commits on its own. ``filters``
    (the list's filter that chose the connections) goes into the audit entry.
    """
    op = get_operation(operation_type)
    if not can(member, op.capability):
        raise PermissionDenied(f"Your role does not allow {op.capability}")
    workspace = member.workspace
    chosen = connections if connections is not None else workspace.connections.all()
    targets: list[RunTarget] = list(
        chosen.filter(workspace=workspace, deleted_at__isnull=True).select_related("workspace")
    )
    summary = BulkStartSummary(operation_type=op.key)
    try:
        for target in targets:
            _start_one(summary, target, actor=actor, member=member, trigger=trigger)
    finally:
        # Also when something unexpected ends the loop: what was started stays started.
        _audit(summary, actor=actor, member=member, trigger=trigger, filters=filters)
    return summary


def _start_one(
    summary: BulkStartSummary, target: RunTarget, *, actor: Actor, member: Membership, trigger: str
) -> None:
    item = BulkItem(connection_id=target.pk, name=target.display_name)
    if summary.stopped:
        summary.skipped.add(_with(item, reason=summary.stopped))
        return
    if not target.is_enabled:
        summary.skipped.add(_with(item, reason=DISABLED))
        return
    try:
        result = start_operation(
            actor=actor,
            member=member,
            connection=target,
            operation_type=summary.operation_type,
            trigger=trigger,
        )
    except ScopeBusy as exc:
        run = exc.active_run
        summary.busy.add(_with(item, run_id=run.pk, reason=_busy_reason(run)))
    except ConnectionDisabled:
        summary.skipped.add(_with(item, reason=DISABLED))  # disabled since it was read
    except QueueUnavailable as exc:
        logger.warning("Bulk start stopped: the queue refused run %s", exc.details.get("run_id"))
        summary.stopped = QUEUE_UNAVAILABLE
        summary.skipped.add(_with(item, run_id=exc.details.get("run_id"), reason=exc.code))
    except PermissionDenied:
        summary.skipped.add(_with(item, reason=NOT_PERMITTED))
    except Refused as exc:
        summary.skipped.add(_with(item, reason=exc.code))
    else:
        group = summary.started if result.created else summary.deduplicated
        group.add(_with(item, run_id=result.run.pk))


def _with(item: BulkItem, *, run_id: int | None = None, reason: str = "") -> BulkItem:
    return BulkItem(connection_id=item.connection_id, name=item.name, run_id=run_id, reason=reason)


def _audit(
    summary: BulkStartSummary,
    *,
    actor: Actor,
    member: Membership,
    trigger: str,
    filters: Mapping[str, str] | None,
) -> None:
    """The bulk start's own entry (each run has its own besides): its counts and filter."""
    with transaction.atomic():
        record_event(
            workspace=member.workspace,
            actor=actor,
            action="operation.bulk_started",
            metadata={
                "operation_type": summary.operation_type,
                "trigger": trigger,
                "filters": {key: value for key, value in (filters or {}).items() if value},
                **summary.counts(),
                "skipped_reasons": summary.skipped.reasons,
                "stopped": summary.stopped,
            },
        )
