"""Schedules start through the start gate; a busy scope is skipped and recorded, never doubled."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.management import call_command
from django.utils import timezone

from tenantatlas.audit.models import AuditEvent
from tenantatlas.lib.errors import InvalidInput
from tenantatlas.operations.models import OperationRun, OperationSchedule, Trigger
from tenantatlas.operations.schedules import fire_due_schedules, set_schedule
from tenantatlas.operations.services import start_operation
from tenantatlas.testing import make_connection


def _due(schedule: OperationSchedule) -> dt.datetime:
    return schedule.next_run_at + dt.timedelta(seconds=1)


def test_it_starts_a_due_schedule_once_and_moves_it_forward(acme, alice):
    conn = make_connection(acme, alice)
    schedule = set_schedule(
        actor=alice, connection=conn, operation_type="inventory.sync", interval_minutes=60
    )
    assert fire_due_schedules(now=timezone.now()) == {
        "started": 0,
        "deduplicated": 0,
        "skipped_busy": 0,
        "refused": 0,
    }
    counts = fire_due_schedules(now=_due(schedule))
    assert counts["started"] == 1
    run = OperationRun.objects.get()
    assert run.trigger == Trigger.SCHEDULE
    schedule.refresh_from_db()
    assert schedule.last_outcome == "started"
    assert schedule.last_run_id == run.pk
    assert schedule.next_run_at > _due(schedule) - dt.timedelta(seconds=2)
    assert fire_due_schedules(now=_due(schedule) - dt.timedelta(minutes=30))["started"] == 0


def test_it_skips_and_records_a_busy_scope(acme, alice):
    conn = make_connection(acme, alice)
    busy = start_operation(
        actor=alice, member=None, connection=conn, operation_type="inventory.sync"
    )
    schedule = set_schedule(
        actor=alice, connection=conn, operation_type="compliance.snapshot", interval_minutes=60
    )
    counts = fire_due_schedules(now=_due(schedule))
    assert counts["skipped_busy"] == 1
    assert OperationRun.objects.count() == 1
    schedule.refresh_from_db()
    assert schedule.last_outcome == "skipped_busy"
    assert schedule.last_run_id == busy.run.pk
    assert AuditEvent.objects.filter(
        action="operation.scope_busy", metadata__trigger="schedule"
    ).exists()


def test_it_validates_and_removes_schedules(acme, alice):
    conn = make_connection(acme, alice)
    with pytest.raises(InvalidInput):
        set_schedule(
            actor=alice, connection=conn, operation_type="inventory.sync", interval_minutes=7
        )
    set_schedule(actor=alice, connection=conn, operation_type="inventory.sync", interval_minutes=60)
    set_schedule(
        actor=alice, connection=conn, operation_type="inventory.sync", interval_minutes=None
    )
    assert not OperationSchedule.objects.exists()
    assert list(
        AuditEvent.objects.filter(action__startswith="schedule.")
        .values_list("action", flat=True)
        .order_by("id")
    ) == [
        "schedule.created",
        "schedule.deleted",
    ]


def test_it_fires_schedules_from_the_reap_command(acme, alice, capsys):
    conn = make_connection(acme, alice)
    schedule = set_schedule(
        actor=alice, connection=conn, operation_type="provider.health_check", interval_minutes=60
    )
    OperationSchedule.objects.filter(pk=schedule.pk).update(
        next_run_at=timezone.now() - dt.timedelta(minutes=1)
    )
    call_command("reap")
    assert "started=1" in capsys.readouterr().out
    assert OperationRun.objects.filter(trigger=Trigger.SCHEDULE).count() == 1


def test_it_sets_a_schedule_from_the_connection_page(acme, alice, bob):
    from django.urls import reverse

    from tenantatlas.testing import client_for

    conn = make_connection(acme, alice)
    url = reverse("providers:schedules", args=["acme", conn.pk])
    assert (
        client_for(bob)
        .post(url, {"operation_type": "inventory.sync", "interval_minutes": "60"})
        .status_code
        == 403
    )
    response = client_for(alice).post(
        url, {"operation_type": "inventory.sync", "interval_minutes": "1440"}, follow=True
    )
    assert response.status_code == 200
    assert OperationSchedule.objects.get().interval_minutes == 1440
    assert "Every day" in response.text
    client_for(alice).post(url, {"operation_type": "inventory.sync", "interval_minutes": ""})
    assert not OperationSchedule.objects.exists()
