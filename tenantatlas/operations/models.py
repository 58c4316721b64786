"""Operation runs: the canonical record of every provider operation."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from tenantatlas.lib.reasons import get_reason
from tenantatlas.workspaces.models import Workspace, WorkspaceScopedQuerySet


class RunStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    PARTIALLY_SUCCEEDED = "partially_succeeded", "Partially succeeded"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


ACTIVE_STATUSES = (RunStatus.QUEUED, RunStatus.RUNNING)
TERMINAL_STATUSES = (
    RunStatus.SUCCEEDED,
    RunStatus.PARTIALLY_SUCCEEDED,
    RunStatus.FAILED,
    RunStatus.CANCELLED,
)


class Trigger(models.TextChoices):
    UI = "ui", "Web"
    API = "api", "API"
    SCHEDULE = "schedule", "Schedule"
    CLI = "cli", "Command line"


class RunQuerySet(WorkspaceScopedQuerySet):
    def active(self) -> RunQuerySet:
        return self.filter(status__in=ACTIVE_STATUSES)

    def fail(self, reason_code: str, message: str = "", *, now: dt.datetime | None = None) -> int:
        """queued/running → failed with a reason code; rows that already ended stay as they are."""
        return self.active().update(
            status=RunStatus.FAILED,
            finished_at=now or timezone.now(),
            reason_code=reason_code,
            failure_message=(message or get_reason(reason_code).message)[:500],
        )

    def hand_back(self, *, context: dict[str, Any]) -> int:
        """running → queued for another worker (this one is stopping); the attempt stays counted."""
        return self.filter(status=RunStatus.RUNNING).update(
            status=RunStatus.QUEUED,
            heartbeat_at=None,
            not_before=None,
            enqueued_at=timezone.now(),
            context=context,
        )


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
            models.Index(fields=["status", "heartbeat_at"], name="run_status_heartbeat"),
        ]

    def __str__(self) -> str:
        return f"{self.operation_type} #{self.pk}"

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_STATUSES


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
