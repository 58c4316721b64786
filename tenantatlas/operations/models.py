"""Operation runs: the canonical record of every provider operation, and its lifecycle.

Every status change of a run is a method of RunQuerySet (``OperationRun.objects.claim(...)``,
``.finish(...)``, ``.fail_lost(...)`` ...), each one conditional UPDATE that answers whether it
happened, all of them checked against one table: TRANSITIONS. Nothing else writes ``status``
(a code-quality test holds the rest of the code to it). A transition into a terminal status
sends OperationRunCompleted once its transaction commits.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.db import models, transaction
from django.db.models import F, Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from tenantatlas.lib.reasons import get_reason
from tenantatlas.operations.events import send_run_completed, send_run_ended
from tenantatlas.workspaces.models import Workspace, WorkspaceScopedQuerySet


class RunStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    PARTIALLY_SUCCEEDED = "partially_succeeded", "Partially succeeded"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


ACTIVE_STATUSES = (RunStatus.QUEUED, RunStatus.RUNNING)
# What the overview and alerts count as a run that went wrong.
PROBLEM_STATUSES = (RunStatus.FAILED, RunStatus.PARTIALLY_SUCCEEDED)
TERMINAL_STATUSES = (
    RunStatus.SUCCEEDED,
    RunStatus.PARTIALLY_SUCCEEDED,
    RunStatus.FAILED,
    RunStatus.CANCELLED,
)

# Every status change a run may make: from-status → the statuses it may move to. A move to its
# own status keeps the run where it is while other fields change (a heartbeat, progress, a stop
# request, a redelivery). A terminal status moves nowhere.
TRANSITIONS: dict[str, frozenset[str]] = {
    RunStatus.QUEUED: frozenset(
        {RunStatus.QUEUED, RunStatus.RUNNING, RunStatus.CANCELLED, RunStatus.FAILED}
    ),
    RunStatus.RUNNING: frozenset({RunStatus.RUNNING, RunStatus.QUEUED, *TERMINAL_STATUSES}),
    **{status: frozenset() for status in TERMINAL_STATUSES},
}


class Trigger(models.TextChoices):
    UI = "ui", "Web"
    API = "api", "API"
    SCHEDULE = "schedule", "Schedule"
    CLI = "cli", "Command line"
    # Started by the product to finish what a person began earlier (a new credential's check
    # once the run that kept its connection busy has ended).
    FOLLOW_UP = "follow_up", "Follow-up"


class InvalidTransition(ValueError):
    """A move TRANSITIONS does not allow: a programming error; nothing was written."""


class RunQuerySet(WorkspaceScopedQuerySet):
    def active(self) -> RunQuerySet:
        return self.filter(status__in=ACTIVE_STATUSES)

    def move(self, sources: str | Iterable[str], to: str, **fields: Any) -> bool:
        """The one write of a run's status: the rows of this queryset that are in ``sources``
        move to ``to`` (setting ``fields``) in one conditional UPDATE. True if a row moved;
        False if none was in ``sources`` (someone else got there first). Callers ask for one of
        the named transitions below, each of one run; this is the step they share."""
        sources = (sources,) if isinstance(sources, str) else tuple(sources)
        refused = [source for source in sources if to not in TRANSITIONS[source]]
        if refused:
            raise InvalidTransition(f"A run cannot move from {', '.join(refused)} to {to}.")
        return bool(self.filter(status__in=sources).update(status=to, **fields))

    # queued → …

    def claim(self, run_id: int, *, now: dt.datetime) -> bool:
        """queued → running, if still queued and due (a worker takes it)."""
        due = Q(not_before__isnull=True) | Q(not_before__lte=now)
        return self.filter(due, pk=run_id).move(
            RunStatus.QUEUED,
            RunStatus.RUNNING,
            started_at=now,
            heartbeat_at=now,
            attempts=F("attempts") + 1,
            cancel_requested_at=None,
        )

    def redeliver(self, run_id: int, *, context: dict[str, Any], now: dt.datetime) -> bool:
        """queued stays queued, sent again: no worker took it in time."""
        return self.filter(pk=run_id).move(
            RunStatus.QUEUED, RunStatus.QUEUED, context=context, not_before=None, enqueued_at=now
        )

    def cancel_queued(self, run_id: int, *, message: str) -> bool:
        """queued → cancelled at once: it never started."""
        return self._end(
            run_id,
            RunStatus.QUEUED,
            RunStatus.CANCELLED,
            reason_code="run.cancelled",
            failure_message=message[:500],
        )

    def fail_unsent(self, run_id: int) -> bool:
        """queued → failed ``queue.unavailable``: the transport refused it, nobody will get it."""
        return self._fail(run_id, RunStatus.QUEUED, "queue.unavailable")

    def expire(self, run_id: int, *, now: dt.datetime) -> bool:
        """queued → failed ``run.worker_lost``: sent again and again, and no worker took it."""
        message = "No worker picked up this run; check that workers are running."
        return self._fail(run_id, RunStatus.QUEUED, "run.worker_lost", message, now=now)

    # running → …

    def beat(self, run_id: int) -> bool:
        """running stays running: its worker is alive (the reaper reads heartbeat_at)."""
        return self.filter(pk=run_id).move(
            RunStatus.RUNNING, RunStatus.RUNNING, heartbeat_at=timezone.now()
        )

    def progress(self, run_id: int, *, done: int, total: int | None) -> bool:
        """running stays running, this far through its work."""
        return self.filter(pk=run_id).move(
            RunStatus.RUNNING,
            RunStatus.RUNNING,
            progress_done=done,
            progress_total=total,
            heartbeat_at=timezone.now(),
        )

    def request_cancel(self, run_id: int) -> bool:
        """running stays running, asked to stop: it ends at its next page boundary."""
        return self.filter(pk=run_id, cancel_requested_at__isnull=True).move(
            RunStatus.RUNNING, RunStatus.RUNNING, cancel_requested_at=timezone.now()
        )

    def reschedule(self, run_id: int, *, not_before: dt.datetime, context: dict[str, Any]) -> bool:
        """running → queued until ``not_before`` (Microsoft said: retry later)."""
        return self.filter(pk=run_id).move(
            RunStatus.RUNNING,
            RunStatus.QUEUED,
            not_before=not_before,
            heartbeat_at=None,
            enqueued_at=not_before,
            context=context,
        )

    def hand_back(self, run_id: int, *, context: dict[str, Any]) -> bool:
        """running → queued for another worker now (this one is stopping); the attempt stays
        counted."""
        return self.filter(pk=run_id).move(
            RunStatus.RUNNING,
            RunStatus.QUEUED,
            heartbeat_at=None,
            not_before=None,
            enqueued_at=timezone.now(),
            context=context,
        )

    def finish(
        self,
        run_id: int,
        *,
        status: str,
        summary_counts: dict[str, Any],
        context: dict[str, Any],
        reason_code: str = "",
        message: str = "",
    ) -> bool:
        """running → a terminal status, if still running (the reaper may have ended it)."""
        done: dict[str, Any] = {"progress_done": Coalesce(F("progress_total"), F("progress_done"))}
        return self._end(
            run_id,
            RunStatus.RUNNING,
            status,
            summary_counts=summary_counts,
            context=context,
            reason_code=reason_code,
            failure_message=message[:500],
            **(done if status == RunStatus.SUCCEEDED else {}),
        )

    def fail_lost(
        self,
        run_id: int,
        message: str = "",
        *,
        stale_before: dt.datetime | None = None,
        now: dt.datetime | None = None,
    ) -> bool:
        """running → failed ``run.worker_lost``: its worker died (the transport saw it), or its
        heartbeat is older than ``stale_before`` (the reaper saw it)."""
        stale = Q()
        if stale_before is not None:
            stale = Q(heartbeat_at__lt=stale_before) | Q(heartbeat_at__isnull=True)
        return self._fail(
            run_id, RunStatus.RUNNING, "run.worker_lost", message, where=stale, now=now
        )

    def fail_disabled(self, run_id: int) -> bool:
        """running → failed ``provider.connection_disabled``: its connection was disabled after
        it was queued."""
        return self._fail(run_id, RunStatus.RUNNING, "provider.connection_disabled")

    # the terminal moves

    def _fail(
        self,
        run_id: int,
        source: str,
        reason_code: str,
        message: str = "",
        *,
        where: Q | None = None,
        now: dt.datetime | None = None,
    ) -> bool:
        message = message or get_reason(reason_code).message
        return self._end(
            run_id,
            source,
            RunStatus.FAILED,
            where=where,
            now=now,
            reason_code=reason_code,
            failure_message=message[:500],
        )

    def _end(
        self,
        run_id: int,
        source: str,
        to: str,
        *,
        where: Q | None = None,
        now: dt.datetime | None = None,
        **fields: Any,
    ) -> bool:
        """A move into a terminal status; OperationRunCompleted follows once it commits."""
        if to not in TERMINAL_STATUSES:
            raise InvalidTransition(f"{to} is not a terminal status.")
        rows = self.filter(where or Q(), pk=run_id)
        with transaction.atomic():
            ended = rows.move(source, to, finished_at=now or timezone.now(), **fields)
            if ended:
                send_run_ended(run_id)
                transaction.on_commit(lambda: self._announce(run_id))
        return ended

    def _announce(self, run_id: int) -> None:
        runs = self.model._default_manager.select_related("connection", "workspace", "requested_by")
        send_run_completed(runs.get(pk=run_id))


class OperationRun(models.Model):
    """One provider operation on one connection, from queued to a terminal status."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="runs")
    connection = models.ForeignKey(
        "providers.ProviderConnection", on_delete=models.PROTECT, related_name="runs"
    )
    operation_type = models.CharField(max_length=40)
    scope_key = models.CharField(max_length=120)
    status = models.CharField(max_length=20, choices=RunStatus.choices, default=RunStatus.QUEUED)
    trigger = models.CharField(max_length=20, choices=Trigger.choices, default=Trigger.UI)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    requested_by_label = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    enqueued_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    not_before = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    progress_done = models.PositiveIntegerField(default=0)
    progress_total = models.PositiveIntegerField(null=True, blank=True)
    summary_counts = models.JSONField(default=dict, blank=True)
    reason_code = models.CharField(max_length=60, blank=True)
    failure_message = models.CharField(max_length=500, blank=True)
    context = models.JSONField(default=dict, blank=True)
    cancel_requested_at = models.DateTimeField(null=True, blank=True)

    objects = RunQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["scope_key"],
                condition=Q(status__in=["queued", "running"]),
                name="run_one_active_per_scope",
            )
        ]
        indexes = [
            models.Index(fields=["workspace", "-created_at", "-id"], name="run_ws_created"),
            models.Index(fields=["workspace", "status"], name="run_ws_status"),
            # Monitoring filtered to one connection (and a status or type), newest first: an
            # ordered walk of the connection's runs instead of a sort of all of them.
            models.Index(
                fields=["connection", "-created_at", "-id"], name="run_connection_created"
            ),
            # Problem runs of the last 24 h (the overview), per workspace and per connection.
            models.Index(
                fields=["workspace", "status", "finished_at", "connection"],
                name="run_ws_status_finished",
            ),
            models.Index(fields=["status", "heartbeat_at"], name="run_status_heartbeat"),
            # Retention: finished runs, oldest first (finished_at is set exactly when a run
            # ends). Not a condition on status: SQLite would not use it for a bound IN list.
            models.Index(
                fields=["finished_at"], condition=Q(finished_at__isnull=False), name="run_finished"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.operation_type} #{self.pk}"

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_STATUSES

    @property
    def params(self) -> dict[str, str]:
        """What the start asked of the handler beyond the operation (services.start_operation)."""
        params = self.context.get("params")
        return dict(params) if isinstance(params, dict) else {}


class ScheduleQuerySet(WorkspaceScopedQuerySet):
    def due(self, now: object) -> ScheduleQuerySet:
        """Enabled schedules whose time has come, on live connections that are enabled: a
        disabled connection's schedules stay due, untouched, until it is enabled again."""
        return self.filter(
            enabled=True,
            next_run_at__lte=now,
            connection__deleted_at__isnull=True,
            connection__status="enabled",
        )


class OperationSchedule(models.Model):
    """A recurring operation on one connection; a start that meets a busy scope is skipped."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    connection = models.ForeignKey(
        "providers.ProviderConnection", on_delete=models.CASCADE, related_name="schedules"
    )
    operation_type = models.CharField(max_length=40)
    interval_minutes = models.PositiveIntegerField()
    enabled = models.BooleanField(default=True)
    next_run_at = models.DateTimeField()
    last_fired_at = models.DateTimeField(null=True, blank=True)
    last_outcome = models.CharField(max_length=30, blank=True)
    last_run = models.ForeignKey(
        OperationRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ScheduleQuerySet.as_manager()

    class Meta:
        ordering = ["connection", "operation_type"]
        constraints = [
            models.UniqueConstraint(
                fields=["connection", "operation_type"], name="schedule_one_per_operation"
            )
        ]
        indexes = [models.Index(fields=["enabled", "next_run_at"], name="schedule_due")]

    def __str__(self) -> str:
        return f"{self.operation_type} every {self.interval_minutes} min"
