"""What /metrics says: runs finished and their durations, the queue and the heartbeats from the
database, Graph requests, 429s and retries per cloud, open alert deliveries; and that a scrape
costs the same few queries however many runs an install has kept."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tenantatlas.alerts.models import AlertChannel, AlertDelivery, ChannelState
from tenantatlas.graph.tests.simulated import Setup, connect, org, simulator_cloud
from tenantatlas.lib import metrics
from tenantatlas.observability.tests.scrape import scrape, value
from tenantatlas.operations.services import cancel_run, start_operation
from tenantatlas.operations.tests.factories import make_run, make_runs
from tenantatlas.operations.tests.processes import run_once
from tenantatlas.simulator.scenarios import Faults, ThrottleFault
from tenantatlas.testing import make_sim_connection

CONTOSO = "5a1c0e4b-7f2d-4c8e-9b6a-3d2f1e0c9b8a"  # a simulated demo tenant


def finished(samples: Any, operation_type: str, status: str, reason_code: str = "") -> float:
    found = value(
        samples,
        "tenantatlas_runs_finished_total",
        operation_type=operation_type,
        status=status,
        reason_code=reason_code,
    )
    return found or 0.0


def durations(samples: Any, operation_type: str) -> float:
    return (
        value(samples, "tenantatlas_run_duration_seconds_count", operation_type=operation_type)
        or 0.0
    )


def test_a_finished_run_is_counted_by_type_and_status_with_its_duration(
    sim, acme, alice, django_capture_on_commit_callbacks
):
    conn = make_sim_connection(acme, alice, CONTOSO, "contoso-demo-secret")
    before = scrape()

    run = run_once(conn, alice, "provider.health_check", django_capture_on_commit_callbacks)

    after = scrape()
    assert run.status == "succeeded"
    assert finished(after, "provider.health_check", "succeeded") == (
        finished(before, "provider.health_check", "succeeded") + 1
    )
    assert (
        durations(after, "provider.health_check") == durations(before, "provider.health_check") + 1
    )
    every = value(
        after,
        "tenantatlas_run_duration_seconds_bucket",
        operation_type="provider.health_check",
        le="+Inf",
    )
    assert every == durations(after, "provider.health_check")


def test_a_cancelled_queued_run_is_counted_with_its_reason_and_no_duration(
    contoso, alice, django_capture_on_commit_callbacks
):
    before = scrape()
    with django_capture_on_commit_callbacks(execute=False):
        run = start_operation(
            actor=alice, member=None, connection=contoso, operation_type="inventory.sync"
        ).run
    assert (
        value(scrape(), "tenantatlas_runs_active", operation_type="inventory.sync", status="queued")
        == 1
    )
    with django_capture_on_commit_callbacks(execute=True):
        cancel_run(actor=alice, member=None, run=run)

    after = scrape()
    assert finished(after, "inventory.sync", "cancelled", "run.cancelled") == (
        finished(before, "inventory.sync", "cancelled", "run.cancelled") + 1
    )
    assert durations(after, "inventory.sync") == durations(before, "inventory.sync")
    assert (
        value(after, "tenantatlas_runs_active", operation_type="inventory.sync", status="queued")
        == 0
    )


def ago(seconds: float) -> dt.datetime:
    return timezone.now() - dt.timedelta(seconds=seconds)


@pytest.fixture
def busy_queue(acme, contoso):
    """Active runs in every state the queue knows, beside finished ones it must not count."""

    def run(**fields: Any) -> None:
        make_run(acme, contoso, **fields)

    run(operation_type="inventory.sync", status="queued", created_at=ago(120))  # due, 120 s
    run(operation_type="inventory.sync", status="queued", created_at=ago(600), not_before=ago(-300))
    # Handed back a minute ago: it waits since its last start, not since it was created.
    run(
        operation_type="compliance.snapshot",
        status="queued",
        created_at=ago(3600),
        started_at=ago(60),
    )
    # Rescheduled after a Retry-After that ended 30 s ago.
    run(
        operation_type="provider.health_check",
        status="queued",
        created_at=ago(3600),
        started_at=ago(1000),
        not_before=ago(30),
    )
    run(operation_type="inventory.sync", status="running", started_at=ago(100), heartbeat_at=ago(5))
    run(
        operation_type="compliance.snapshot",
        status="running",
        started_at=ago(100),
        heartbeat_at=ago(50),
    )
    make_runs(acme, contoso, 20, status="succeeded")
    make_runs(acme, contoso, 5, status="failed", reason_code="graph.throttled")


def between(found: float | None, low: float, high: float) -> bool:
    return found is not None and low <= found < high


def test_it_reports_the_queue_and_the_heartbeats_from_the_database(busy_queue):
    samples = scrape()

    active = {
        (labels[0][1], labels[1][1]): found
        for (name, labels), found in samples.items()
        if name == "tenantatlas_runs_active"
    }
    assert active == {
        ("compliance.snapshot", "queued"): 1,
        ("compliance.snapshot", "running"): 1,
        ("inventory.sync", "queued"): 2,
        ("inventory.sync", "running"): 1,
        ("provider.health_check", "queued"): 1,
        ("provider.health_check", "running"): 0,
    }
    assert value(samples, "tenantatlas_queue_depth", state="due") == 3
    assert value(samples, "tenantatlas_queue_depth", state="deferred") == 1
    assert between(value(samples, "tenantatlas_queue_oldest_due_age_seconds"), 120, 150)
    assert between(value(samples, "tenantatlas_worker_heartbeat_age_seconds"), 5, 35)
    assert between(value(samples, "tenantatlas_run_heartbeat_oldest_age_seconds"), 50, 80)


def test_an_empty_queue_reports_zero_and_no_heartbeat(db):
    samples = scrape()

    assert value(samples, "tenantatlas_queue_depth", state="due") == 0
    assert value(samples, "tenantatlas_queue_oldest_due_age_seconds") == 0
    assert value(samples, "tenantatlas_worker_heartbeat_age_seconds") is None


def test_a_scrape_costs_the_same_queries_however_many_runs_were_kept(acme, contoso):
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            scrape()
        return len(captured)

    make_runs(acme, contoso, 3, status="succeeded")
    few = queries()
    make_runs(acme, contoso, 300, status="succeeded")
    make_runs(acme, contoso, 100, status="failed", reason_code="graph.throttled")

    assert queries() == few
    with CaptureQueriesContext(connection) as captured:
        scrape()
    run_queries = [q["sql"] for q in captured if "operations_operationrun" in q["sql"]]
    assert len(run_queries) == 2
    assert all("'queued'" in sql and "'running'" in sql for sql in run_queries), run_queries


def test_graph_429s_and_retries_are_counted_per_cloud_through_the_real_client(simulator, db):
    cloud = simulator_cloud(simulator, name=f"sim-{uuid.uuid4().hex[:8]}")
    throttled = Setup(
        tenant={"faults": Faults(throttle=ThrottleFault(count=2, retry_after="0.01"))}
    )
    graph = connect(simulator, throttled, cloud=cloud)

    org(graph)  # answered at the third attempt, after two 429s

    samples = scrape()
    assert graph.sleeps == [0.01, 0.01]
    assert value(samples, "tenantatlas_graph_throttled_total", cloud=cloud.name) == 2
    assert value(samples, "tenantatlas_graph_retries_total", cloud=cloud.name) == 2
    assert value(samples, "tenantatlas_graph_requests_total", cloud=cloud.name) == 3


def worker_process(cloud: str, requests: int, duration: float) -> int:
    """A process of this machine counting Graph requests and one run, then exiting; its pid."""
    code = (
        "import os; from tenantatlas.lib import metrics; "
        f"metrics.GRAPH_REQUESTS.labels(cloud={cloud!r}).inc({requests}); "
        f"metrics.RUN_DURATION.labels(operation_type={cloud!r}).observe({duration}); "
        "print(os.getpid())"
    )
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(django_settings.METRICS_DIR)}
    done = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        cwd=django_settings.BASE_DIR,
        check=True,
        capture_output=True,
        text=True,
    )
    return int(done.stdout)


def test_counters_of_the_other_processes_of_the_machine_add_up(db):
    cloud = f"worker-{uuid.uuid4().hex[:8]}"
    worker_process(cloud, 3, 42.0)
    metrics.GRAPH_REQUESTS.labels(cloud=cloud).inc(2)

    samples = scrape()
    assert value(samples, "tenantatlas_graph_requests_total", cloud=cloud) == 5
    assert value(samples, "tenantatlas_run_duration_seconds_count", operation_type=cloud) == 1
    assert value(samples, "tenantatlas_run_duration_seconds_sum", operation_type=cloud) == 42.0


def test_the_files_of_exited_processes_are_folded_and_still_counted(db):
    directory = Path(django_settings.METRICS_DIR)
    cloud = f"horse-{uuid.uuid4().hex[:8]}"
    pids = [worker_process(cloud, 1, 30.0), worker_process(cloud, 2, 700.0)]

    first = scrape()
    second = scrape()

    for samples in (first, second):  # the sums do not change when the files are folded
        assert value(samples, "tenantatlas_graph_requests_total", cloud=cloud) == 3
        assert value(samples, "tenantatlas_run_duration_seconds_count", operation_type=cloud) == 2
        assert (
            value(
                samples, "tenantatlas_run_duration_seconds_bucket", operation_type=cloud, le="600.0"
            )
            == 1
        )
    assert [path for pid in pids for path in directory.glob(f"*_{pid}.db")] == []
    assert (directory / "counter_archive.db").exists()
    assert (directory / f"counter_{os.getpid()}.db").exists()  # this process is alive


def test_it_counts_open_alert_deliveries_and_failing_channels(acme):
    channel = AlertChannel.objects.create(
        workspace=acme, name="Ops hook", kind="webhook", url="https://hooks.example.test/x"
    )
    AlertChannel.objects.create(
        workspace=acme,
        name="Old hook",
        kind="webhook",
        url="https://old.example.test/x",
        state=ChannelState.FAILING,
    )
    failing_before = AlertChannel.objects.filter(state=ChannelState.FAILING).count()

    def delivery(status: str, due: dt.datetime) -> None:
        AlertDelivery.objects.create(
            workspace=acme,
            channel=channel,
            key=uuid.uuid4().hex,
            status=status,
            next_attempt_at=due,
        )

    delivery("pending", ago(90))
    delivery("pending", ago(-600))  # its next attempt is later
    delivery("sending", ago(5))
    for _ in range(3):
        delivery("delivered", ago(3000))
    delivery("failed", ago(3000))

    samples = scrape()
    assert value(samples, "tenantatlas_alert_deliveries_open", status="pending") == 2
    assert value(samples, "tenantatlas_alert_deliveries_open", status="sending") == 1
    assert between(value(samples, "tenantatlas_alert_delivery_oldest_due_age_seconds"), 90, 120)
    assert value(samples, "tenantatlas_alert_channels_failing") == failing_before
