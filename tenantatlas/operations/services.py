"""The start gate and other run state changes.

start_operation: authorize → lock the scope → same type active? return it (deduplicated) →
other type active? ScopeBusy → else create a queued run → enqueue after commit.
Every outcome is audited. The partial unique constraint is the last line of defence.
"""

from __future__ import annotations

import functools
import logging
import zlib
from dataclasses import dataclass
from typing import Any, Literal

from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.db import connection as db_connection
from django.utils import timezone

from tenantatlas.audit.services import actor_label_for, record_event
from tenantatlas.lib.errors import Refused
from tenantatlas.lib.reasons import get_reason
from tenantatlas.operations.models import OperationRun, RunStatus, Trigger
from tenantatlas.operations.registry import OPERATIONS, get_operation
from tenantatlas.operations.targets import RunTarget, as_model, fresh_target
from tenantatlas.operations.worker import enqueue_run
from tenantatlas.workspaces.capabilities import can
from tenantatlas.workspaces.models import Membership

logger = logging.getLogger(__name__)

Outcome = Literal["created", "deduplicated", "scope_busy", "connection_disabled"]


@dataclass(frozen=True)
class StartResult:
    run: OperationRun
    outcome: Outcome

    @property
    def created(self) -> bool:
        return self.outcome == "created"

    @property
    def message(self) -> str:
        label = OPERATIONS[self.run.operation_type].label
        if self.outcome == "created":
            return f"{label} queued"
        return f"Already running: {label}"


class ScopeBusy(Refused):
    """Another operation is active on this Entra tenant."""

    def __init__(self, active_run: OperationRun) -> None:
        label = OPERATIONS[active_run.operation_type].label
        state = "queued" if active_run.status == RunStatus.QUEUED else "running"
        super().__init__(
            f"Scope busy: {label} is {state} on this Entra tenant.",
            code="scope_busy",
            run_id=active_run.pk,
        )
        self.active_run = active_run


class ConnectionDisabled(Refused):
    def __init__(self, connection: RunTarget) -> None:
        super().__init__(
            f"“{connection.display_name}” is disabled: enable it before running operations.",
            code="connection_disabled",
        )


QUEUE_UNAVAILABLE = "queue.unavailable"


class QueueUnavailable(Refused):
    """The transport did not take the run id: the run was failed so nothing holds the scope."""

    status = 503

    def __init__(self, run_id: int) -> None:
        super().__init__(
            get_reason(QUEUE_UNAVAILABLE).message, code=QUEUE_UNAVAILABLE, run_id=run_id
        )


def _send(run_id: int) -> None:
    """Enqueue a committed run. If the transport refuses, nobody would ever receive the run:
    fail it (`queue.unavailable`) so the scope is free at once, and tell the caller (503)."""
    try:
        enqueue_run(run_id)
    except Exception:
        logger.warning("Run %s could not be enqueued", run_id, exc_info=True)
        if OperationRun.objects.fail_unsent(run_id):  # False: a worker already claimed it
            raise QueueUnavailable(run_id) from None


def scope_key_for(connection: RunTarget) -> str:
    return f"{connection.workspace_id}:{connection.provider}:{connection.entra_tenant_id}"


def _lock_scope(scope_key: str) -> None:
    """Serialise starts per scope: an advisory transaction lock on PostgreSQL.

    SQLite runs transactions as BEGIN IMMEDIATE (settings), which already serialises writers.
    """
    if db_connection.vendor == "postgresql":
        with db_connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_advisory_xact_lock(%s, %s)",
                [7301, zlib.crc32(scope_key.encode()) - 2**31],
            )


def _audit_start(
    run: OperationRun,
    actor: Any,
    outcome: str,
    connection: RunTarget,
    op_key: str,
    trigger: str,
) -> None:
    action = {
        "created": "operation.started",
        "deduplicated": "operation.deduplicated",
        "scope_busy": "operation.scope_busy",
        "connection_disabled": "operation.refused",
    }[outcome]
    record_event(
        workspace=connection.workspace,
        actor=actor,
        action=action,
        target=run if run.pk else as_model(connection),
        metadata={
            "operation_type": op_key,
            "connection_id": connection.pk,
            "run_id": run.pk,
            "trigger": trigger,
            **({"reason": "connection disabled"} if outcome == "connection_disabled" else {}),
        },
    )


@transaction.atomic
def _gate(
    *, actor: Any, connection: RunTarget, op_key: str, trigger: str
) -> tuple[OperationRun, Outcome]:
    scope_key = scope_key_for(connection)
    _lock_scope(scope_key)
    connection = fresh_target(connection)
    if connection.deleted_at is not None:
        raise Refused("This connection has been deleted.", code="deleted")
    # Before dedupe: a run queued before the connection was disabled must not make a start
    # on it look accepted ("Already running").
    if not connection.is_enabled:
        _audit_start(OperationRun(), actor, "connection_disabled", connection, op_key, trigger)
        return OperationRun(
            connection_id=connection.pk, operation_type=op_key
        ), "connection_disabled"
    active = OperationRun.objects.filter(scope_key=scope_key).active().first()
    if active is not None:
        outcome: Outcome = "deduplicated" if active.operation_type == op_key else "scope_busy"
        _audit_start(active, actor, outcome, connection, op_key, trigger)
        return active, outcome
    try:
        with transaction.atomic():
            run = OperationRun.objects.create(
                workspace=connection.workspace,
                connection_id=connection.pk,
                operation_type=op_key,
                scope_key=scope_key,
                trigger=trigger,
                requested_by=actor if getattr(actor, "is_authenticated", False) else None,
                requested_by_label=actor_label_for(actor),
                enqueued_at=timezone.now(),
                context={"connection_name": connection.display_name},
            )
    except IntegrityError:
        # Another transaction won the race despite the lock (e.g. a different lock path).
        active = OperationRun.objects.filter(scope_key=scope_key).active().first()
        if active is None:
            raise
        outcome = "deduplicated" if active.operation_type == op_key else "scope_busy"
        _audit_start(active, actor, outcome, connection, op_key, trigger)
        return active, outcome
    _audit_start(run, actor, "created", connection, op_key, trigger)
    transaction.on_commit(functools.partial(_send, run.pk))  # QueueUnavailable if refused
    return run, "created"


def start_operation(
    *,
    actor: Any,
    member: Membership | None,
    connection: RunTarget,
    operation_type: str,
    trigger: str = Trigger.UI,
) -> StartResult:
    """Create or reuse the run for this scope. Raises ScopeBusy, ConnectionDisabled,
    PermissionDenied, QueueUnavailable (503: the transport refused the run, which was failed)."""
    op = get_operation(operation_type)
    if member is not None and not can(member, op.capability):
        raise PermissionDenied(f"Your role does not allow {op.capability}")
    for attempt in range(3):
        try:
            run, outcome = _gate(actor=actor, connection=connection, op_key=op.key, trigger=trigger)
            break
        except IntegrityError:
            if attempt == 2:
                raise
    if outcome == "scope_busy":
        raise ScopeBusy(run)
    if outcome == "connection_disabled":
        raise ConnectionDisabled(connection)
    return StartResult(run=run, outcome=outcome)


@transaction.atomic
def cancel_run(*, actor: Any, member: Membership | None, run: OperationRun) -> OperationRun:
    """Queued runs end at once; running runs stop at their next page boundary."""
    op = get_operation(run.operation_type)
    if member is not None and not can(member, op.capability):
        raise PermissionDenied(f"Your role does not allow {op.capability}")
    message = f"Cancelled by {actor_label_for(actor)} before it started."
    cancelled = OperationRun.objects.cancel_queued(run.pk, message=message)
    if not cancelled and not OperationRun.objects.request_cancel(run.pk):
        run.refresh_from_db()
        if not run.is_active:
            raise Refused("This run has already finished.", code="run_finished")
    run.refresh_from_db()
    record_event(
        workspace=run.workspace,
        actor=actor,
        action="operation.cancelled" if cancelled else "operation.cancel_requested",
        target=run,
        metadata={"operation_type": run.operation_type},
    )
    return run
