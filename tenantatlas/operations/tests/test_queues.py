"""Fair concurrency: short work never waits behind long syncs.

Connection checks, snapshots and alert deliveries wait on the `interactive` queue, inventory
syncs on `bulk`, whoever sends them (a start, the reaper's re-send, a hand-back, a reschedule);
a worker takes its queues in the order given; with one worker busy on a long sync, a check
queued after it is run by another worker and finishes while the sync still runs. Both
transports: the database queue and RQ on Redis (127.0.0.1:6379, a database number of this
test's own). The embedded `serve` starts enough workers, at least one never taking a sync.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis
from django.utils import timezone
from django_tasks_db.models import DBTaskResult
from rq.job import Job
from rq.queue import Queue
from rq.registry import ScheduledJobRegistry

from tenantatlas.alerts.delivery import enqueue_delivery
from tenantatlas.embedded.management.commands.serve import worker_count, worker_queues
from tenantatlas.lib.tests.local_servers import REDIS_TEST_URL_BASE
from tenantatlas.operations.models import OperationRun, RunStatus
from tenantatlas.operations.reaper import reap
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
from tenantatlas.operations.worker import claim, hand_back, reschedule
from tenantatlas.simulator.scenarios import Faults
from tenantatlas.testing import make_connection, make_sim_connection

INTERACTIVE, BULK = "interactive", "bulk"
REDIS_BASE = REDIS_TEST_URL_BASE  # 127.0.0.1:6379 unless TENANTATLAS_TEST_REDIS_URL says
CLAIM = "tenantatlas-tests:claimed-by"  # the claim test_rq_transport.py honours too
DEVICES = "/v1.0/deviceManagement/managedDevices"

Waiting = Callable[[], dict[str, list[tuple[str, int]]]]


@pytest.fixture
def redis_db() -> Iterator[tuple[redis.Redis, str]]:
    """A Redis database number nobody else is using (parallel suites must not share queues)."""
    for number in range(9, 16):
        client = redis.Redis.from_url(f"{REDIS_BASE}/{number}")
        try:
            claimed = client.set(CLAIM, os.getpid(), nx=True, ex=900)
        except redis.ConnectionError:
            pytest.fail(f"Redis is not reachable at {REDIS_BASE}")
        if not claimed:
            client.close()
            continue
        client.flushdb()
        client.set(CLAIM, os.getpid(), ex=900)
        try:
            yield client, f"{REDIS_BASE}/{number}"
        finally:
            client.flushdb()
            client.close()
        return
    pytest.fail("no free Redis database number between 9 and 15")


def _use_rq(settings: Any, url: str) -> None:
    """This process enqueues through django-tasks-rq on `url`, with the product's queues."""
    settings.TASKS = {
        "default": {
            "BACKEND": "tenantatlas.operations.rq_backend.PrioritisingRQBackend",
            "QUEUES": settings.TASK_QUEUES,
        }
    }
    settings.RQ_QUEUES = {
        name: {"URL": url, "DEFAULT_TIMEOUT": settings.RQ_JOB_TIMEOUT}
        for name in settings.TASK_QUEUES
    }


def _waiting_in_database() -> dict[str, list[tuple[str, int]]]:
    """In the order a worker takes them: priority, then arrival."""
    waiting: dict[str, list[tuple[str, int]]] = {}
    ready = DBTaskResult.objects.filter(status="READY")
    for task in ready.order_by("-priority", "enqueued_at"):
        name = task.task_path.rsplit(".", 1)[-1]
        waiting.setdefault(task.queue_name, []).append((name, task.args_kwargs["args"][0]))
    return waiting


def _waiting_in_redis(client: redis.Redis) -> dict[str, list[tuple[str, int]]]:
    waiting: dict[str, list[tuple[str, int]]] = {}
    for name in (INTERACTIVE, BULK, "default"):
        queue = Queue(name, connection=client)
        for job_id in [*queue.job_ids, *ScheduledJobRegistry(queue=queue).get_job_ids()]:
            job = Job.fetch(job_id, connection=client)
            task_name = str(job.func_name).rsplit(".", 1)[-1]
            waiting.setdefault(name, []).append((task_name, job.args[0]))
    return waiting


@pytest.fixture(params=["database", "rq"])
def waiting(request: Any, settings: Any) -> Iterator[Waiting]:
    """What waits on which queue, for this test process's transport: {queue: [(task, id)]}."""
    if request.param == "database":
        yield _waiting_in_database
        return
    client, url = request.getfixturevalue("redis_db")
    _use_rq(settings, url)
    yield lambda: _waiting_in_redis(client)


def _connections(acme: Any, alice: Any, count: int) -> list[Any]:
    return [
        make_connection(
            acme, alice, name=f"Tenant {i}", entra_tenant_id=f"7a0e0000-0000-4000-8000-{i:012d}"
        )
        for i in range(count)
    ]


def test_it_queues_each_operation_by_its_type(
    waiting, acme, alice, django_capture_on_commit_callbacks
):
    check_conn, sync_conn, snapshot_conn = _connections(acme, alice, 3)
    with django_capture_on_commit_callbacks(execute=True):
        check = start_operation(
            actor=alice, connection=check_conn, operation_type="provider.health_check"
        ).run
        sync = start_operation(
            actor=alice, connection=sync_conn, operation_type="inventory.sync"
        ).run
        snapshot = start_operation(
            actor=alice, connection=snapshot_conn, operation_type="compliance.snapshot"
        ).run

    assert waiting() == {
        INTERACTIVE: [("execute_run", check.pk), ("execute_run", snapshot.pk)],
        BULK: [("execute_run", sync.pk)],
    }


def test_it_sends_alert_deliveries_to_the_interactive_queue(waiting, db):
    assert enqueue_delivery(41) is True
    assert enqueue_delivery(42, run_after=timezone.now() + dt.timedelta(minutes=5)) is True

    assert waiting() == {INTERACTIVE: [("deliver_alert", 41), ("deliver_alert", 42)]}


def test_it_puts_an_alert_delivery_ahead_of_the_runs_waiting_before_it(
    waiting, acme, alice, django_capture_on_commit_callbacks
):
    first, second = _connections(acme, alice, 2)
    with django_capture_on_commit_callbacks(execute=True):
        checks = [
            start_operation(actor=alice, connection=c, operation_type="provider.health_check")
            for c in (first, second)
        ]
    assert enqueue_delivery(43) is True

    assert waiting() == {
        INTERACTIVE: [
            ("deliver_alert", 43),
            ("execute_run", checks[0].run.pk),
            ("execute_run", checks[1].run.pk),
        ]
    }


def test_it_keeps_the_queue_when_the_reaper_resends(
    waiting, acme, alice, settings, django_capture_on_commit_callbacks
):
    check_conn, sync_conn = _connections(acme, alice, 2)
    with django_capture_on_commit_callbacks(execute=False):  # the first sends were lost
        check = start_operation(
            actor=alice, connection=check_conn, operation_type="provider.health_check"
        ).run
        sync = start_operation(
            actor=alice, connection=sync_conn, operation_type="inventory.sync"
        ).run
    assert waiting() == {}

    later = timezone.now() + dt.timedelta(seconds=settings.RUN_QUEUED_STALE_AFTER_SECONDS + 1)
    with django_capture_on_commit_callbacks(execute=True):
        assert reap(now=later)["requeued"] == 2

    assert waiting() == {
        INTERACTIVE: [("execute_run", check.pk)],
        BULK: [("execute_run", sync.pk)],
    }


def test_it_keeps_the_queue_when_a_run_goes_back_to_it(
    waiting, acme, alice, django_capture_on_commit_callbacks
):
    (sync_conn,) = _connections(acme, alice, 1)
    with django_capture_on_commit_callbacks(execute=False):
        sync = start_operation(
            actor=alice, connection=sync_conn, operation_type="inventory.sync"
        ).run

    assert claim(sync.pk)
    with django_capture_on_commit_callbacks(execute=True):
        assert hand_back(OperationRun.objects.get(pk=sync.pk))  # its worker is stopping
    assert waiting() == {BULK: [("execute_run", sync.pk)]}

    assert claim(sync.pk)
    with django_capture_on_commit_callbacks(execute=True):
        assert reschedule(  # Graph said: retry later
            OperationRun.objects.get(pk=sync.pk),
            not_before=timezone.now() + dt.timedelta(minutes=2),
            note={"reason_code": "graph.throttled"},
        )
    assert waiting() == {BULK: [("execute_run", sync.pk), ("execute_run", sync.pk)]}


# Real worker processes: the queue order, and a check beside a long sync.


@pytest.fixture(params=["database", "rq"])
def worker_env(request: Any, sim: Any, settings: Any) -> dict[str, str]:
    """The environment of worker processes on this test's database (and Redis), with this
    process enqueueing on the same transport."""
    if request.param == "database":
        return subprocess_env(sim)
    _, url = request.getfixturevalue("redis_db")
    _use_rq(settings, url)
    return subprocess_env(sim, TENANTATLAS_TASK_TRANSPORT="rq", REDIS_URL=url)


def _sim_connection(sim: Any, acme: Any, alice: Any, tenant_id: str, **fields: Any) -> Any:
    secret = f"queues-{tenant_id[:8]}"
    sim.add_tenant(sim_tenant(tenant_id, secret, **fields))
    return make_sim_connection(acme, alice, tenant_id, secret)


def _finish(process: subprocess.Popen[bytes], timeout: float) -> str:
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        raise AssertionError(f"worker did not finish in {timeout}s:\n{stop(process)}") from None
    return output_of(process)


@pytest.mark.parametrize(
    ("queues", "queued_first", "runs_first"),
    [
        ("interactive,bulk", "inventory.sync", "provider.health_check"),
        ("bulk,interactive", "provider.health_check", "inventory.sync"),
    ],
)
@pytest.mark.django_db(transaction=True)
def test_it_takes_its_queues_in_the_order_given(
    worker_env, sim, acme, alice, queues, queued_first, runs_first
):
    tenants = ["7a0e1000-0000-4000-8000-000000000001", "7a0e1000-0000-4000-8000-000000000002"]
    runs = {}
    for tenant_id, operation_type in zip(
        tenants, [queued_first, runs_first], strict=True
    ):  # the less urgent one is queued first
        conn = _sim_connection(sim, acme, alice, tenant_id, device_count=200, seed=5)
        runs[operation_type] = start_operation(
            actor=alice, connection=conn, operation_type=operation_type
        ).run

    # One lane (on the database queue a worker serving both queues would also run a check in
    # its interactive lane, beside the sync: test_interactive_lane.py): the order alone decides.
    worker = manage(
        "worker", "--batch", "--no-interactive-lane", "--queues", queues, env=worker_env
    )
    output = _finish(worker, 120)

    by_start = OperationRun.objects.order_by("started_at").values_list("operation_type", "status")
    assert list(by_start) == [
        (runs_first, RunStatus.SUCCEEDED),
        (queued_first, RunStatus.SUCCEEDED),
    ], output


def _polling(worker: subprocess.Popen[bytes]) -> bool:
    """The worker has started and waits for work (database queue, RQ)."""
    output = output_of(worker)
    return " serves [" in output or "*** Listening on" in output


@pytest.mark.django_db(transaction=True)
def test_it_runs_a_check_beside_a_long_sync(worker_env, sim, acme, alice):
    big = _sim_connection(
        sim,
        acme,
        alice,
        "7a0e2000-0000-4000-8000-000000000001",
        device_count=12000,
        seed=7,
        faults=Faults(slow_seconds=3.0, slow_paths=[DEVICES]),  # ≥ 36 s of device pages
    )
    small = _sim_connection(sim, acme, alice, "7a0e2000-0000-4000-8000-000000000002")
    workers = [
        manage("worker", "--interval", "0.2", "--queues", "interactive", env=worker_env),
        manage("worker", "--interval", "0.2", "--queues", "interactive,bulk", env=worker_env),
    ]
    try:

        def diagnose() -> str:
            return "\n".join(output_of(worker) for worker in workers)

        wait_for(  # a loaded machine may take long to start Python processes
            lambda: all(_polling(worker) for worker in workers),
            timeout=180,
            what="the workers to start",
            diagnose=diagnose,
        )
        sync = start_operation(actor=alice, connection=big, operation_type="inventory.sync").run
        wait_for(
            lambda: OperationRun.objects.filter(
                pk=sync.pk, status=RunStatus.RUNNING, progress_done__gt=0
            ).exists(),
            timeout=120,
            what="the sync to be under way",
            diagnose=diagnose,
        )
        check = check_to_its_end(alice, small, timeout=120, diagnose=diagnose)
        sync.refresh_from_db()
    finally:
        for worker in workers:
            worker.terminate()  # the sync goes back to the queue at its next page boundary
        outputs = [stop(worker) for worker in workers]

    assert check.status == RunStatus.SUCCEEDED, (check.reason_code, outputs)
    assert sync.status == RunStatus.RUNNING, outputs  # the check did not wait for it
    assert sync.finished_at is None
    assert check.started_at is not None
    assert check.enqueued_at is not None
    waited = (check.started_at - check.enqueued_at).total_seconds()
    print(f"\nconnection check beside a running sync: waited {waited:.2f}s in the queue")


# The embedded product: how many workers, and which queues each serves.


def test_it_starts_one_worker_per_cpu_within_bounds(settings):
    settings.SERVE_WORKERS = 0
    assert [worker_count(cpus=cpus) for cpus in (1, 2, 4, 8, 64)] == [2, 2, 4, 8, 8]


def test_it_lets_the_command_line_and_the_environment_choose(settings):
    settings.SERVE_WORKERS = 3  # TENANTATLAS_WORKERS=3
    assert worker_count(cpus=16) == 3
    assert worker_count(5, cpus=16) == 5  # serve --workers 5


def test_it_keeps_workers_that_never_take_a_sync():
    assert worker_queues(1) == [[INTERACTIVE, BULK]]
    assert worker_queues(2) == [[INTERACTIVE], [INTERACTIVE, BULK]]
    assert worker_queues(4) == [[INTERACTIVE]] + [[INTERACTIVE, BULK]] * 3
    assert worker_queues(8) == [[INTERACTIVE]] * 2 + [[INTERACTIVE, BULK]] * 6


def test_it_hands_each_worker_its_queues(settings, monkeypatch):
    from tenantatlas.embedded.management.commands.serve import Command

    settings.SERVE_WORKERS = 0
    monkeypatch.setattr(os, "cpu_count", lambda: 4)
    serve = Command()
    serve.manage = ["manage.py"]
    spawned: list[tuple[str, list[str]]] = []
    monkeypatch.setattr(serve, "_spawn", lambda name, argv: spawned.append((name, argv)))

    serve._start_workers(None)

    assert spawned == [
        ("worker 1", ["manage.py", "worker", "--queues", "interactive"]),
        ("worker 2", ["manage.py", "worker", "--queues", "interactive,bulk"]),
        ("worker 3", ["manage.py", "worker", "--queues", "interactive,bulk"]),
        ("worker 4", ["manage.py", "worker", "--queues", "interactive,bulk"]),
    ]
