"""Cancel, cooperative stop, "retry later" rescheduling and the run timeout."""

from __future__ import annotations

import dataclasses
import datetime as dt
import time

import pytest
from django.utils import timezone

from tenantatlas.audit.models import AuditEvent
from tenantatlas.notifications.models import Notification
from tenantatlas.operations import registry
from tenantatlas.operations.models import OperationRun, RunStatus
from tenantatlas.operations.services import ScopeBusy, cancel_run, start_operation
from tenantatlas.operations.tests.processes import sim_tenant
from tenantatlas.operations.worker import MAX_RESCHEDULES, execute
from tenantatlas.providers.microsoft import inventory as microsoft_inventory
from tenantatlas.simulator.scenarios import Faults, ThrottleFault
from tenantatlas.testing import make_connection, make_sim_connection

CONTOSO = "5a1c0e4b-7f2d-4c8e-9b6a-3d2f1e0c9b8a"
THROTTLED = "3c5e7a9b-1d2f-4e6a-8b0c-2d4f6a8b0c1e"
DEVICES = "/v1.0/deviceManagement/managedDevices"


def start(conn, actor, operation_type, capture):
    with capture(execute=False) as callbacks:
        result = start_operation(
            actor=actor, member=None, connection=conn, operation_type=operation_type
        )
    assert len(callbacks) == 1  # exactly one enqueue, after commit
    return result.run


def test_it_cancels_a_queued_run_and_frees_the_scope(
    acme, alice, bob, django_capture_on_commit_callbacks
):
    conn = make_connection(acme, alice)
    run = start(conn, bob, "inventory.sync", django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        cancel_run(actor=bob, member=None, run=run)
    run.refresh_from_db()
    assert (run.status, run.reason_code) == (RunStatus.CANCELLED, "run.cancelled")
    assert run.finished_at is not None
    assert run.started_at is None
    assert (
        AuditEvent.objects.filter(action="operation.cancelled", target_id=str(run.pk)).count() == 1
    )
    assert Notification.objects.get(user=bob).kind == "run.cancelled"

    assert execute(run.pk) is None  # the transport still delivers it: nothing happens
    run.refresh_from_db()
    assert run.status == RunStatus.CANCELLED
    other = start_operation(
        actor=bob, member=None, connection=conn, operation_type="compliance.snapshot"
    )
    assert other.outcome == "created"


def test_it_stops_a_running_sync_at_the_next_page(
    sim, acme, alice, monkeypatch, django_capture_on_commit_callbacks
):
    conn = make_sim_connection(acme, alice, CONTOSO, "contoso-demo-secret")
    run = start(conn, alice, "inventory.sync", django_capture_on_commit_callbacks)
    pages = []
    real_upsert = microsoft_inventory.upsert_page

    def upsert_then_cancel(seen_by, kind, items, counts, tracking=None):
        real_upsert(seen_by, kind, items, counts, tracking)
        pages.append(kind)
        if len(pages) == 1:  # someone presses Cancel while page one is being stored
            assert cancel_run(actor=alice, member=None, run=run).cancel_requested_at is not None

    monkeypatch.setattr(microsoft_inventory, "upsert_page", upsert_then_cancel)
    with django_capture_on_commit_callbacks(execute=True):
        assert execute(run.pk) == RunStatus.CANCELLED
    run.refresh_from_db()
    assert (run.status, run.reason_code) == (RunStatus.CANCELLED, "run.cancelled")
    assert pages == ["managed_device"]
    assert conn.inventory_items.count() == 1000  # the first page is kept, nothing marked removed
    assert conn.inventory_items.filter(removed_at__isnull=False).count() == 0
    assert AuditEvent.objects.filter(
        action="operation.cancel_requested", target_id=str(run.pk)
    ).exists()
    assert Notification.objects.get(user=alice).kind == "run.cancelled"


@pytest.mark.parametrize("operation_type", ["inventory.sync", "compliance.snapshot"])
def test_it_reschedules_instead_of_blocking_on_a_long_retry_after(
    sim, acme, alice, settings, operation_type, django_capture_on_commit_callbacks
):
    settings.GRAPH_MAX_INLINE_RETRY_AFTER = 60
    sim.add_tenant(
        sim_tenant(
            THROTTLED,
            "throttled-secret",
            device_count=30,
            faults=Faults(
                throttle=ThrottleFault(count=1, status=429, retry_after="600", paths=[DEVICES])
            ),
        )
    )
    conn = make_sim_connection(acme, alice, THROTTLED, "throttled-secret")
    run = start(conn, alice, operation_type, django_capture_on_commit_callbacks)

    began, began_at = time.monotonic(), timezone.now()
    with django_capture_on_commit_callbacks(execute=False) as enqueued:
        assert execute(run.pk) == RunStatus.QUEUED
    assert time.monotonic() - began < 20  # no 600 s sleep in the worker
    assert len(enqueued) == 1  # re-enqueued for later
    run.refresh_from_db()
    assert run.status == RunStatus.QUEUED
    assert run.not_before is not None
    assert (
        began_at + dt.timedelta(seconds=600)
        <= run.not_before
        <= timezone.now() + dt.timedelta(seconds=600)
    )
    assert run.context["rescheduled"][0]["reason_code"] == "graph.throttled"
    with pytest.raises(ScopeBusy):
        start_operation(
            actor=alice, member=None, connection=conn, operation_type="provider.health_check"
        )
    assert execute(run.pk) is None  # delivered early: not due yet, left alone

    OperationRun.objects.filter(pk=run.pk).update(not_before=timezone.now())
    with django_capture_on_commit_callbacks(execute=True):
        assert execute(run.pk) == RunStatus.SUCCEEDED
    run.refresh_from_db()
    assert run.attempts == 2
    assert Notification.objects.filter(user=alice).count() == 1


def test_it_fails_with_graph_throttled_when_microsoft_keeps_saying_later(
    sim, acme, alice, settings, django_capture_on_commit_callbacks
):
    sim.add_tenant(
        sim_tenant(
            THROTTLED,
            "throttled-secret",
            faults=Faults(
                throttle=ThrottleFault(count=100, status=429, retry_after="600", paths=[DEVICES])
            ),
        )
    )
    conn = make_sim_connection(acme, alice, THROTTLED, "throttled-secret")
    run = start(conn, alice, "compliance.snapshot", django_capture_on_commit_callbacks)
    statuses = []
    for _ in range(10):
        OperationRun.objects.filter(pk=run.pk).update(not_before=None)
        with django_capture_on_commit_callbacks(execute=True):
            statuses.append(execute(run.pk))
        if statuses[-1] != RunStatus.QUEUED:
            break
    run.refresh_from_db()
    assert run.status == RunStatus.FAILED, statuses
    assert run.reason_code == "graph.throttled"
    assert statuses == [RunStatus.QUEUED] * MAX_RESCHEDULES + [RunStatus.FAILED]
    assert len(run.context["rescheduled"]) == MAX_RESCHEDULES
    assert Notification.objects.get(user=alice).kind == "run.failed"


def test_it_times_out_a_run_past_its_limit(
    sim, acme, alice, monkeypatch, django_capture_on_commit_callbacks
):
    op = registry.OPERATIONS["inventory.sync"]
    monkeypatch.setitem(
        registry.OPERATIONS, "inventory.sync", dataclasses.replace(op, timeout_seconds=0)
    )
    conn = make_sim_connection(acme, alice, CONTOSO, "contoso-demo-secret")
    run = start(conn, alice, "inventory.sync", django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        assert execute(run.pk) == RunStatus.FAILED
    run.refresh_from_db()
    assert run.reason_code == "run.timed_out"
    assert conn.inventory_items.count() == 0
    assert Notification.objects.get(user=alice).kind == "run.failed"
