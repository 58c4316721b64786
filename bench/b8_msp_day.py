"""B8 — an MSP day: 200 tenants checked, synced and snapshotted at once under Graph's limits.

200 simulated tenants of 50 to 20,000 devices (sizes spaced evenly on a log scale), a few of
them throttled by Microsoft on their device pages (``--throttled``, 3 × 429 with
``Retry-After: 1`` each), all on one app registration. The simulator enforces Graph's limits
per (app, tenant), per tenant and per app (``--pair-limit``, ``--app-limit``: Microsoft's
windows shrunk so that a run of a few minutes meets them, as `graph/tests/test_budget.py` does),
and the workers pace themselves through the shared Graph budget on PostgreSQL, sized to the same
limits. For each worker count (``--workers``, default 1, 2 and 4, queues as ``serve`` gives
them: a quarter, at least one, on ``interactive`` only) a fresh PostgreSQL database and a fresh
simulator; then every tenant's connection check, inventory sync and compliance snapshot are
started at once — as at once as the scope rule allows: one run per tenant at a time, so each
tenant's next operation is started the moment its last one ends. Meanwhile a person keeps
checking other tenants (``--desk`` small tenants, one check every ``--desk-every`` seconds).

Figures per worker count:

- **total**: first start to last end;
- **minimum** the limits allow: the Graph requests actually sent, at the limits' rates —
  max(requests of the busiest (app, tenant) pair ÷ its rate, all requests ÷ the app's rate);
  the ratio total ÷ minimum says how much of the time the limits do not explain;
- **429s** received: those the limits gave and those the throttled tenants' faults gave, as a
  share of all Graph requests (goal: below 1 %);
- **runs failed**, and among them by throttling (goal: 0);
- **queue wait of the person's connection checks** queued while a big sync (≥ 5,000 devices)
  ran: p50 / p95 / max of ``started_at − enqueued_at`` (goal p95 ≤ 5 s).

    .venv/bin/python bench/b8_msp_day.py
    .venv/bin/python bench/b8_msp_day.py --tenants 40 --max-devices 5000 --workers 2   # a quick one
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import _common as c

DEVICES = "/v1.0/deviceManagement/managedDevices"
CHAIN = ("provider.health_check", "inventory.sync", "compliance.snapshot")
TERMINAL = ("succeeded", "partially_succeeded", "failed", "cancelled")
BIG = 5000  # devices: a sync of this size or more is a "big sync"
GOAL_QUEUE_P95 = 5.0
GOAL_THROTTLED_SHARE = 0.01


def tenant_id(kind: str, i: int) -> str:
    return f"b8{'0' if kind == 'day' else 'd'}00000-0000-4000-8000-{i:012d}"


def sizes(count: int, smallest: int, largest: int) -> list[int]:
    if count == 1:
        return [largest]
    ratio = math.log(largest / smallest)
    return [round(smallest * math.exp(ratio * i / (count - 1))) for i in range(count)]


def throttled_indexes(count: int, throttled: int) -> set[int]:
    """Spread over the sizes, the largest included."""
    if throttled <= 0:
        return set()
    return {round((count - 1) * (k + 1) / throttled) for k in range(throttled)}


def workers(count: int, env: dict[str, str]) -> contextlib.AbstractContextManager[None]:
    """``count`` workers with the queues ``serve`` gives them."""
    from tenantatlas.embedded.management.commands.serve import worker_queues

    commands = [
        [c.PYTHON, str(c.MANAGE_PY), "worker", "--queues", ",".join(queues)]
        for queues in worker_queues(count)
    ]
    return c.worker_processes(commands, env)


def phase(args: argparse.Namespace, env: dict[str, str]) -> dict[str, Any]:
    """In a subprocess on one fresh database: the day's runs with ``args.count`` workers."""
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
    user = get_user_model().objects.create_user(username="b8", password="x" * 20)
    workspace = Workspace.objects.create(name="MSP", slug="msp")
    Membership.objects.create(workspace=workspace, user=user, role=Role.OWNER)

    def connect(tid: str, secret: str, name: str) -> Any:
        return create_connection(
            actor=user,
            workspace=workspace,
            display_name=name,
            entra_tenant_id=tid,
            cloud="simulator",
            credential=SecretInput(client_id=c.DEMO_CLIENT_ID, client_secret=secret),
        )

    day = [
        connect(tenant_id("day", i), f"day-{i}", f"Customer {i:03d}") for i in range(args.tenants)
    ]
    desk = [connect(tenant_id("desk", i), f"desk-{i}", f"Desk {i:02d}") for i in range(args.desk)]
    device_counts = sizes(args.tenants, args.min_devices, args.max_devices)
    big = {conn.pk for conn, n in zip(day, device_counts, strict=True) if n >= BIG}
    step = {conn.pk: 0 for conn in day}
    current: dict[int, int] = {}  # connection → its run now
    day_runs: list[int] = []
    desk_runs: list[int] = []

    def start(conn: Any, operation_type: str) -> int:
        result = start_operation(actor=user, connection=conn, operation_type=operation_type)
        return int(result.run.pk)

    with workers(args.count, env):
        began = time.monotonic()
        for conn in day:  # every tenant's first operation at once
            current[conn.pk] = start(conn, CHAIN[0])
            day_runs.append(current[conn.pk])
        by_pk = {conn.pk: conn for conn in day}
        next_desk, desk_due = 0, time.monotonic()
        deadline = began + args.timeout
        while current:
            if time.monotonic() > deadline:
                raise RuntimeError(f"the day did not end in {args.timeout}s")
            if desk and time.monotonic() >= desk_due:
                result = start_operation(
                    actor=user, connection=desk[next_desk % len(desk)], operation_type=CHAIN[0]
                )
                if result.created:
                    desk_runs.append(int(result.run.pk))
                next_desk += 1
                desk_due += args.desk_every
            ended = OperationRun.objects.filter(
                pk__in=current.values(), status__in=TERMINAL
            ).values_list("connection_id", flat=True)
            for conn_id in list(ended):
                step[conn_id] += 1
                if step[conn_id] < len(CHAIN):
                    current[conn_id] = start(by_pk[conn_id], CHAIN[step[conn_id]])
                    day_runs.append(current[conn_id])
                else:
                    del current[conn_id]
            time.sleep(0.1)
        while OperationRun.objects.filter(pk__in=desk_runs).exclude(status__in=TERMINAL).exists():
            if time.monotonic() > deadline:
                raise RuntimeError("the desk's checks did not end")
            time.sleep(0.2)

    runs = OperationRun.objects.filter(pk__in=day_runs)
    span = runs.aggregate(first=Min("created_at"), last=Max("finished_at"))
    outcomes = Counter(runs.values_list("status", "reason_code"))
    big_syncs = list(
        runs.filter(connection_id__in=big, operation_type="inventory.sync").values_list(
            "started_at", "finished_at"
        )
    )
    waits = []
    for enqueued, started in OperationRun.objects.filter(pk__in=desk_runs).values_list(
        "enqueued_at", "started_at"
    ):
        if enqueued is None or started is None:
            raise RuntimeError("a desk check never ran")
        if any(s is not None and f is not None and s <= enqueued <= f for s, f in big_syncs):
            waits.append((started - enqueued).total_seconds())
    return {
        "total": (span["last"] - span["first"]).total_seconds(),
        "outcomes": [[status, reason, n] for (status, reason), n in sorted(outcomes.items())],
        "waits": waits,
        "desk_checks": len(desk_runs),
        "runs": len(day_runs),
    }


def scenario(args: argparse.Namespace) -> list[dict[str, Any]]:
    throttled = throttled_indexes(args.tenants, args.throttled)
    fault = {"throttle": {"count": 3, "retry_after": "1", "paths": [DEVICES]}}
    tenants = [
        c.sim_tenant(
            tenant_id("day", i),
            f"day-{i}",
            device_count=n,
            seed=i,
            **({"faults": fault} if i in throttled else {}),
        )
        for i, n in enumerate(sizes(args.tenants, args.min_devices, args.max_devices))
    ]
    return tenants + [
        c.sim_tenant(tenant_id("desk", i), f"desk-{i}", device_count=20) for i in range(args.desk)
    ]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tenants", type=int, default=200)
    parser.add_argument("--min-devices", type=int, default=50)
    parser.add_argument("--max-devices", type=int, default=20000)
    parser.add_argument("--throttled", type=int, default=5, help="tenants Microsoft throttles")
    parser.add_argument("--workers", default="1,2,4", help="worker counts, comma-separated")
    parser.add_argument(
        "--pair-limit", type=int, default=5, help="requests a second per (app, tenant)"
    )
    parser.add_argument("--app-limit", type=int, default=20, help="requests a second per app")
    parser.add_argument("--desk", type=int, default=20, help="tenants a person keeps checking")
    parser.add_argument("--desk-every", type=float, default=2.0, help="seconds between checks")
    parser.add_argument("--timeout", type=float, default=3600, help="per worker count")
    parser.add_argument("--phase", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--count", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        print(json.dumps(phase(args, dict(os.environ))))
        return
    if not 1 <= args.tenants <= 10_000 or args.min_devices < 1 or args.max_devices < 1:
        parser.error("--tenants 1 to 10000, device counts 1 or more")

    counts = sizes(args.tenants, args.min_devices, args.max_devices)
    print(
        f"B8 — an MSP day: {args.tenants} tenants, {args.min_devices:,}–{args.max_devices:,} "
        f"devices ({sum(counts):,} in all, {sum(n >= BIG for n in counts)} of ≥ {BIG:,}), "
        f"{args.throttled} throttled; limits {args.pair_limit}/s per (app, tenant), "
        f"{2 * args.pair_limit}/s per tenant, {args.app_limit}/s per app; PostgreSQL; "
        f"{c.machine()}",
        flush=True,
    )
    limits = {
        "app_tenant": {"requests": args.pair_limit, "seconds": 1.0},
        "tenant": {"requests": 2 * args.pair_limit, "seconds": 1.0},
        "app": {"requests": args.app_limit, "seconds": 1.0},
    }
    budget = {
        "TENANTATLAS_GRAPH_BUDGET_STORE": "database",
        "TENANTATLAS_GRAPH_BUDGET_TENANT_REQUESTS": str(args.pair_limit),
        "TENANTATLAS_GRAPH_BUDGET_TENANT_SECONDS": "1",
        "TENANTATLAS_GRAPH_BUDGET_APP_REQUESTS": str(args.app_limit),
        "TENANTATLAS_GRAPH_BUDGET_APP_SECONDS": "1",
        "TENANTATLAS_GRAPH_BUDGET_BURST": "0.2",
    }
    rows = []
    for count in (int(n) for n in args.workers.split(",")):
        with (
            tempfile.TemporaryDirectory(prefix="bench-b8-") as tmp,
            c.Simulator(Path(tmp), scenario(args), limits=limits) as sim,
            c.postgres_database(f"b8_{count}") as url,
        ):
            env = c.base_env(url, Path(tmp), **sim.env(), **budget, LOG_LEVEL="INFO")
            command = [c.PYTHON, __file__, "--phase", "--count", str(count), *sys.argv[1:]]
            _, _, output = c.run_measured(command, env, timeout=args.timeout + 600)
            result = json.loads(
                next(ln for ln in reversed(output.splitlines()) if ln.startswith("{"))
            )
            usage = sim.usage()
        requests = sum(u[0] for u in usage.values())
        throttled = sum(u[1] for u in usage.values())
        limited = sum(u[2] for u in usage.values())
        busiest = max(u[0] for u in usage.values())
        minimum = max(busiest / args.pair_limit, requests / args.app_limit)
        failed = sum(n for status, _, n in result["outcomes"] if status == "failed")
        by_throttling = sum(
            n
            for status, reason, n in result["outcomes"]
            if status == "failed" and "throttl" in reason
        )
        waits = result["waits"]
        rows.append(
            [
                count,
                result["runs"],
                result["total"],
                minimum,
                result["total"] / minimum,
                requests,
                limited,
                throttled - limited,
                f"{throttled / requests:.2%}",
                failed,
                by_throttling,
                len(waits),
                c.percentile(waits, 50),
                c.percentile(waits, 95),
                max(waits) if waits else float("nan"),
            ]
        )
        print(
            f"  {count} worker(s): {result['total']:.0f}s (minimum {minimum:.0f}s), "
            f"{throttled} × 429 of {requests:,} requests, {failed} failed; "
            f"desk check wait p95 {c.percentile(waits, 95):.2f}s; outcomes {result['outcomes']}",
            flush=True,
        )
    print()
    print(
        c.table(
            [
                "workers",
                "runs",
                "total (s)",
                "minimum (s)",
                "ratio",
                "Graph requests",
                "429 by limits",
                "429 by faults",
                "429 share",
                "failed",
                "by throttling",
                "desk checks during big syncs",
                "wait p50 (s)",
                "p95 (s)",
                "max (s)",
            ],
            rows,
        )
    )
    print(
        f"\nGoals: 429 share < {GOAL_THROTTLED_SHARE:.0%}, 0 runs failed by throttling, "
        f"desk check wait p95 ≤ {GOAL_QUEUE_P95:.0f} s."
    )


if __name__ == "__main__":
    main()
