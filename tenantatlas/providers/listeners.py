"""Reactions of the providers app to finished runs: a connection's health follows its checks.

Connected to OperationRunCompleted in ProvidersConfig.ready(); the credential rotation's
run-ended hook (services/rotation.settle_verification) is registered there too.
"""

from __future__ import annotations

from typing import Any

from tenantatlas.lib.reasons import get_reason
from tenantatlas.operations.models import OperationRun, RunStatus
from tenantatlas.providers.health_result import HealthResult
from tenantatlas.providers.models import CredentialState
from tenantatlas.providers.services.health import record_health


def health_of(run: OperationRun) -> HealthResult | None:
    """What the run says about its connection's health: a check's findings, or "unhealthy"
    when any run failed for a reason about the connection itself; None when it says nothing."""
    if run.context.get("health"):
        return HealthResult.from_json(run.context["health"])
    if run.status == RunStatus.FAILED and get_reason(run.reason_code).affects_health:
        return HealthResult.of_failed_run(run.reason_code, run.failure_message)
    return None


def speaks_for_connection(run: OperationRun) -> bool:
    """A check that verified a new credential tells the connection's health only if that
    credential became current; one it rejected tested a credential nothing uses."""
    if not run.params.get("credential_id"):
        return True
    return run.context.get("credential_verification") == CredentialState.CURRENT


def update_connection_health(sender: Any, run: OperationRun, **kwargs: Any) -> None:
    if not speaks_for_connection(run):
        return
    found = health_of(run)
    if found is not None:
        record_health(connection=run.connection, result=found, run=run)
