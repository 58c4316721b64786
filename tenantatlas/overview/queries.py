"""What the overview pages show, read from the database in a fixed number of queries.

Every figure is an aggregate over precomputed rows (connections, their credentials, the
per-connection `TenantSummary` written by syncs and snapshots, the daily `ComplianceTrendDay`)
or an indexed count (problem runs of the last 24 h), so neither the number of queries nor their
cost grows with the number of devices or runs; devices are never read.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count, F, FloatField, Q, QuerySet, Sum
from django.db.models.functions import Cast, Coalesce, NullIf
from django.utils import timezone

from tenantatlas.inventory.models import (
    STATE_COLUMNS,
    ChangeType,
    ComplianceTrendDay,
    ItemChange,
)
from tenantatlas.operations.models import PROBLEM_STATUSES, OperationRun
from tenantatlas.providers.models import (
    ConnectionStatus,
    Health,
    ProviderConnection,
    current_credential_relations,
)
from tenantatlas.workspaces.models import Workspace

PROBLEM_WINDOW = dt.timedelta(hours=24)
EXPIRY_WINDOWS = (7, 30, 60)  # days; the overview's credential buckets
SYNC, SNAPSHOT = "inventory.sync", "compliance.snapshot"
HEALTH_ORDER = (Health.UNHEALTHY, Health.DEGRADED, Health.HEALTHY, Health.UNKNOWN)
COUNT_COLUMNS = [*STATE_COLUMNS.values(), "total", "stale"]


def problem_runs(workspace_ids: list[int], now: dt.datetime | None = None) -> QuerySet[Any]:
    since = (now or timezone.now()) - PROBLEM_WINDOW
    return OperationRun.objects.filter(
        workspace_id__in=workspace_ids, status__in=PROBLEM_STATUSES, finished_at__gte=since
    )


@dataclass
class ExpiryCounts:
    expired: int = 0
    within: dict[int, int] = field(default_factory=dict)  # days → expiring within, not expired

    @property
    def soon(self) -> int:
        """Expired or expiring within the widest window the overview shows."""
        return self.expired + self.within.get(EXPIRY_WINDOWS[-1], 0)


@dataclass
class WorkspaceFigures:
    """A workspace's live connections summed: by health, their devices, their credentials."""

    health: dict[str, int]  # enabled connections by health, and how many are disabled
    devices: dict[str, int]  # COUNT_COLUMNS → summed over the connections' summaries
    expiry: ExpiryCounts  # current credentials expired or expiring in N days

    @classmethod
    def empty(cls) -> WorkspaceFigures:
        """A workspace without live connections (no health at all: "No connections")."""
        return cls({}, dict.fromkeys(COUNT_COLUMNS, 0), ExpiryCounts())


def workspace_figures(
    workspace_ids: list[int], now: dt.datetime | None = None
) -> dict[int, WorkspaceFigures]:
    """Per workspace with live connections, in one pass over them: each is joined to at most
    one summary and one current credential, so counting and summing per group stays exact."""
    now = now or timezone.now()
    expires = "credential_expires_at"  # the connection's own credential or its partner app's
    windows = {
        f"d{days}": Count(
            "id",
            filter=Q(**{f"{expires}__gt": now, f"{expires}__lte": now + dt.timedelta(days=days)}),
        )
        for days in EXPIRY_WINDOWS
    }
    rows = (
        ProviderConnection.objects.live()
        .filter(workspace_id__in=workspace_ids)
        .annotate(**current_credential_relations())
        .alias(
            credential_expires_at=Coalesce(
                F("live_credential__expires_at"), F("partner_credential__expires_at")
            )
        )
        .values("workspace_id", "status", "health")
        .annotate(
            n=Count("id"),
            expired=Count("id", filter=Q(**{f"{expires}__lte": now})),
            **windows,
            **{column: Sum(f"tenant_summary__{column}") for column in COUNT_COLUMNS},
        )
        .order_by()
    )
    figures: dict[int, WorkspaceFigures] = {}
    for row in rows:
        found = figures.setdefault(
            row["workspace_id"],
            WorkspaceFigures(
                {**dict.fromkeys(HEALTH_ORDER, 0), "disabled": 0},
                dict.fromkeys(COUNT_COLUMNS, 0),
                ExpiryCounts(0, dict.fromkeys(EXPIRY_WINDOWS, 0)),
            ),
        )
        key = "disabled" if row["status"] == ConnectionStatus.DISABLED else row["health"]
        found.health[key] = found.health.get(key, 0) + row["n"]
        for column in COUNT_COLUMNS:
            found.devices[column] += row[column] or 0
        found.expiry.expired += row["expired"]
        for days in EXPIRY_WINDOWS:
            found.expiry.within[days] += row[f"d{days}"]
    return figures


def compliance_share(compliant: int, total: int) -> float | None:
    return None if not total else compliant / total


def compliant_share_expression() -> Any:
    return Cast(F("tenant_summary__compliant"), FloatField()) / NullIf(
        F("tenant_summary__total"), 0
    )


def problem_counts(workspace_ids: list[int], now: dt.datetime | None = None) -> dict[int, int]:
    rows = problem_runs(workspace_ids, now).values_list("workspace_id").annotate(n=Count("id"))
    return dict(rows.order_by())


def problem_runs_by_connection(
    workspace: Workspace, now: dt.datetime | None = None
) -> dict[int | None, int]:
    """The workspace's problem runs of the last 24 h per connection: one scan of the index for
    the overview's card (their sum) and its tenant rows."""
    rows = problem_runs([workspace.pk], now).values_list("connection_id").annotate(n=Count("id"))
    return dict(rows.order_by())


TREND_COLUMNS = tuple(f.attname for f in ComplianceTrendDay._meta.concrete_fields)


def trend_days(workspace: Workspace, days: int = 90) -> list[tuple[Any, ...]]:
    """The workspace's trend days of the last `days` days, each as its TREND_COLUMNS values: the
    chart is drawn from them only when they changed (trend.py)."""
    since = timezone.now().date() - dt.timedelta(days=days)
    return list(
        ComplianceTrendDay.objects.for_workspace(workspace)
        .filter(day__gte=since)
        .values_list(*TREND_COLUMNS)
    )


CHANGE_WINDOW = dt.timedelta(hours=24)


def recent_changes(workspace: Workspace, now: dt.datetime | None = None) -> dict[str, int]:
    """The workspace's inventory changes of the last 24 h by change type (and their total)."""
    since = (now or timezone.now()) - CHANGE_WINDOW
    rows = (
        ItemChange.objects.for_workspace(workspace)
        .filter(detected_at__gte=since)
        .values_list("change_type")
        .annotate(n=Count("id"))
        .order_by()
    )
    counts = {change_type: 0 for change_type in ChangeType.values}
    counts.update(dict(rows))
    counts["total"] = sum(counts.values())
    return counts
