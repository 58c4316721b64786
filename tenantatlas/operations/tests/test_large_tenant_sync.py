"""Inventory sync of a very large tenant: complete, exact, and with flat worker memory.

The sync runs in a real worker process; its peak RSS comes from wait4() for that process
alone and is compared with an idle worker's. PostgreSQL syncs the 250,000-device tenant;
SQLite a 20,000-device one, so both databases exercise the streaming upsert.
"""

from __future__ import annotations

import os
import time

import pytest
from django.db import connection

from tenantatlas.operations.models import OperationRun, RunStatus
from tenantatlas.operations.services import start_operation
from tenantatlas.operations.tests.processes import manage, output_of, sim_tenant, subprocess_env
from tenantatlas.testing import make_sim_connection

LARGE = "e1f3a5c7-9b2d-4f6e-8a0c-1d3f5b7d9e2a"
DEVICES = 250_000 if connection.vendor == "postgresql" else 20_000
MEMORY_BOUND_MB = 200


def peak_rss_mb(*args: str, env: dict[str, str], timeout: float) -> tuple[float, str]:
    """Run manage.py <args> to completion; its own peak RSS in MB and its output."""
    process = manage(*args, env=env)
    deadline = time.monotonic() + timeout
    while True:
        pid, status, usage = os.wait4(process.pid, os.WNOHANG)
        if pid:
            process.returncode = os.waitstatus_to_exitcode(status)
            break
        if time.monotonic() > deadline:
            process.kill()
            os.wait4(process.pid, 0)
            raise AssertionError(f"{args} did not finish in {timeout}s:\n{output_of(process)}")
        time.sleep(0.2)
    assert process.returncode == 0, output_of(process)
    return usage.ru_maxrss / 1024, output_of(process)


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_it_syncs_a_very_large_tenant_with_bounded_memory(sim, acme, alice):
    sim.add_tenant(
        sim_tenant(
            LARGE,
            "large-secret",
            device_count=DEVICES,
            compliance_policy_count=3,
            configuration_count=3,
            configuration_policy_count=3,
            app_count=3,
            seed=41,
        )
    )
    conn = make_sim_connection(acme, alice, LARGE, "large-secret")
    env = subprocess_env(sim)
    idle_mb, _ = peak_rss_mb("worker", "--batch", env=env, timeout=120)

    run = start_operation(
        actor=alice, member=None, connection=conn, operation_type="inventory.sync"
    ).run
    sync_mb, output = peak_rss_mb("worker", "--batch", env=env, timeout=900)

    run.refresh_from_db()
    assert run.status == RunStatus.SUCCEEDED, (run.reason_code, run.failure_message, output)
    assert run.summary_counts["managed_device"] == {
        "seen": DEVICES,
        "created": DEVICES,
        "updated": 0,
        "removed": 0,
    }
    assert conn.inventory_items.filter(kind="managed_device").count() == DEVICES
    assert (run.progress_done, run.progress_total) == (DEVICES + 12, DEVICES + 12)
    seconds = (run.finished_at - run.started_at).total_seconds()
    growth = sync_mb - idle_mb
    print(
        f"\nlarge sync on {connection.vendor}: {DEVICES} devices in {seconds:.1f}s "
        f"({DEVICES / seconds:.0f}/s); worker peak RSS {sync_mb:.0f} MB, idle {idle_mb:.0f} MB, "
        f"growth {growth:.0f} MB"
    )
    assert growth < MEMORY_BOUND_MB
    assert OperationRun.objects.filter(status__in=["queued", "running"]).count() == 0
