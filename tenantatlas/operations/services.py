"""The start gate and the run's other service-level changes (cancel).

start_operation: authorize → lock the scope → same type active? return it (deduplicated) →
other type active? ScopeBusy → else create a queued run → enqueue after commit.
Every outcome is audited (a refusal too, after the gate's transaction rolled back). The partial
unique constraint is the last line of defence: a start that meets it goes through the gate once
more and gets the answer the winner left behind.

Who starts: a person (authorized through their membership of the workspace) or a SystemActor
(a schedule: the product acting on its own, authorized by whoever set the schedule up).
"""

from __future__ import annotations

import functools
import logging
import zlib
from dataclasses import dataclass
from typing import Literal

from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.db import connection as db_connection
from django.utils import timezone

from tenantatlas.audit.services import record_event
from tenantatlas.lib.actors import Actor, SystemActor, actor_label, user_or_none
from tenantatlas.lib.errors import Refused
from tenantatlas.lib.reasons import get_reason
from tenantatlas.operations.models import OperationRun, RunStatus, Trigger
from tenantatlas.operations.registry import OPERATIONS, OperationType, get_operation
from tenantatlas.operations.targets import RunTarget, as_model, fresh_target
from tenantatlas.operations.worker import enqueue_run
from tenantatlas.workspaces.capabilities import can
from tenantatlas.workspaces.models import Membership, Workspace

logger = logging.getLogger(__name__)

# A start that meets the partial unique index goes through the gate again, at most this often.
GATE_ATTEMPTS = 3

Outcome = Literal["created", "deduplicated"]


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
    """The connection is disabled: nothing may start on it (even while an old run is queued)."""

    def __init__(self, connection: RunTarget) -> None:
        super().__init__(
            f"“{connection.display_name}” is disabled: enable it before running operations.",
            code="connection_disabled",
        )
        self.connection = connection


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


def _authorize(
    actor: Actor, member: Membership | None, workspace: Workspace, op: OperationType
) -> None:
    """A person needs the operation's capability in the workspace (their membership is looked up
    unless the caller has it at hand); a system actor is the product acting on its own."""
    if isinstance(actor, SystemActor):
        return
    if member is None:
        member = Membership.objects.filter(workspace=workspace, user_id=actor.pk).first()
    if member is None or member.workspace_id != workspace.pk or not can(member, op.capability):
        raise PermissionDenied(f"Your role does not allow {op.capability}")


@dataclass(frozen=True)
class _Start:
    """One start request, as the gate and its audit events see it."""

    actor: Actor
    connection: RunTarget
    op: OperationType
    trigger: str
    params: dict[str, str]

    def audit(self, action: str, run: OperationRun | None, **extra: str) -> None:
        record_event(
            workspace=self.connection.workspace,
            actor=self.actor,
            action=action,
            target=run if run is not None else as_model(self.connection),
            metadata={
                "operation_type": self.op.key,
                "connection_id": self.connection.pk,
                "run_id": run.pk if run is not None else None,
                "trigger": self.trigger,
                **({"params": self.params} if self.params else {}),
                **extra,
            },
        )


@transaction.atomic
def _gate(start: _Start) -> StartResult:
    """Under the scope's lock: the run this start gets, or the refusal it meets (raised)."""
    scope_key = scope_key_for(start.connection)
    _lock_scope(scope_key)
    connection = fresh_target(start.connection)
    if connection.deleted_at is not None:
        raise Refused("This connection has been deleted.", code="deleted")
    # Before dedupe: a run queued before the connection was disabled must not make a start
    # on it look accepted ("Already running").
    if not connection.is_enabled:
        raise ConnectionDisabled(connection)
    active = OperationRun.objects.filter(scope_key=scope_key).active().first()
    # A start joins the active run only when it asks for the same thing: the same operation
    # with the same parameters (a check verifying a new credential is not a plain check).
    if active is not None and (
        active.operation_type != start.op.key or active.params != start.params
    ):
        raise ScopeBusy(active)
    if active is not None:
        start.audit("operation.deduplicated", active)
        return StartResult(run=active, outcome="deduplicated")
    run = OperationRun.objects.create(
        workspace=connection.workspace,
        connection_id=connection.pk,
        operation_type=start.op.key,
        scope_key=scope_key,
        trigger=start.trigger,
        requested_by=user_or_none(start.actor),
        requested_by_label=actor_label(start.actor),
        enqueued_at=timezone.now(),
        context={
            "connection_name": connection.display_name,
            **({"params": start.params} if start.params else {}),
        },
    )
    start.audit("operation.started", run)
    transaction.on_commit(functools.partial(_send, run.pk))  # QueueUnavailable if refused
    return StartResult(run=run, outcome="created")


def _audit_refusal(start: _Start, refusal: Refused) -> None:
    """A refused start is audited too: after the gate's rollback, in its own transaction."""
    with transaction.atomic():
        if isinstance(refusal, ScopeBusy):
            start.audit("operation.scope_busy", refusal.active_run)
        elif isinstance(refusal, ConnectionDisabled):
            start.audit("operation.refused", None, reason="connection disabled")


def start_operation(
    *,
    actor: Actor,
    member: Membership | None = None,
    connection: RunTarget,
    operation_type: str,
    trigger: str = Trigger.UI,
    params: dict[str, str] | None = None,
) -> StartResult:
    """Create or reuse the run for this scope. Raises PermissionDenied, ScopeBusy,
    ConnectionDisabled, QueueUnavailable (503: the transport refused the run, which was failed).

    ``params`` tell the handler what exactly to do (kept in the run's context); a start only
    joins an active run of the same operation with the same parameters, else the scope is busy.

    ``member`` is the actor's membership when the caller has it (a view); it is looked up
    otherwise. A SystemActor (a schedule) needs none.
    """
    op = get_operation(operation_type)
    _authorize(actor, member, connection.workspace, op)
    start = _Start(
        actor=actor, connection=connection, op=op, trigger=trigger, params=dict(params or {})
    )
    for attempt in range(1, GATE_ATTEMPTS + 1):
        try:
            return _gate(start)
        except IntegrityError:
            # Another start won the race to the partial unique index (despite the lock): the
            # next pass through the gate sees its run.
            if attempt == GATE_ATTEMPTS:
                raise
        except Refused as refusal:
            _audit_refusal(start, refusal)
            raise
    raise AssertionError("unreachable")  # the loop returns or raises


@transaction.atomic
def cancel_run(
    *, actor: Actor, member: Membership | None = None, run: OperationRun
) -> OperationRun:
    """Queued runs end at once; running runs stop at their next page boundary."""
    _authorize(actor, member, run.workspace, get_operation(run.operation_type))
    message = f"Cancelled by {actor_label(actor)} before it started."
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
