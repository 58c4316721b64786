"""Recurring operations. Firing goes through the same start gate as a button press, as the
schedule system actor; a start that meets a busy scope is skipped and recorded, never queued
twice. Schedules of a disabled connection do not fire at all: they are left out silently (no
run, no record) until it is enabled again.

Spreading: a schedule fires on its own grid, one point a period (``spread_offset``: a stable
point of the period taken from the connection id, each operation type a fixed share of the
period further), so two hundred daily syncs set up in the same minute do not all fire in the
same second, and a connection's operations of one interval keep out of each other's way.
``next_run_at`` is a pure function of the schedule and the time: every process and every restart
agrees on it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging

from django.db import transaction
from django.utils import timezone

from tenantatlas.audit.services import record_event
from tenantatlas.lib.actors import SCHEDULE, Actor, user_or_none
from tenantatlas.lib.errors import InvalidInput, Refused
from tenantatlas.operations.models import OperationSchedule, Trigger
from tenantatlas.operations.registry import OPERATIONS, get_operation
from tenantatlas.operations.services import ScopeBusy, start_operation
from tenantatlas.operations.targets import RunTarget, as_model

logger = logging.getLogger(__name__)

INTERVAL_CHOICES = [
    (60, "Every hour"),
    (6 * 60, "Every 6 hours"),
    (24 * 60, "Every day"),
    (7 * 24 * 60, "Every week"),
]
ALLOWED_INTERVALS = {minutes for minutes, _ in INTERVAL_CHOICES}

# The grid of every schedule is counted from here (UTC), so it depends on nothing but the schedule.
GRID_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def spread_offset(*, connection_id: int, operation_type: str, interval_minutes: int) -> int:
    """Seconds into each period at which this schedule fires.

    The connection's point is a hash of its id (SHA-256: the same in every process, unlike
    ``hash()``), spread evenly over the period. Each operation type sits a fixed share of the
    period further on (the order of the registry), so a connection's check, sync and snapshot of
    one interval fire a third of it apart: a stable hash alone would let some connections' sync
    and snapshot land minutes apart, and the second find the first holding the scope every day.
    """
    period = interval_minutes * 60
    digest = hashlib.sha256(f"connection:{connection_id}".encode()).digest()
    point = int.from_bytes(digest[:8], "big") % period
    types = list(OPERATIONS)
    phase = types.index(operation_type) * period // len(types) if operation_type in types else 0
    return (point + phase) % period


def next_run_at(
    *, connection_id: int, operation_type: str, interval_minutes: int, after: dt.datetime
) -> dt.datetime:
    """The schedule's first point strictly after ``after``: ``GRID_EPOCH + k × period + offset``.

    A late fire (the reaper was down) moves on to the next point of the same grid, so the spread
    survives outages; a new interval gets its own grid, spread just the same.
    """
    period = interval_minutes * 60
    offset = spread_offset(
        connection_id=connection_id,
        operation_type=operation_type,
        interval_minutes=interval_minutes,
    )
    elapsed = (after - GRID_EPOCH) // dt.timedelta(seconds=1)  # whole seconds, rounded down
    periods = (elapsed - offset) // period + 1
    return GRID_EPOCH + dt.timedelta(seconds=periods * period + offset)


@transaction.atomic
def set_schedule(
    *, actor: Actor, connection: RunTarget, operation_type: str, interval_minutes: int | None
) -> OperationSchedule | None:
    """Create, change or (interval None) remove the schedule of one operation on a connection."""
    get_operation(operation_type)
    existing = OperationSchedule.objects.filter(
        connection_id=connection.pk, operation_type=operation_type
    ).first()
    if interval_minutes is None:
        if existing is not None:
            record_event(
                workspace=connection.workspace,
                actor=actor,
                action="schedule.deleted",
                target=as_model(connection),
                metadata={"operation_type": operation_type},
            )
            existing.delete()
        return None
    if interval_minutes not in ALLOWED_INTERVALS:
        raise InvalidInput("Choose one of the offered intervals.", field="interval_minutes")
    now = timezone.now()
    schedule = existing or OperationSchedule(
        workspace=connection.workspace,
        connection_id=connection.pk,
        operation_type=operation_type,
        created_by=user_or_none(actor),
    )
    schedule.interval_minutes = interval_minutes
    schedule.enabled = True
    schedule.next_run_at = next_run_at(
        connection_id=connection.pk,
        operation_type=operation_type,
        interval_minutes=interval_minutes,
        after=now,
    )
    schedule.save()
    record_event(
        workspace=connection.workspace,
        actor=actor,
        action="schedule.updated" if existing else "schedule.created",
        target=as_model(connection),
        metadata={"operation_type": operation_type, "interval_minutes": interval_minutes},
    )
    return schedule


def fire_due_schedules(now: dt.datetime | None = None) -> dict[str, int]:
    """Start every due schedule of an enabled connection once. Safe with several schedulers:
    each claims its row first.

    A due schedule of a disabled connection stays due without being touched, so the reaper's loop
    writes nothing for it; once the connection is enabled it fires once and moves on.

    The next time is the schedule's next grid point (``next_run_at``): a schedule saved before
    spreading existed fires once at its stored time and joins its grid from then on.
    """
    now = now or timezone.now()
    counts = {"started": 0, "deduplicated": 0, "skipped_busy": 0, "refused": 0}
    due = OperationSchedule.objects.due(now)
    for schedule_id in due.values_list("pk", flat=True):
        with transaction.atomic():
            schedule = (
                OperationSchedule.objects.due(now)
                .select_for_update(skip_locked=True)
                .select_related("connection__workspace")
                .filter(pk=schedule_id)
                .first()
            )
            if schedule is None:
                continue  # another scheduler took it
            schedule.next_run_at = next_run_at(
                connection_id=schedule.connection_id,
                operation_type=schedule.operation_type,
                interval_minutes=schedule.interval_minutes,
                after=now,
            )
            schedule.last_fired_at = now
            schedule.save(update_fields=["next_run_at", "last_fired_at"])
        outcome = _fire(schedule)
        counts[outcome] += 1
    return counts


def _fire(schedule: OperationSchedule) -> str:
    try:
        result = start_operation(
            actor=SCHEDULE,
            connection=schedule.connection,
            operation_type=schedule.operation_type,
            trigger=Trigger.SCHEDULE,
        )
    except ScopeBusy as exc:
        outcome, run = "skipped_busy", exc.active_run
    except Refused as exc:
        logger.info("Schedule %s refused: %s", schedule.pk, exc.message)
        outcome, run = "refused", None
    else:
        outcome, run = ("started" if result.created else "deduplicated"), result.run
    OperationSchedule.objects.filter(pk=schedule.pk).update(last_outcome=outcome, last_run=run)
    return outcome
