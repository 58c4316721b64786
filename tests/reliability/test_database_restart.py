"""R7 — database restart: a private PostgreSQL cluster restarted while a worker syncs.

The machine's shared PostgreSQL is never touched: the test creates its own cluster (initdb
into a temporary directory, as the ``postgres`` user when run as root), migrates it, queues
inventory syncs on three slow simulated tenants, starts a worker and restarts the cluster
(``pg_ctl restart -m fast``: every connection is cut) while a run is mid-sync. Then the reaper
runs as one long-running ``reap --loop`` process started before the restart. Every run must
end terminal — finished, or failed with a reason code — nothing stuck; the worker and the
reaper loop both survive the restart (no supervisor restart), the reaper fails the interrupted
run, and a run started after the restart must succeed.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from tenantatlas.operations.tests.processes import (
    manage,
    output_of,
    sim_tenant,
    stop,
    subprocess_env,
    wait_for,
)
from tenantatlas.simulator.scenarios import Faults
from tenantatlas.testing import DEMO_CLIENT_ID

BINDIRS = sorted(glob.glob("/usr/lib/postgresql/*/bin"))
TENANTS = [f"7e57db00-000{i}-4a5b-8c6d-0e1f2a3b4c5d" for i in range(3)]
TERMINAL = {"succeeded", "partially_succeeded", "failed", "cancelled"}

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not BINDIRS, reason="PostgreSQL server binaries are not installed"),
]


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _as_owner(args: list[str], owner: str | None) -> list[str]:
    return ["runuser", "-u", owner, "--", *args] if owner else args


@contextlib.contextmanager
def private_cluster() -> Iterator[tuple[str, list[str]]]:
    """(DATABASE_URL, pg_ctl command prefix) of a throwaway cluster on a free port."""
    bindir = BINDIRS[-1]
    owner = "postgres" if os.geteuid() == 0 else None
    root = Path(tempfile.mkdtemp(prefix="r7-pg-"))
    data = root / "data"
    data.mkdir()
    if owner:
        uid = pwd.getpwnam(owner).pw_uid
        os.chown(root, uid, -1)
        os.chown(data, uid, -1)
    port = _free_port()
    subprocess.run(
        _as_owner([f"{bindir}/initdb", "-D", str(data), "-A", "trust", "-U", "postgres"], owner),
        check=True,
        capture_output=True,
    )
    pg_ctl = _as_owner([f"{bindir}/pg_ctl", "-D", str(data), "-l", str(root / "log")], owner)
    options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off"
    subprocess.run([*pg_ctl, "-o", options, "-w", "start"], check=True, capture_output=True)
    try:
        yield f"postgres://postgres@127.0.0.1:{port}/postgres", [*pg_ctl, "-o", options]
    finally:
        subprocess.run([*pg_ctl, "-m", "immediate", "-w", "stop"], check=False, capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


SEED = """
from django.contrib.auth import get_user_model
from tenantatlas.operations.services import start_operation
from tenantatlas.providers.credential_input import SecretInput
from tenantatlas.providers.services.connections import create_connection
from tenantatlas.workspaces.models import Membership, Workspace
user = get_user_model().objects.create_user(username="r7", password="x" * 20)
ws = Workspace.objects.create(name="R7", slug="r7")
Membership.objects.create(workspace=ws, user=user, role="owner")
for i, tid in enumerate({tenants!r}):
    conn = create_connection(actor=user, workspace=ws, display_name=f"T{{i}}", entra_tenant_id=tid,
        cloud="simulator", credential=SecretInput(client_id={client!r}, client_secret=f"r7-{{i}}"))
    start_operation(actor=user, member=None, connection=conn, operation_type="inventory.sync")
"""

AGAIN = """
from tenantatlas.operations.services import start_operation
from tenantatlas.providers.models import ProviderConnection
from django.contrib.auth import get_user_model
conn = ProviderConnection.objects.order_by("pk").first()
start_operation(actor=get_user_model().objects.get(username="r7"), member=None, connection=conn,
    operation_type="provider.health_check")
"""


def runs(url: str) -> list[tuple[int, str, str, str]]:
    with psycopg.connect(url, connect_timeout=5) as db:
        return db.execute(
            "SELECT id, operation_type, status, reason_code FROM operations_operationrun ORDER BY id"
        ).fetchall()


def run_manage(*args: str, env: dict[str, str]) -> str:
    process = manage(*args, env=env)
    process.wait(timeout=180)
    assert process.returncode == 0, output_of(process)
    return output_of(process)


def test_it_recovers_when_postgresql_restarts_mid_run(sim):
    slow = Faults(slow_seconds=0.4, slow_paths=["/v1.0/deviceManagement/managedDevices"])
    for i, tenant_id in enumerate(TENANTS):
        sim.add_tenant(sim_tenant(tenant_id, f"r7-{i}", device_count=4000, faults=slow))
    with private_cluster() as (url, pg_ctl):
        env = subprocess_env(
            sim,
            DATABASE_URL=url,
            TENANTATLAS_RUN_HEARTBEAT_SECONDS="1",
            TENANTATLAS_RUN_STALE_AFTER_SECONDS="3",
        )
        run_manage("migrate", "--noinput", env=env)
        run_manage("shell", "-c", SEED.format(tenants=TENANTS, client=DEMO_CLIENT_ID), env=env)
        assert [status for _, _, status, _ in runs(url)] == ["queued"] * 3

        worker = manage("worker", "--interval", "0.2", env=env)
        reaper = manage("reap", "--loop", "--every", "1", env=env)
        supervisor_restarts = 0
        exits: list[tuple[int, list[str]]] = []
        try:
            wait_for(
                lambda: any(status == "running" for _, _, status, _ in runs(url)),
                timeout=90,
                what="a run to be mid-sync",
                diagnose=lambda: f"{runs(url)}\n{output_of(worker)}",
            )
            time.sleep(1.0)
            restart_started = time.monotonic()
            subprocess.run(
                [*pg_ctl, "-m", "fast", "-w", "restart"], check=True, capture_output=True
            )
            restart_seconds = time.monotonic() - restart_started

            def settled() -> bool:
                nonlocal worker, supervisor_restarts
                if worker.poll() is not None:  # what systemd's Restart=always would do
                    supervisor_restarts += 1
                    exits.append((worker.returncode, output_of(worker).strip().splitlines()[-1:]))
                    worker = manage("worker", "--interval", "0.2", env=env)
                # The reaper loop lives through the restart: nobody starts it again.
                assert reaper.poll() is None, output_of(reaper)
                return all(status in TERMINAL for _, _, status, _ in runs(url))

            recovery_started = time.monotonic()
            wait_for(settled, timeout=180, interval=2, what="every run to end after the restart")
            recovery_seconds = time.monotonic() - recovery_started
            after = runs(url)
            assert all(status in TERMINAL for _, _, status, _ in after), after
            assert all(reason for _, _, status, reason in after if status == "failed"), after
            # The interrupted run was failed by the reaper loop that lived through the restart.
            assert ("failed", "run.worker_lost") in [(s, r) for _, _, s, r in after], after
            assert "worker_lost=1" in output_of(reaper), output_of(reaper)
            assert reaper.poll() is None, output_of(reaper)

            run_manage("shell", "-c", AGAIN, env=env)
            wait_for(
                lambda: runs(url)[-1][2] in TERMINAL, timeout=120, what="the run after the restart"
            )
            final = runs(url)[-1]
            assert final[2] == "succeeded", (final, output_of(worker))
            # The worker reconnects in place: no supervisor had to restart it.
            assert supervisor_restarts == 0, exits
            reaper_reconnects = output_of(reaper).count("the reaper retries in")
        finally:
            stop(worker)
            stop(reaper)
    outcomes = [(status, reason) for _, _, status, reason in after]
    print(
        f"\nR7: restart took {restart_seconds:.1f}s; runs then {outcomes}; all terminal "
        f"{recovery_seconds:.1f}s later; worker restarts by the supervisor: {supervisor_restarts} {exits}; "
        f"reaper loop alive, reconnected {reaper_reconnects}x; new run after the restart: {final[2]}"
    )
