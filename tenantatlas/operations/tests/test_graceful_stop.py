"""SIGTERM to a worker: its run stops at the next page boundary and goes back to the queue.

Not `run.worker_lost`, not cancelled: the run is `queued` again (re-enqueued, its attempt
counted), the worker exits well within the stop timeout of docs/deploy.md, and the next worker
completes the run. Both transports, real worker processes.
"""

from __future__ import annotations

import signal
import subprocess
import time

import pytest
from django_tasks_db.models import DBTaskResult
from rq.job import Job

from tenantatlas.operations.models import OperationRun, RunStatus
from tenantatlas.operations.registry import OPERATIONS
from tenantatlas.operations.services import start_operation
from tenantatlas.operations.tests.processes import (
    manage,
    output_of,
    rq_transport,
    sim_tenant,
    stop,
    subprocess_env,
    wait_for,
)
from tenantatlas.simulator.scenarios import Faults
from tenantatlas.testing import make_sim_connection

DEVICES = "/v1.0/deviceManagement/managedDevices"
# Far below docs/deploy.md's TimeoutStopSec: a page boundary comes every second here.
EXIT_WITHIN_SECONDS = 30


def _slow_tenant(sim, tenant_id: str, secret: str, *, slow: bool = True):
    faults = Faults(slow_seconds=1.0, slow_paths=[DEVICES]) if slow else Faults()
    sim.add_tenant(sim_tenant(tenant_id, secret, device_count=8000, faults=faults))


def _stop_mid_run(worker: subprocess.Popen[bytes], run: OperationRun) -> float:
    wait_for(
        lambda: OperationRun.objects.filter(
            pk=run.pk, status=RunStatus.RUNNING, progress_done__gt=0
        ).exists(),
        timeout=60,
        what="the worker to be mid-sync",
    )
    worker.send_signal(signal.SIGTERM)
    signalled = time.monotonic()
    try:
        worker.wait(timeout=EXIT_WITHIN_SECONDS)
    except subprocess.TimeoutExpired:
        raise AssertionError(f"worker still running:\n{stop(worker)}") from None
    assert worker.returncode == 0, output_of(worker)
    return time.monotonic() - signalled


def _assert_handed_back(run: OperationRun, output: str) -> None:
    run.refresh_from_db()
    assert run.status == RunStatus.QUEUED, (run.status, run.reason_code, output)
    assert run.reason_code == ""
    assert run.finished_at is None
    assert run.heartbeat_at is None
    assert run.cancel_requested_at is None
    assert run.attempts == 1
    assert run.context["handed_back"] == 1


def _finish_with_a_new_worker(run: OperationRun, env: dict[str, str]) -> None:
    worker = manage("worker", "--batch", env=env)
    try:
        worker.wait(timeout=120)
    finally:
        output = stop(worker)
    run.refresh_from_db()
    assert run.status == RunStatus.SUCCEEDED, (run.reason_code, run.failure_message, output)
    assert run.attempts == 2


@pytest.mark.django_db(transaction=True)
def test_it_hands_the_run_back_on_sigterm_with_the_database_queue(sim, acme, alice):
    tenant = "5e1f0a2b-0001-4c6d-8e9f-0a1b2c3d4e5f"
    _slow_tenant(sim, tenant, "stop-db")
    conn = make_sim_connection(acme, alice, tenant, "stop-db")
    run = start_operation(
        actor=alice, member=None, connection=conn, operation_type="inventory.sync"
    ).run
    env = subprocess_env(sim)
    worker = manage("worker", "--interval", "0.2", env=env)
    exited_after = _stop_mid_run(worker, run)
    _assert_handed_back(run, output_of(worker))
    # Re-enqueued: a task for the run waits in the database queue again.
    waiting = [
        task for task in DBTaskResult.objects.ready() if task.args_kwargs["args"] == [run.pk]
    ]
    assert len(waiting) == 1

    _slow_tenant(sim, tenant, "stop-db", slow=False)
    _finish_with_a_new_worker(run, env)
    print(f"\nSIGTERM (database queue): run handed back, worker exited {exited_after:.1f}s later")


@pytest.mark.django_db(transaction=True)
def test_it_hands_the_run_back_on_sigterm_with_rq(sim, acme, alice, settings):
    tenant = "5e1f0a2b-0002-4c6d-8e9f-0a1b2c3d4e5f"
    _slow_tenant(sim, tenant, "stop-rq")
    conn = make_sim_connection(acme, alice, tenant, "stop-rq")
    with rq_transport(settings, sim) as (redis_server, env):
        run = start_operation(
            actor=alice, member=None, connection=conn, operation_type="inventory.sync"
        ).run
        worker = manage("worker", env=env)
        exited_after = _stop_mid_run(worker, run)
        _assert_handed_back(run, output_of(worker))
        with redis_server.client() as client:
            assert client.llen("rq:queue:bulk") == 1  # re-enqueued on Redis, in its queue
            job = Job.fetch(client.lindex("rq:queue:bulk", 0).decode(), connection=client)
        # Enqueued by the worker process with its own settings: RQ would not kill it early.
        assert job.timeout >= OPERATIONS["inventory.sync"].timeout_seconds + 300

        _slow_tenant(sim, tenant, "stop-rq", slow=False)
        _finish_with_a_new_worker(run, env)
    print(f"\nSIGTERM (RQ): run handed back, worker exited {exited_after:.1f}s later")
