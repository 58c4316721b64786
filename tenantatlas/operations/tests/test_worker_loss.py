"""A worker that dies mid-run: the reaper fails the run, people hear about it, the scope frees up.

Also: queued runs nobody took are re-sent, then failed after the redelivery limit, and a
second delivery of the same run id does nothing.
"""

from __future__ import annotations

import datetime as dt
import os
import signal

import pytest
from django.utils import timezone

from tenantatlas.lib.reasons import get_reason
from tenantatlas.notifications.models import Notification
from tenantatlas.operations.models import OperationRun, RunStatus
from tenantatlas.operations.reaper import MAX_REDELIVERIES, reap
from tenantatlas.operations.services import start_operation
from tenantatlas.operations.tests.processes import (
    manage,
    sim_tenant,
    stop,
    subprocess_env,
    wait_for,
)
from tenantatlas.operations.worker import claim, execute
from tenantatlas.simulator.scenarios import Faults
from tenantatlas.testing import make_sim_connection

SLOW_TENANT = "9e4a1c7b-2d3f-4a5b-8c6d-0e1f2a3b4c5d"
CONTOSO = "5a1c0e4b-7f2d-4c8e-9b6a-3d2f1e0c9b8a"


@pytest.mark.django_db(transaction=True)
def test_it_fails_the_run_of_a_killed_worker_and_frees_the_scope(sim, acme, alice, settings):
    sim.add_tenant(
        sim_tenant(
            SLOW_TENANT,
            "slow-secret",
            device_count=6000,
            faults=Faults(slow_seconds=2.0, slow_paths=["/v1.0/deviceManagement/managedDevices"]),
        )
    )
    conn = make_sim_connection(acme, alice, SLOW_TENANT, "slow-secret")
    run = start_operation(
        actor=alice, member=None, connection=conn, operation_type="inventory.sync"
    ).run

    worker = manage(
        "worker",
        "--interval",
        "0.2",
        env=subprocess_env(sim, TENANTATLAS_RUN_HEARTBEAT_SECONDS="1"),
    )
    try:
        # Mid-run: claimed and at least one page of devices stored.
        wait_for(
            lambda: OperationRun.objects.filter(
                pk=run.pk, status="running", progress_done__gt=0
            ).exists(),
            timeout=60,
            what="the worker to be mid-sync",
        )
        os.kill(worker.pid, signal.SIGKILL)
        assert worker.wait(timeout=10) == -signal.SIGKILL
    finally:
        output = stop(worker)
    assert OperationRun.objects.get(pk=run.pk).status == RunStatus.RUNNING, output

    settings.RUN_STALE_AFTER_SECONDS = 120
    assert reap()["worker_lost"] == 0  # a heartbeat seconds old is not a lost worker
    settings.RUN_STALE_AFTER_SECONDS = 2
    counts = wait_for(
        lambda: reap()["worker_lost"] and True, timeout=15, what="the reaper to see the lost run"
    )
    assert counts

    run.refresh_from_db()
    assert run.status == RunStatus.FAILED
    assert run.reason_code == "run.worker_lost"
    assert run.finished_at is not None
    assert conn.inventory_items.filter(kind="managed_device").count() == run.progress_done > 0
    note = Notification.objects.get(user=alice, kind="run.failed")
    assert f"/runs/{run.pk}/" in note.url
    assert get_reason("run.worker_lost").title in note.body

    again = start_operation(
        actor=alice, member=None, connection=conn, operation_type="inventory.sync"
    )
    assert again.outcome == "created"
    assert again.run.pk != run.pk


def test_it_requeues_untaken_runs_then_fails_them(
    acme, alice, settings, django_capture_on_commit_callbacks
):
    from tenantatlas.testing import make_connection

    settings.RUN_QUEUED_STALE_AFTER_SECONDS = 60
    conn = make_connection(acme, alice)
    with django_capture_on_commit_callbacks(execute=False):
        run = start_operation(
            actor=alice, member=None, connection=conn, operation_type="provider.health_check"
        ).run

    now = timezone.now()
    with django_capture_on_commit_callbacks(execute=False) as enqueued:
        assert reap(now=now + dt.timedelta(seconds=30)) == {
            "worker_lost": 0,
            "requeued": 0,
            "expired": 0,
        }
    assert enqueued == []

    for delivery in range(1, MAX_REDELIVERIES + 1):
        now += dt.timedelta(seconds=61)
        with django_capture_on_commit_callbacks(execute=False) as enqueued:
            assert reap(now=now)["requeued"] == 1
        assert len(enqueued) == 1  # one enqueue_run per re-sent run
        run.refresh_from_db()
        assert run.status == RunStatus.QUEUED
        assert run.context["redeliveries"] == delivery
        assert run.enqueued_at == now

    now += dt.timedelta(seconds=61)
    with django_capture_on_commit_callbacks(execute=True):
        assert reap(now=now)["expired"] == 1
    run.refresh_from_db()
    assert run.status == RunStatus.FAILED
    assert run.reason_code == "run.worker_lost"
    assert Notification.objects.filter(user=alice, kind="run.failed").count() == 1
    assert start_operation(
        actor=alice, member=None, connection=conn, operation_type="inventory.sync"
    ).created


def test_it_ignores_a_second_delivery_of_the_same_run(
    sim, acme, alice, django_capture_on_commit_callbacks
):
    conn = make_sim_connection(acme, alice, CONTOSO, "contoso-demo-secret")
    with django_capture_on_commit_callbacks(execute=False):
        run = start_operation(
            actor=alice, member=None, connection=conn, operation_type="provider.health_check"
        ).run

    assert claim(run.pk) is True
    assert claim(run.pk) is False  # already running: the duplicate does nothing
    assert execute(run.pk) is None
    run.refresh_from_db()
    assert (run.status, run.attempts) == (RunStatus.RUNNING, 1)

    OperationRun.objects.filter(pk=run.pk).update(status=RunStatus.QUEUED)
    with django_capture_on_commit_callbacks(execute=True):
        assert execute(run.pk) == RunStatus.SUCCEEDED
    with django_capture_on_commit_callbacks(execute=True) as late:
        assert execute(run.pk) is None  # a late redelivery after the end
    assert late == []
    run.refresh_from_db()
    assert (run.status, run.attempts) == (RunStatus.SUCCEEDED, 2)
    assert Notification.objects.filter(user=alice).count() == 1
