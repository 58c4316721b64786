"""One worker process, two lanes: a check never waits behind the sync in the same process.

A database-queue worker that serves `interactive` together with `bulk` runs an interactive lane
beside its main lane (`operations/lanes.py`): a thread with its own database connection that
takes only interactive runs. So with ONE worker process a connection check queued while a long
sync runs starts at once and finishes while the sync still runs, on SQLite (one writer) and on
PostgreSQL alike; SIGTERM hands back the run of every lane; a lane that dies takes its process
down (its supervisor restarts it) instead of leaving it half alive. Real worker processes.
"""

from __future__ import annotations

import io
import signal
import subprocess
import threading
import time
from typing import Any

import pytest
from django.db import connection
from django_tasks_db.models import DBTaskResult

from tenantatlas.observability.queue import readiness_report
from tenantatlas.operations import worker as worker_module
from tenantatlas.operations.lanes import Lanes, lane_queues
from tenantatlas.operations.models import OperationRun, RunStatus
from tenantatlas.operations.services import start_operation
from tenantatlas.operations.tests.processes import (
    check_to_its_end,
    manage,
    output_of,
    sim_tenant,
    stop,
    subprocess_env,
    wait_for,
)
from tenantatlas.simulator.scenarios import Faults
from tenantatlas.testing import make_sim_connection

DEVICES = "/v1.0/deviceManagement/managedDevices"
# A check queued beside a sync starts within this long (the lane polls every 0.2 s here; the
# rest is a loaded machine and, on SQLite, the sync's page writes holding the one write lock).
STARTS_WITHIN_SECONDS = 10
EXIT_WITHIN_SECONDS = 30  # docs/deploy.md's stop timeout is far longer


def _tenant(sim: Any, acme: Any, alice: Any, tenant_id: str, **fields: Any) -> Any:
    secret = f"lanes-{tenant_id[:8]}"
    sim.add_tenant(sim_tenant(tenant_id, secret, **fields))
    return make_sim_connection(acme, alice, tenant_id, secret)


def _slow(seconds: float) -> Faults:
    return Faults(slow_seconds=seconds, slow_paths=[DEVICES])


def _under_way(run: OperationRun, worker: subprocess.Popen[bytes], what: str) -> None:
    wait_for(
        lambda: OperationRun.objects.filter(
            pk=run.pk, status=RunStatus.RUNNING, progress_done__gt=0
        ).exists(),
        timeout=120,
        what=what,
        diagnose=lambda: output_of(worker),
    )


def _started_worker(env: dict[str, str], *args: str) -> subprocess.Popen[bytes]:
    worker = manage("worker", "--interval", "0.2", *args, env=env)
    try:
        wait_for(  # a loaded machine may take long to start Python
            lambda: " serves [" in output_of(worker),
            timeout=180,
            what="the worker to start",
            diagnose=lambda: output_of(worker),
        )
    except AssertionError:
        stop(worker)  # never left behind
        raise
    return worker


def test_a_worker_serving_both_queues_keeps_a_lane_for_interactive_work(settings):
    interactive, bulk = settings.TASK_QUEUE_INTERACTIVE, settings.TASK_QUEUE_BULK
    assert lane_queues([interactive, bulk]) == [[interactive, bulk], [interactive]]
    assert lane_queues([bulk, interactive]) == [[bulk, interactive], [interactive]]
    assert lane_queues([interactive]) == [[interactive]]
    assert lane_queues([bulk]) == [[bulk]]
    assert lane_queues([interactive, bulk], interactive_lane=False) == [[interactive, bulk]]


@pytest.mark.django_db(transaction=True)
def test_one_worker_runs_a_check_beside_a_long_sync(sim, acme, alice):
    big = _tenant(
        sim, acme, alice, "7a0e3000-0000-4000-8000-000000000001",
        device_count=12000, seed=7, faults=_slow(3.0),  # ≥ 36 s of device pages
    )  # fmt: skip
    small = _tenant(sim, acme, alice, "7a0e3000-0000-4000-8000-000000000002")
    worker = _started_worker(subprocess_env(sim))  # the default: interactive,bulk
    try:
        sync = start_operation(actor=alice, connection=big, operation_type="inventory.sync").run
        _under_way(sync, worker, "the sync to be under way")
        check = check_to_its_end(alice, small, timeout=120, diagnose=lambda: output_of(worker))
        sync.refresh_from_db()
    finally:
        output = stop(worker)  # the sync goes back to the queue at its next page boundary

    assert check.status == RunStatus.SUCCEEDED, (check.reason_code, output)
    assert sync.status == RunStatus.RUNNING, output  # the check did not wait for it
    assert check.started_at is not None
    assert check.enqueued_at is not None
    waited = (check.started_at - check.enqueued_at).total_seconds()
    assert waited < STARTS_WITHIN_SECONDS, output
    print(f"\none worker, {connection.vendor}: the check beside a sync waited {waited:.2f}s")


@pytest.mark.django_db(transaction=True)
def test_one_worker_without_the_lane_runs_one_run_at_a_time(sim, acme, alice):
    big = _tenant(
        sim, acme, alice, "7a0e3000-0000-4000-8000-000000000011",
        device_count=6000, seed=7, faults=_slow(1.0),
    )  # fmt: skip
    small = _tenant(sim, acme, alice, "7a0e3000-0000-4000-8000-000000000012")
    sync = start_operation(actor=alice, connection=big, operation_type="inventory.sync").run
    worker = manage("worker", "--interval", "0.2", "--no-interactive-lane", env=subprocess_env(sim))
    try:
        _under_way(sync, worker, "the sync to be under way")
        check = check_to_its_end(alice, small, timeout=180, diagnose=lambda: output_of(worker))
    finally:
        output = stop(worker)
    sync.refresh_from_db()
    assert output.count(" serves [") == 1, output
    assert sync.status == RunStatus.SUCCEEDED, output
    assert sync.finished_at is not None
    assert check.started_at is not None
    assert check.started_at >= sync.finished_at, output  # it waited for the sync


@pytest.mark.django_db(transaction=True)
def test_sigterm_hands_back_the_run_of_each_lane(sim, acme, alice):
    big = _tenant(
        sim, acme, alice, "7a0e3000-0000-4000-8000-000000000021",
        device_count=20000, seed=3, faults=_slow(1.0),
    )  # fmt: skip
    other = _tenant(
        sim, acme, alice, "7a0e3000-0000-4000-8000-000000000022",
        device_count=12000, seed=4, faults=_slow(1.0),
    )  # fmt: skip
    worker = _started_worker(subprocess_env(sim))
    try:
        sync = start_operation(actor=alice, connection=big, operation_type="inventory.sync").run
        _under_way(sync, worker, "the sync to be under way")
        snapshot = start_operation(
            actor=alice, connection=other, operation_type="compliance.snapshot"
        ).run
        _under_way(snapshot, worker, "the snapshot to be under way beside the sync")
        # Liveness as /readyz and /metrics tell it: two runs of one process, both beating.
        workers = readiness_report()["workers"]
        assert (workers["status"], workers["running"]) == ("ok", 2)

        worker.send_signal(signal.SIGTERM)
        signalled = time.monotonic()
        worker.wait(timeout=EXIT_WITHIN_SECONDS)
        exited_after = time.monotonic() - signalled
    finally:
        output = stop(worker)

    assert worker.returncode == 0, output
    for run in (sync, snapshot):
        run.refresh_from_db()
        assert (run.status, run.reason_code, run.heartbeat_at) == (RunStatus.QUEUED, "", None)
        assert run.context["handed_back"] == 1, output
    waiting = sorted(
        (task.queue_name, task.args_kwargs["args"][0]) for task in DBTaskResult.objects.ready()
    )
    assert waiting == [("bulk", sync.pk), ("interactive", snapshot.pk)]
    print(f"\nSIGTERM with both lanes busy: both runs handed back, exited {exited_after:.1f}s")


class _FakeLane:
    """A lane that serves until it is stopped, or dies at once (``dies``)."""

    def __init__(self, queues: list[str], *, dies: bool = False) -> None:
        self.queue_names = queues
        self.running = True
        self.stopping = threading.Event()
        self.dies = dies
        self.stopped_by_the_other = False

    def run(self) -> None:
        if self.dies:
            raise RuntimeError("a bug in the lane")
        self.stopped_by_the_other = self.stopping.wait(30)


def test_a_lane_that_dies_stops_the_whole_worker():
    main, interactive = _FakeLane(["interactive", "bulk"]), _FakeLane(["interactive"], dies=True)
    try:
        status = Lanes([main, interactive], retry=True).run()
        handed_back = worker_module._hand_back_requested.is_set()
    finally:
        worker_module._hand_back_requested.clear()  # this test process runs runs too

    assert status == 1  # the command exits non-zero; its supervisor starts it again
    assert main.stopped_by_the_other
    assert not main.running
    assert handed_back  # the main lane's run in hand went back to the queue


@pytest.mark.parametrize(("transport", "warned"), [("database", False), ("rq", True)])
def test_serve_with_one_worker_warns_only_where_checks_wait_behind_syncs(
    settings, monkeypatch, transport, warned
):
    from tenantatlas.embedded.management.commands.serve import Command

    settings.TASK_TRANSPORT = transport
    said = io.StringIO()
    serve = Command(stdout=io.StringIO(), stderr=said)
    serve.manage = ["manage.py"]
    spawned: list[list[str]] = []
    monkeypatch.setattr(serve, "_spawn", lambda name, argv: spawned.append(argv))

    serve._start_workers(1)

    assert spawned == [["manage.py", "worker", "--queues", "interactive,bulk"]]
    assert ("wait while it runs a sync" in said.getvalue()) is warned
