"""Retention: what the product forgets, and when (docs/operations.md, "Retention").

Finished runs, audit events, notifications, finished task-queue rows and expired sessions older
than their setting (``RETENTION_*_DAYS``) are deleted oldest first, each kind through an index,
in batches of ``BATCH`` rows, each batch its own short transaction. A pass of the reaper loop
removes at most ``PASS_LIMIT`` rows of each kind and the next pass goes on; ``tenantatlas prune``
goes on until nothing is due. Every workspace that lost rows in a pass gets one
``retention.pruned`` audit event saying how many of each kind went.

Runs that stay whatever their age: a queued or running run, and a finished run that something
names as its latest: a connection's last sync (``TenantSummary.last_sync_run``) and a schedule's
last run (``OperationSchedule.last_run``). Everything else that points at a run keeps its own
dates and loses the link (``SET_NULL``): a change (``ItemChange.run``), a compliance snapshot,
an item's last sighting.

Audit events are append-only: their queryset refuses ``delete()``. Retention is the one
deletion, and it is audited itself.

Change history and alerts have their own retention (``inventory.changes.prune_changes``,
``alerts.ticks.prune``), run by the reaper's pass beside this one; ``prune_all`` (the command)
runs them too.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.sessions.models import Session
from django.db import models, transaction
from django.db.models import Exists, OuterRef
from django.tasks import TaskResultStatus
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from tenantatlas.alerts.ticks import prune as prune_alerts
from tenantatlas.audit.models import AuditEvent
from tenantatlas.audit.services import record_event
from tenantatlas.inventory.changes import prune_changes
from tenantatlas.inventory.models import ItemChange, TenantSummary
from tenantatlas.lib.actors import Actor
from tenantatlas.notifications.models import Notification
from tenantatlas.operations.models import ACTIVE_STATUSES, OperationRun, OperationSchedule
from tenantatlas.workspaces.models import Workspace

BATCH = 1000  # rows per transaction
PASS_LIMIT = 5000  # rows of each kind per reaper pass
FINISHED_TASKS = (TaskResultStatus.SUCCESSFUL, TaskResultStatus.FAILED)
ALERTS_COUNTED = 5000  # deliveries, and events, a dry run's look at alerts counts at most


def _audit_events() -> models.QuerySet[AuditEvent]:
    """Audit events past retention are the one deletion the audit log allows: through Django's
    plain QuerySet, since AuditEvent's own refuses it. The pass audits what it removed."""
    return models.QuerySet(AuditEvent)


def _finished_runs(before: dt.datetime) -> models.QuerySet[OperationRun]:
    latest_sync = TenantSummary.objects.filter(last_sync_run=OuterRef("pk"))
    schedules_last = OperationSchedule.objects.filter(last_run=OuterRef("pk"))
    # "Not active" rather than "terminal": the same rows (finished_at is set exactly when a run
    # ends), but a condition no index serves, so both databases read through run_finished.
    return (
        OperationRun.objects.filter(~Exists(latest_sync), ~Exists(schedules_last))
        .filter(finished_at__lt=before)
        .exclude(status__in=ACTIVE_STATUSES)
        .order_by("finished_at")
    )


@dataclass(frozen=True)
class Kind:
    """One kind of row retention removes."""

    name: str
    setting: str  # the Django setting with its age in days; "" = gone once past `due`'s instant
    due: Callable[[dt.datetime], models.QuerySet[Any]]  # rows older than the cutoff, oldest first
    rows: Callable[[], models.QuerySet[Any]]  # what deletes them
    per_workspace: bool = True

    def cutoff(self, now: dt.datetime) -> dt.datetime:
        if not self.setting:
            return now
        return now - dt.timedelta(days=int(getattr(settings, self.setting)))


KINDS: tuple[Kind, ...] = (
    Kind("runs", "RETENTION_RUNS_DAYS", _finished_runs, OperationRun.objects.all),
    Kind(
        "audit_events",
        "RETENTION_AUDIT_DAYS",
        lambda before: _audit_events().filter(created_at__lt=before).order_by("created_at"),
        _audit_events,
    ),
    Kind(
        "notifications",
        "RETENTION_NOTIFICATIONS_DAYS",
        lambda before: Notification.objects.filter(created_at__lt=before).order_by("created_at"),
        Notification.objects.all,
    ),
    Kind(
        "tasks",
        "RETENTION_TASKS_DAYS",
        lambda before: DBTaskResult.objects.filter(
            status__in=FINISHED_TASKS, finished_at__lt=before
        ).order_by("finished_at"),
        DBTaskResult.objects.all,
        per_workspace=False,
    ),
    Kind(
        "sessions",
        "",
        lambda now: Session.objects.filter(expire_date__lt=now).order_by("expire_date"),
        Session.objects.all,
        per_workspace=False,
    ),
)


def prune(
    *, actor: Actor, now: dt.datetime | None = None, limit: int | None = PASS_LIMIT
) -> dict[str, int]:
    """One pass: delete what is past retention, at most ``limit`` rows of each kind (None: all
    of it), and audit it per workspace. Returns how many rows of each kind went."""
    now = now or timezone.now()
    removed = dict.fromkeys((kind.name for kind in KINDS), 0)
    by_workspace: dict[int, Counter[str]] = defaultdict(Counter)
    try:
        for kind in KINDS:
            removed[kind.name] = _prune_kind(kind, now, limit, by_workspace)
    finally:
        # Also after a failure: what went before it is in the audit log.
        if by_workspace:
            _record(by_workspace, actor=actor)
    return removed


def prune_all(*, actor: Actor, now: dt.datetime | None = None) -> dict[str, int]:
    """Everything past retention, change history and alerts included (``tenantatlas prune``)."""
    now = now or timezone.now()
    removed = prune(actor=actor, now=now, limit=None)
    removed["changes"] = _until_done(lambda: prune_changes(now))
    removed["alerts"] = _until_done(lambda: prune_alerts(now))
    return removed


def count_due(now: dt.datetime | None = None) -> dict[str, int]:
    """How many rows of each kind ``prune_all`` would delete now (``prune --dry-run``), and of
    alerts at least how many: their rule is the alerts app's, so one pass of it is run in a
    transaction that is rolled back (``ALERTS_COUNTED`` says how many it can see)."""
    now = now or timezone.now()
    due = {kind.name: kind.due(kind.cutoff(now)).count() for kind in KINDS}
    changes_before = now - dt.timedelta(days=settings.CHANGE_RETENTION_DAYS)
    due["changes"] = ItemChange.objects.filter(detected_at__lt=changes_before).count()
    with transaction.atomic():
        due["alerts"] = prune_alerts(now, batch=ALERTS_COUNTED)
        transaction.set_rollback(True)
    return due


def _prune_kind(
    kind: Kind, now: dt.datetime, limit: int | None, by_workspace: dict[int, Counter[str]]
) -> int:
    due = kind.due(kind.cutoff(now))
    if not due.exists():  # the usual pass: one index probe, no write transaction
        return 0
    fields = ("pk", "workspace_id") if kind.per_workspace else ("pk",)
    removed = 0
    while limit is None or removed < limit:
        size = BATCH if limit is None else min(BATCH, limit - removed)
        with transaction.atomic():
            # Locked (PostgreSQL; SQLite's IMMEDIATE transactions serialise writers anyway), so
            # two reapers never delete, and audit, the same rows; each takes rows of its own.
            rows = list(due.select_for_update(skip_locked=True).values_list(*fields)[:size])
            if not rows:
                break
            kind.rows().filter(pk__in=[row[0] for row in rows]).only("pk").delete()
        removed += len(rows)
        if kind.per_workspace:
            for _, workspace_id in rows:
                by_workspace[workspace_id][kind.name] += 1
        if len(rows) < size:
            break
    return removed


def _record(by_workspace: dict[int, Counter[str]], *, actor: Actor) -> None:
    workspaces = Workspace.objects.in_bulk(list(by_workspace))
    days = {kind.name: getattr(settings, kind.setting) for kind in KINDS if kind.setting}
    with transaction.atomic():
        for workspace_id, counts in sorted(by_workspace.items()):
            workspace = workspaces.get(workspace_id)
            if workspace is None:  # deleted meanwhile, and its rows with it
                continue
            record_event(
                workspace=workspace,
                actor=actor,
                action="retention.pruned",
                metadata={
                    "removed": dict(counts),
                    "older_than_days": {name: days[name] for name in counts},
                },
            )


def _until_done(one_pass: Callable[[], int]) -> int:
    total = 0
    while removed := one_pass():
        total += removed
    return total
