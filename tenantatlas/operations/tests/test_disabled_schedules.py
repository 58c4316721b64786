"""Schedules of a disabled connection do not fire, and leave no trace each time they are due."""

from __future__ import annotations

import datetime as dt

from tenantatlas.audit.models import AuditEvent
from tenantatlas.operations.models import OperationRun, OperationSchedule, Trigger
from tenantatlas.operations.schedules import fire_due_schedules, set_schedule
from tenantatlas.providers.services.connections import set_connection_status
from tenantatlas.testing import make_connection

NOTHING = {"started": 0, "deduplicated": 0, "skipped_busy": 0, "refused": 0}


def test_it_skips_due_schedules_of_a_disabled_connection_silently(acme, alice):
    active = make_connection(acme, alice, name="Active")
    paused = make_connection(
        acme, alice, name="Paused", entra_tenant_id="22222222-3333-4444-5555-666666666666"
    )
    for connection in (paused, active):
        set_schedule(
            actor=alice, connection=connection, operation_type="inventory.sync", interval_minutes=60
        )
    set_connection_status(actor=alice, connection=paused, enabled=False)
    schedule = OperationSchedule.objects.get(connection=paused)
    # Schedules are spread over their period: both are due once the later one is.
    due = max(OperationSchedule.objects.values_list("next_run_at", flat=True))
    due += dt.timedelta(seconds=1)
    audit_before = AuditEvent.objects.count()

    first = fire_due_schedules(now=due)
    # Later passes, before the enabled connection's schedule is due again.
    again = OperationSchedule.objects.get(connection=active).next_run_at
    later = [fire_due_schedules(now=due + (again - due) * i / 4) for i in range(1, 4)]

    assert first == {**NOTHING, "started": 1}  # only the enabled connection's schedule
    assert later == [NOTHING] * 3
    assert list(OperationRun.objects.values_list("connection", flat=True)) == [active.pk]
    schedule.refresh_from_db()
    assert (schedule.last_fired_at, schedule.last_outcome, schedule.last_run_id) == (None, "", None)
    new_events = AuditEvent.objects.order_by("id")[audit_before:]
    assert [e.action for e in new_events] == ["operation.started"]


def test_it_fires_the_schedule_again_once_the_connection_is_enabled(acme, alice):
    conn = make_connection(acme, alice)
    schedule = set_schedule(
        actor=alice, connection=conn, operation_type="compliance.snapshot", interval_minutes=60
    )
    set_connection_status(actor=alice, connection=conn, enabled=False)
    due = schedule.next_run_at + dt.timedelta(hours=5)
    assert fire_due_schedules(now=due) == NOTHING

    set_connection_status(actor=alice, connection=conn, enabled=True)

    assert fire_due_schedules(now=due) == {**NOTHING, "started": 1}
    assert fire_due_schedules(now=due + dt.timedelta(minutes=1)) == NOTHING
    run = OperationRun.objects.get()
    assert (run.trigger, run.operation_type) == (Trigger.SCHEDULE, "compliance.snapshot")
