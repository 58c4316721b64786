"""Reactions of the providers app to finished runs: a connection's health follows its checks.

Connected to OperationRunCompleted in ProvidersConfig.ready().
"""

from __future__ import annotations

from typing import Any

from tenantatlas.operations.models import OperationRun, RunStatus
from tenantatlas.providers.services.health import record_health

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
