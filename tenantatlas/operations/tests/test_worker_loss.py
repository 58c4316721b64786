"""A worker that dies mid-run: the reaper fails the run, people hear about it, the scope frees up.

With the default settings a lost worker is noticed within a minute; an RQ work horse killed
under its worker is noticed at once. Also: queued runs nobody took are re-sent, then failed
after the redelivery limit, and a second delivery of the same run id does nothing.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import time

import pytest
from django.utils import timezone

from tenantatlas.lib.reasons import get_reason
from tenantatlas.notifications.models import Notification
from tenantatlas.operations.models import OperationRun, RunStatus
from tenantatlas.operations.reaper import MAX_REDELIVERIES, reap
from tenantatlas.operations.services import ScopeBusy, start_operation
from tenantatlas.operations.tests.processes import (
    manage,
    output_of,
    rq_transport,
    rq_work_horse,
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


DEFAULTS_TENANT = "9e4a1c7b-0d3f-4a5b-8c6d-0e1f2a3b4c5d"
HORSE_TENANT = "9e4a1c7b-1d3f-4a5b-8c6d-0e1f2a3b4c5d"
DEVICES = "/v1.0/deviceManagement/managedDevices"


def _mid_run(run: OperationRun) -> bool:
    return OperationRun.objects.filter(pk=run.pk, status="running", progress_done__gt=0).exists()


def _ended(run: OperationRun) -> bool:
    return OperationRun.objects.filter(pk=run.pk, status=RunStatus.FAILED).exists()


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_it_notices_a_killed_worker_within_a_minute_by_default(sim, acme, alice):
    """R2 timing: the real defaults (heartbeat, stale-after, the reaper loop's interval)."""
    slow = Faults(slow_seconds=2.0, slow_paths=[DEVICES])
    sim.add_tenant(sim_tenant(DEFAULTS_TENANT, "defaults", device_count=6000, faults=slow))
    conn = make_sim_connection(acme, alice, DEFAULTS_TENANT, "defaults")
    run = start_operation(
        actor=alice, member=None, connection=conn, operation_type="inventory.sync"
    ).run
    env = subprocess_env(sim)  # no TENANTATLAS_RUN_* overrides: what an installation gets
    worker = manage("worker", "--interval", "0.2", env=env)
    reaper = manage("reap", "--loop", env=env)
    try:
        wait_for(lambda: _mid_run(run), timeout=60, what="the worker to be mid-sync")
        os.kill(worker.pid, signal.SIGKILL)
        killed_at = time.monotonic()
        assert worker.wait(timeout=10) == -signal.SIGKILL
        wait_for(lambda: _ended(run), timeout=90, interval=0.5, what="the lost run to be failed")
        noticed_after = time.monotonic() - killed_at
    finally:
        stop(worker)
        reaper_output = stop(reaper)
    run.refresh_from_db()
    assert run.reason_code == "run.worker_lost", reaper_output
    assert noticed_after < 60, noticed_after
    print(
        f"\nR2 timing: a SIGKILLed worker's run failed run.worker_lost {noticed_after:.1f}s later"
    )


@pytest.mark.django_db(transaction=True)
def test_it_fails_the_run_at_once_when_an_rq_work_horse_is_killed(sim, acme, alice, settings):
    slow = Faults(slow_seconds=2.0, slow_paths=[DEVICES])
    sim.add_tenant(sim_tenant(HORSE_TENANT, "horse", device_count=6000, faults=slow))
    conn = make_sim_connection(acme, alice, HORSE_TENANT, "horse")
    with rq_transport(settings, sim) as (_, env):
        run = start_operation(
            actor=alice, member=None, connection=conn, operation_type="inventory.sync"
        ).run
        worker = manage("worker", env=env)
        try:
            wait_for(lambda: _mid_run(run), timeout=60, what="the work horse to be mid-sync")
            horse = wait_for(lambda: rq_work_horse(worker.pid), timeout=5, what="the work horse")
            os.kill(horse, signal.SIGKILL)
            killed_at = time.monotonic()
            wait_for(lambda: _ended(run), timeout=15, interval=0.1, what="the run to be failed")
            noticed_after = time.monotonic() - killed_at
            assert worker.poll() is None  # the worker itself lives on
            again = start_operation(
                actor=alice, member=None, connection=conn, operation_type="provider.health_check"
            )
            assert again.created  # the scope is free at once
            wait_for(
                lambda: OperationRun.objects.filter(pk=again.run.pk, status="succeeded").exists(),
                timeout=60,
                what="the same worker to run the next start",
                diagnose=lambda: output_of(worker),
            )
        finally:
            output = stop(worker)
    run.refresh_from_db()
    assert run.reason_code == "run.worker_lost", output
    assert "killed (signal 9)" in run.failure_message, run.failure_message
    assert noticed_after < 5, (noticed_after, output)
    assert Notification.objects.filter(user=alice, kind="run.failed").count() == 1
    print(f"\nRQ work horse SIGKILLed: run failed run.worker_lost {noticed_after:.1f}s later")


@pytest.mark.django_db(transaction=True)
def test_it_keeps_beating_after_a_heartbeat_fails(acme, alice, monkeypatch):
    """A beat that meets a locked or restarting database must not end the heartbeat."""
    from django.db.utils import OperationalError

    from tenantatlas.operations import worker
    from tenantatlas.testing import make_connection

    run = start_operation(
        actor=alice,
        member=None,
        connection=make_connection(acme, alice),
        operation_type="provider.health_check",
    ).run
    assert claim(run.pk)
    OperationRun.objects.filter(pk=run.pk).update(heartbeat_at=None)
    real_now, calls = timezone.now, []

    def flaky_now():
        calls.append(1)
        if len(calls) == 1:
            raise OperationalError("database is locked")
        return real_now()

    monkeypatch.setattr(worker.timezone, "now", flaky_now)
    with worker.Heartbeat(run.pk, interval=0.05):
        beat = wait_for(
            lambda: OperationRun.objects.get(pk=run.pk).heartbeat_at,
            timeout=5,
            what="a heartbeat after the failed one",
        )
    assert len(calls) >= 2
    assert beat is not None


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


KILL_TENANTS = [
    "4b1d0c2e-0001-4a5b-8c6d-0e1f2a3b4c5d",
    "4b1d0c2e-0002-4a5b-8c6d-0e1f2a3b4c5d",
    "4b1d0c2e-0003-4a5b-8c6d-0e1f2a3b4c5d",
]
TERMINAL = {
    RunStatus.SUCCEEDED,
    RunStatus.PARTIALLY_SUCCEEDED,
    RunStatus.FAILED,
    RunStatus.CANCELLED,
}


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_it_survives_sigkill_at_random_points_of_runs(sim, acme, alice, settings):
    """R2: workers killed at random moments; every run ends terminal, nothing lost, scopes free."""
    import random
    import time

    seed = int(os.environ.get("R2_SEED", time.time_ns() % 10_000))
    rng = random.Random(seed)
    slow = Faults(slow_seconds=0.3, slow_paths=["/v1.0/deviceManagement"])
    conns = []
    for i, tenant_id in enumerate(KILL_TENANTS):
        sim.add_tenant(sim_tenant(tenant_id, f"kill-{i}", device_count=2500, faults=slow))
        conns.append(make_sim_connection(acme, alice, tenant_id, f"kill-{i}"))
    env = subprocess_env(sim, TENANTATLAS_RUN_HEARTBEAT_SECONDS="1")
    settings.RUN_STALE_AFTER_SECONDS = 2
    types = ["inventory.sync", "compliance.snapshot", "provider.health_check"]
    started: set[int] = set()
    kills = []

    def start_everywhere() -> None:
        for conn in conns:
            try:
                result = start_operation(
                    actor=alice, member=None, connection=conn, operation_type=rng.choice(types)
                )
            except ScopeBusy:
                continue  # still queued from the last round: the next worker takes it
            started.add(result.run.pk)

    for _ in range(3):
        start_everywhere()
        worker = manage("worker", "--interval", "0.2", env=env)
        try:
            wait_for(
                lambda: OperationRun.objects.filter(status="running").exists(),
                timeout=60,
                what="a worker to claim a run",
            )
            delay = rng.uniform(0.0, 2.5)
            time.sleep(delay)
            running = OperationRun.objects.filter(status="running").values_list(
                "pk", "progress_done"
            )
            kills.append((round(delay, 2), list(running)))
            os.kill(worker.pid, signal.SIGKILL)
            assert worker.wait(timeout=10) == -signal.SIGKILL
        finally:
            stop(worker)
        time.sleep(2.2)  # heartbeats are now older than RUN_STALE_AFTER_SECONDS
        reap()

    # A last worker drains whatever is still queued; the reaper ends what it cannot take.
    worker = manage("worker", "--interval", "0.2", env=env)
    try:
        wait_for(
            lambda: not OperationRun.objects.filter(status__in=["queued", "running"]).exists(),
            timeout=240,
            what="every run to end",
        )
    finally:
        output = stop(worker)
    runs = OperationRun.objects.filter(pk__in=started)
    assert runs.count() == len(started)  # nothing lost
    statuses = {run.pk: (run.status, run.reason_code) for run in runs}
    assert all(status in TERMINAL for status, _ in statuses.values()), (statuses, output)
    lost = [pk for pk, (status, reason) in statuses.items() if reason == "run.worker_lost"]
    assert all(statuses[pk][0] == RunStatus.FAILED for pk in lost)
    killed_mid_run = {pk for _, running in kills for pk, _ in running}
    assert killed_mid_run <= set(lost), (kills, statuses)
    for conn in conns:  # every scope is free again
        assert start_operation(
            actor=alice, member=None, connection=conn, operation_type="provider.health_check"
        ).created
    print(
        f"\nR2 (seed {seed}): {len(kills)} SIGKILLs at {[d for d, _ in kills]} s after a claim, "
        f"{len(started)} runs, {len(lost)} failed run.worker_lost, "
        f"{sum(1 for s, _ in statuses.values() if s != RunStatus.FAILED)} completed; 0 stuck"
    )
