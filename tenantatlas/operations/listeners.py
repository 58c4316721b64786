"""Reactions to OperationRunCompleted: connection health, the requester's notification, audit."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.urls import reverse

from tenantatlas.audit.services import record_event
from tenantatlas.lib.reasons import get_reason
from tenantatlas.operations.models import OperationRun, RunStatus
from tenantatlas.operations.registry import OPERATIONS
from tenantatlas.providers.services import record_health

HEALTH_AFFECTING_PREFIXES = (
    "auth.",
    "credential.",
    "graph.unauthorized",
    "provider.tenant_mismatch",
)


def _health_result(run: OperationRun) -> dict[str, Any] | None:
    result = run.context.get("health") or run.context.get("failure_details", {}).get("health")
    if result:
        return dict(result)
    if run.status == RunStatus.FAILED and run.reason_code.startswith(HEALTH_AFFECTING_PREFIXES):
        return {
            "health": "unhealthy",
            "reason_code": run.reason_code,
            "message": run.failure_message,
        }
    return None


def update_connection_health(sender: Any, run: OperationRun, **kwargs: Any) -> None:
    result = _health_result(run)
    if result is None:
        return
    result.setdefault("message", run.failure_message)
    record_health(connection=run.connection, result=result, run=run)


def notify_requester(sender: Any, run: OperationRun, **kwargs: Any) -> None:
    if run.requested_by_id is None:
        return
    from tenantatlas.notifications.services import notify

    label = OPERATIONS[run.operation_type].label
    status = run.get_status_display().lower()
    body = f"{label} on “{run.connection.display_name}” {status}."
    if run.reason_code:
        body += f" {get_reason(run.reason_code).title}: {run.failure_message}"
    notify(
        user=run.requested_by,
        workspace=run.workspace,
        kind=f"run.{run.status}",
        title=f"{label} {status}",
        body=body,
        url=reverse("operations:run", kwargs={"slug": run.workspace.slug, "pk": run.pk}),
    )


def audit_completion(sender: Any, run: OperationRun, **kwargs: Any) -> None:
    with transaction.atomic():
        record_event(
            workspace=run.workspace,
            actor=None,
            action="operation.finished",
            target=run,
            metadata={
                "operation_type": run.operation_type,
                "status": run.status,
                "reason_code": run.reason_code,
                "summary": run.summary_counts,
            },
        )
