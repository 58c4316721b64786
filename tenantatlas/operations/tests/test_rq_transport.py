"""The RQ transport end to end: a start enqueues on Redis, an RQ worker process runs it.

Both sides are real processes configured with TENANTATLAS_TASK_TRANSPORT=rq (settings are
read at import), sharing this test's database and a Redis database number claimed for this test.
"""

from __future__ import annotations

import os
import subprocess

import pytest
import redis

from tenantatlas.lib.tests.local_servers import REDIS_TEST_URL_BASE
from tenantatlas.notifications.models import Notification
from tenantatlas.operations.models import OperationRun, RunStatus
from tenantatlas.operations.tests.processes import manage, output_of, sim_tenant, subprocess_env
from tenantatlas.testing import make_sim_connection

REDIS_BASE = REDIS_TEST_URL_BASE  # 127.0.0.1:6379 unless TENANTATLAS_TEST_REDIS_URL says
TENANT = "4b6d8f0a-2c4e-4f6a-9b1d-3e5f7a9c1b2d"

START = """
from django.contrib.auth import get_user_model
from tenantatlas.operations.services import start_operation
from tenantatlas.providers.models import ProviderConnection
result = start_operation(
    actor=get_user_model().objects.get(username="alice"),
    member=None,
    connection=ProviderConnection.objects.get(pk={pk}),
    operation_type="inventory.sync",
    trigger="cli",
)
print("RUN", result.run.pk, result.outcome)
"""


CLAIM = "tenantatlas-tests:claimed-by"


@pytest.fixture
def redis_db():
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


def finish(process: subprocess.Popen[bytes], timeout: float) -> str:
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        raise AssertionError(
            f"process did not finish in {timeout}s:\n{output_of(process)}"
        ) from None
    return output_of(process)


@pytest.mark.django_db(transaction=True)
def test_it_runs_an_operation_through_redis(sim, acme, alice, redis_db):
    redis_db, redis_url = redis_db
    sim.add_tenant(sim_tenant(TENANT, "rq-secret", device_count=1500, seed=31))
    conn = make_sim_connection(acme, alice, TENANT, "rq-secret")
    env = subprocess_env(sim, TENANTATLAS_TASK_TRANSPORT="rq", REDIS_URL=redis_url)

    output = finish(manage("shell", "-c", START.format(pk=conn.pk), env=env), timeout=60)
    line = next((line for line in output.splitlines() if line.startswith("RUN ")), None)
    assert line is not None, output
    _, run_id, outcome = line.split()
    assert outcome == "created"
    run = OperationRun.objects.get(pk=int(run_id))
    assert run.status == RunStatus.QUEUED
    assert redis_db.llen("rq:queue:bulk") == 1  # the job waits in Redis, not in the database

    output = finish(manage("worker", "--batch", env=env), timeout=120)
    run.refresh_from_db()
    assert run.status == RunStatus.SUCCEEDED, (run.reason_code, run.failure_message, output)
    assert run.attempts == 1
    assert run.summary_counts["managed_device"]["created"] == 1500
    assert (
        conn.inventory_items.filter(kind="managed_device", removed_at__isnull=True).count() == 1500
    )
    assert conn.inventory_items.count() == 1500 + 6 + 8 + 5 + 12
    assert redis_db.llen("rq:queue:bulk") == 0
    assert (
        Notification.objects.get(user=alice).kind == "run.succeeded"
    )  # listener ran in the worker
