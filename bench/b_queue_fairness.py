"""Queue fairness — how long connection checks wait while big inventory syncs run.

A few big syncs (slow device pages) are queued, then connection checks of other tenants arrive
one every ``--every`` seconds. The figure is each check's wait in the queue (its run's
``started_at - enqueued_at``), p50 / p95 / max, side by side for:

- one queue, 1 worker: the embedded setup before the queues (one worker took everything,
  oldest first); django-tasks-db's own worker serving both queues is exactly that;
- one queue, 2 workers: more workers, still oldest first (the syncs occupy them all);
- interactive + bulk, 2 workers: what ``serve`` starts on this machine now
  (``worker --queues interactive`` and ``worker --queues interactive,bulk``).

The syncs' own time (first queued to last finished) is printed too: the worker kept for
interactive work does not run syncs. Each configuration gets a fresh database (a SQLite file,
as the embedded setup has, and/or a private PostgreSQL database) and real worker processes;
the simulator runs in its own process.

    .venv/bin/python bench/b_queue_fairness.py
    .venv/bin/python bench/b_queue_fairness.py --databases sqlite,postgresql --devices 30000
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import _common as c

SYNC_TENANTS = [f"fa170000-0000-4000-8000-{i:012d}" for i in range(8)]
CHECK_TENANTS = [f"fa171000-0000-4000-8000-{i:012d}" for i in range(100)]
DEVICES = "/v1.0/deviceManagement/managedDevices"
CONFIGURATIONS = {
    "one queue, 1 worker": ("fifo", 1),
    "one queue, 2 workers": ("fifo", 2),
    "interactive + bulk, 2 workers": ("queues", 2),
}
TERMINAL = ("succeeded", "partially_succeeded", "failed", "cancelled")


def _worker_commands(kind: str, count: int) -> list[list[str]]:
    if kind == "fifo":  # oldest task first, whatever its queue: one queue
        fifo = [
            "db_worker",
            "--queue-name",
            "interactive,bulk",
            "--no-startup-delay",
            "--no-reload",
        ]
        return [[c.PYTHON, str(c.MANAGE_PY), *fifo]] * count
    from tenantatlas.embedded.management.commands.serve import worker_queues

    return [
        [c.PYTHON, str(c.MANAGE_PY), "worker", "--queues", ",".join(queues)]
        for queues in worker_queues(count)
    ]


def phase(args: argparse.Namespace, env: dict[str, str]) -> dict[str, Any]:
    """In a subprocess on one fresh database: start workers, queue syncs, then checks."""
    c.setup_django(env)
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db.models import Max, Min
    from django_tasks_db.models import DBTaskResult

    from tenantatlas.operations.models import OperationRun
    from tenantatlas.operations.services import start_operation
    from tenantatlas.providers.credential_input import SecretInput
    from tenantatlas.providers.services.connections import create_connection
    from tenantatlas.workspaces.models import Membership, Role, Workspace

    call_command("migrate", verbosity=0)
    user = get_user_model().objects.create_user(username="fair", password="x" * 20)
    workspace = Workspace.objects.create(name="Fairness", slug="fairness")
    Membership.objects.create(workspace=workspace, user=user, role=Role.OWNER)

    def connection(tenant_id: str, secret: str, name: str) -> Any:
        return create_connection(
            actor=user,
            workspace=workspace,
            display_name=name,
            entra_tenant_id=tenant_id,
            cloud="simulator",
            credential=SecretInput(client_id=c.DEMO_CLIENT_ID, client_secret=secret),
        )

    big = [connection(t, f"sync-{i}", f"Big {i}") for i, t in enumerate(SYNC_TENANTS[: args.syncs])]
    small = [
        connection(t, f"check-{i}", f"Small {i}")
        for i, t in enumerate(CHECK_TENANTS[: args.checks])
    ]
    kind, count = CONFIGURATIONS[args.configuration]
    with c.worker_processes(_worker_commands(kind, count), env):
        syncs = [
            start_operation(actor=user, connection=conn, operation_type="inventory.sync").run.pk
            for conn in big
        ]
        time.sleep(args.lead)  # the syncs are under way when the first check arrives
        checks = []
        for conn in small:
            result = start_operation(
                actor=user, connection=conn, operation_type="provider.health_check"
            )
            checks.append(result.run.pk)
            time.sleep(args.every)
        deadline = time.monotonic() + args.timeout
        while (
            OperationRun.objects.exclude(status__in=TERMINAL).exists()
            or DBTaskResult.objects.exclude(status__in=["SUCCESSFUL", "FAILED"]).exists()
        ):
            if time.monotonic() > deadline:
                raise RuntimeError("the runs did not finish in time")
            time.sleep(0.5)

    tasks = {
        task.args_kwargs["args"][0]: task
        for task in DBTaskResult.objects.filter(task_path__endswith=".execute_run")
    }
    waits, held = [], []
    check_times = OperationRun.objects.filter(pk__in=checks).values_list(
        "pk", "enqueued_at", "started_at", "finished_at"
    )
    for pk, enqueued, started, finished in check_times:
        if enqueued is None or started is None or finished is None:
            raise RuntimeError("a connection check never ran")
        waits.append((started - enqueued).total_seconds())
        # the worker's whole time on it: the run, its completion listeners, the task's own row
        task = tasks[pk]
        if task.started_at is None or task.finished_at is None:
            raise RuntimeError("a connection check's task never ended")
        held.append((task.finished_at - task.started_at).total_seconds())
    span = OperationRun.objects.filter(pk__in=syncs).aggregate(
        first=Min("enqueued_at"), last=Max("finished_at")
    )
    return {
        "waits": waits,
        "held": held,
        "statuses": sorted(set(OperationRun.objects.values_list("status", flat=True))),
        "sync_seconds": (span["last"] - span["first"]).total_seconds(),
    }


def _database(name: str, kind: str, tmp: Path) -> contextlib.AbstractContextManager[str]:
    if kind == "postgresql":
        return c.postgres_database(name)
    return contextlib.nullcontext(f"sqlite:///{tmp / (name + '.sqlite3')}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--databases", default="sqlite", help="sqlite, postgresql or both")
    parser.add_argument("--syncs", type=int, default=2, help="big syncs, queued first")
    parser.add_argument("--devices", type=int, default=20000, help="devices per big tenant")
    parser.add_argument(
        "--latency", type=float, default=0.5, help="seconds per device page of a big tenant"
    )
    parser.add_argument("--checks", type=int, default=20, help="connection checks")
    parser.add_argument("--every", type=float, default=1.5, help="seconds between checks")
    parser.add_argument("--lead", type=float, default=3.0, help="seconds before the first check")
    parser.add_argument("--timeout", type=float, default=1200, help="per configuration")
    parser.add_argument(
        "--only", default="", help="numbers of the configurations to run (e.g. 3), default all"
    )
    parser.add_argument("--phase", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--configuration", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        print(json.dumps(phase(args, dict(os.environ))))
        return
    if not 1 <= args.syncs <= len(SYNC_TENANTS) or not 1 <= args.checks <= len(CHECK_TENANTS):
        parser.error(f"--syncs 1 to {len(SYNC_TENANTS)}, --checks 1 to {len(CHECK_TENANTS)}")

    print(
        f"Queue fairness — {args.syncs} syncs × {args.devices:,} devices ({args.latency}s a "
        f"device page), then {args.checks} connection checks every {args.every}s; {c.machine()}"
    )
    slow = {"slow_seconds": args.latency, "slow_paths": [DEVICES]}
    tenants = [
        c.sim_tenant(t, f"sync-{i}", device_count=args.devices, seed=i, faults=slow)
        for i, t in enumerate(SYNC_TENANTS[: args.syncs])
    ] + [c.sim_tenant(t, f"check-{i}") for i, t in enumerate(CHECK_TENANTS[: args.checks])]
    rows = []
    with (
        tempfile.TemporaryDirectory(prefix="bench-fairness-") as tmp,
        c.Simulator(Path(tmp), tenants) as sim,
    ):
        for database in args.databases.split(","):
            for n, configuration in enumerate(CONFIGURATIONS):
                if args.only and str(n + 1) not in args.only.split(","):
                    continue
                with _database(f"fairness_{n}", database, Path(tmp)) as url:
                    env = c.base_env(url, Path(tmp), **sim.env(), LOG_LEVEL="INFO")
                    command = [
                        c.PYTHON,
                        __file__,
                        "--phase",
                        "--configuration",
                        configuration,
                        *sys.argv[1:],
                    ]
                    _, _, output = c.run_measured(command, env, timeout=args.timeout + 300)
                result = json.loads(
                    next(ln for ln in reversed(output.splitlines()) if ln.startswith("{"))
                )
                waits = result["waits"]
                rows.append(
                    [
                        database,
                        configuration,
                        ",".join(result["statuses"]),
                        c.percentile(waits, 50),
                        c.percentile(waits, 95),
                        max(waits),
                        c.median(result["held"]),
                        result["sync_seconds"],
                    ]
                )
                print(
                    f"  {database}, {configuration}: check wait p50 {c.percentile(waits, 50):.2f}s"
                    f" p95 {c.percentile(waits, 95):.2f}s",
                    flush=True,
                )
    print()
    print(
        c.table(
            [
                "database",
                "queues, workers",
                "run statuses",
                "check wait p50 (s)",
                "p95 (s)",
                "max (s)",
                "worker time per check p50 (s)",
                "syncs done after (s)",
            ],
            rows,
        )
    )


if __name__ == "__main__":
    main()
