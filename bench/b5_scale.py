"""B5 — scaling out: inventory syncs of 10 Entra tenants with 1, 2 and 4 worker processes.

Transports: the database queue on PostgreSQL, then RQ on Redis (127.0.0.1:6379, a dedicated
logical database, flushed before and after). Each configuration gets a fresh private database,
the 10 runs are queued first, then N ``manage.py worker`` processes start together; the
figure is runs (and devices) per second from the first claim to the last finish, and its ratio
to one worker. The simulator answers each Graph page after ``--latency`` seconds, standing in
for Microsoft's network round trip (a worker waits on Graph, not only on its CPU).

    .venv/bin/python bench/b5_scale.py
    .venv/bin/python bench/b5_scale.py --devices 2000 --latency 0.1 --transports database
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import _common as c

TENANTS = [f"b5000000-0000-4000-8000-{i:012d}" for i in range(10)]


def phase(args: argparse.Namespace, env: dict[str, str]) -> dict[str, Any]:
    """In a subprocess configured for one database: queue 10 syncs, run N workers, time them."""
    c.setup_django(env)
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db.models import Max, Min

    from tenantatlas.operations.models import OperationRun
    from tenantatlas.operations.services import start_operation
    from tenantatlas.providers.credential_input import SecretInput
    from tenantatlas.providers.services.connections import create_connection
    from tenantatlas.workspaces.models import Membership, Role, Workspace

    call_command("migrate", verbosity=0)
    user = get_user_model().objects.create_user(username="b5", password="x" * 20)
    workspace = Workspace.objects.create(name="B5", slug="b5")
    Membership.objects.create(workspace=workspace, user=user, role=Role.OWNER)
    for i, tenant_id in enumerate(TENANTS):
        conn = create_connection(
            actor=user,
            workspace=workspace,
            display_name=f"Tenant {i}",
            entra_tenant_id=tenant_id,
            cloud="simulator",
            credential=SecretInput(client_id=c.DEMO_CLIENT_ID, client_secret=f"b5-{i}"),
        )
        start_operation(actor=user, member=None, connection=conn, operation_type="inventory.sync")
    workers = [
        subprocess.Popen([c.PYTHON, str(c.MANAGE_PY), "worker", "--batch"], cwd=c.REPO, env=env)
        for _ in range(args.workers)
    ]
    deadline = time.monotonic() + 900
    for worker in workers:
        worker.wait(timeout=max(1, deadline - time.monotonic()))
    runs = OperationRun.objects.all()
    statuses = sorted(set(runs.values_list("status", flat=True)))
    span = runs.aggregate(first=Min("started_at"), last=Max("finished_at"))
    return {
        "statuses": statuses,
        "seconds": (span["last"] - span["first"]).total_seconds(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--devices", type=int, default=3000, help="devices per tenant")
    parser.add_argument(
        "--latency", type=float, default=0.2, help="simulated Graph latency per request (s)"
    )
    parser.add_argument("--transports", default="database,rq")
    parser.add_argument("--redis-db", type=int, default=13, help="Redis logical database for RQ")
    parser.add_argument("--phase", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--workers", type=int, default=1, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        import json
        import os

        print(json.dumps(phase(args, dict(os.environ))))
        return

    import json

    import redis

    print(
        f"B5 scaling out — 10 tenants × {args.devices:,} devices, Graph latency {args.latency}s; {c.machine()}"
    )
    tenants = [
        c.sim_tenant(
            tid,
            f"b5-{i}",
            device_count=args.devices,
            seed=i,
            faults={"slow_seconds": args.latency, "slow_paths": []},
        )
        for i, tid in enumerate(TENANTS)
    ]
    rows = []
    redis_url = f"redis://127.0.0.1:6379/{args.redis_db}"
    with (
        tempfile.TemporaryDirectory(prefix="bench-b5-") as tmp,
        c.Simulator(Path(tmp), tenants) as sim,
    ):
        for transport in args.transports.split(","):
            base_rate = None
            for workers in (1, 2, 4):
                with c.postgres_database(f"b5_{transport}_{workers}") as pg:
                    env = c.base_env(
                        pg,
                        Path(tmp),
                        TENANTATLAS_TASK_TRANSPORT=transport,
                        REDIS_URL=redis_url,
                        **sim.env(),
                    )
                    if transport == "rq":
                        redis.Redis.from_url(redis_url).flushdb()
                    command = [c.PYTHON, __file__, "--phase", "--workers", str(workers)]
                    _, _, output = c.run_measured(command, env, timeout=1200)
                    result = json.loads(output.strip().splitlines()[-1])
                    if transport == "rq":
                        redis.Redis.from_url(redis_url).flushdb()
                rate = 10 / result["seconds"]
                base_rate = base_rate or rate
                rows.append(
                    [
                        transport,
                        workers,
                        ",".join(result["statuses"]),
                        result["seconds"],
                        rate * 60,
                        10 * args.devices / result["seconds"],
                        rate / base_rate,
                    ]
                )
                print(f"  {transport} × {workers}: {result['seconds']:.1f}s", flush=True)
    print()
    print(
        c.table(
            [
                "transport",
                "workers",
                "run statuses",
                "seconds",
                "runs/min",
                "devices/s",
                "× one worker",
            ],
            rows,
        )
    )


if __name__ == "__main__":
    sys.exit(main())
