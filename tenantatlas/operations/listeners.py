"""Reactions to a run's end: the alert event of a failed run (inside the terminal move's
transaction), and, after commit, the requester's notification, the audit entry, the run's line
in the server log and its count and duration for /metrics.

(Connection health is the providers app's listener: providers/listeners.py.)
"""

from __future__ import annotations

import json
import logging
from typing import Any

from django.db import transaction
from django.urls import reverse

from tenantatlas.alerts.models import EventKind, Severity
from tenantatlas.alerts.services import NewEvent, raise_event
from tenantatlas.audit.services import record_event
from tenantatlas.lib import metrics
from tenantatlas.lib.actors import RUN_COMPLETION
from tenantatlas.notifications.services import notify
from tenantatlas.operations.models import OperationRun, RunStatus
from tenantatlas.operations.notices import completion_notice


def notify_requester(sender: Any, run: OperationRun, **kwargs: Any) -> None:
    if run.requested_by_id is None:
        return
    title, body = completion_notice(run)
    notify(
        user=run.requested_by,
        workspace=run.workspace,
        kind=f"run.{run.status}",
        title=title,
        body=body,
        url=reverse("operations:run", kwargs={"slug": run.workspace.slug, "pk": run.pk}),
    )


def audit_completion(sender: Any, run: OperationRun, **kwargs: Any) -> None:
    with transaction.atomic():
        record_event(
            workspace=run.workspace,
            actor=RUN_COMPLETION,
            action="operation.finished",
            target=run,
            metadata={
                "operation_type": run.operation_type,
                "status": run.status,
                "reason_code": run.reason_code,
                "summary": run.summary_counts,
            },
        )


run_log = logging.getLogger("tenantatlas.operations.runs")


def _duration_seconds(run: OperationRun) -> float | None:
    """From the run's last start to its end; None for a run that never started."""
    if run.started_at is None or run.finished_at is None:
        return None
    return max((run.finished_at - run.started_at).total_seconds(), 0.0)


def log_finished_run(sender: Any, run: OperationRun, **kwargs: Any) -> None:
    """One line per finished run; in JSON logs its fields are the line's keys."""
    duration = _duration_seconds(run)
    fields = {
        "run_id": run.pk,
        "operation_type": run.operation_type,
        "status": run.status,
        "reason_code": run.reason_code,
        "connection_id": run.connection_id,
        "connection_name": run.connection.display_name,
        "workspace": run.workspace.slug,
        "trigger": run.trigger,
        "duration_seconds": None if duration is None else round(duration, 3),
        "summary_counts": run.summary_counts,
    }
    run_log.info(
        "Run %s finished: %s %s%s in %s; connection %s %s in workspace %s; summary %s",
        run.pk,
        run.operation_type,
        run.status,
        f" ({run.reason_code})" if run.reason_code else "",
        "-" if duration is None else f"{duration:.1f} s",
        run.connection_id,
        json.dumps(run.connection.display_name, ensure_ascii=False),
        run.workspace.slug,
        json.dumps(run.summary_counts, sort_keys=True, separators=(",", ":"), ensure_ascii=False),
        extra=fields,
    )


def count_finished_run(sender: Any, run: OperationRun, **kwargs: Any) -> None:
    """/metrics: runs finished by type, status and reason; how long they ran."""
    metrics.RUNS_FINISHED.labels(
        operation_type=run.operation_type, status=run.status, reason_code=run.reason_code
    ).inc()
    duration = _duration_seconds(run)
    if duration is not None:
        metrics.RUN_DURATION.labels(operation_type=run.operation_type).observe(duration)


RUN_ALERT_SEVERITY: dict[str, Severity] = {
    RunStatus.FAILED: Severity.CRITICAL,
    RunStatus.PARTIALLY_SUCCEEDED: Severity.WARNING,
}


def raise_run_alert(run_id: int) -> None:
    """A failed or partly successful run, whoever started it (a schedule too), is an alert
    event; called inside the transaction that ends the run (operations.events.on_run_ended)."""
    run = OperationRun.objects.select_related("connection", "workspace").get(pk=run_id)
    severity = RUN_ALERT_SEVERITY.get(run.status)
    if severity is None:
        return
    title, body = completion_notice(run)
    raise_event(
        NewEvent(
            workspace_id=run.workspace_id,
            kind=EventKind.RUN_FAILED,
            severity=severity,
            key=f"run:{run.pk}",
            title=f"{title}: {run.connection.display_name}",
            body=body,
            path=reverse("operations:run", kwargs={"slug": run.workspace.slug, "pk": run.pk}),
            connection_id=run.connection_id,
            occurred_at=run.finished_at,
            facts={
                "run_id": run.pk,
                "operation_type": run.operation_type,
                "status": run.status,
                "reason_code": run.reason_code,
                "trigger": run.trigger,
                "requested_by": run.requested_by_id,
            },
        )
    )
