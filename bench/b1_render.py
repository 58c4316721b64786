"""B1 — DB-only render at scale on PostgreSQL: Connections and Monitoring, big vs small workspace.

A private database gets a "big" workspace (1,000 connections, 1,000,000 runs), an "other"
workspace (300,000 runs of its own, which the big one must never scan) and a "small" workspace
(10 connections, 10 runs). Rows are made with ``INSERT … SELECT generate_series`` from one
row created by the services. Each page is then requested in-process through Django's test
client (middleware, session, template rendering — everything but the socket) N times after a
warm-up; the table shows server-side p50/p95, the query count of one request and the size of
its HTML (raw, and gzip-compressed as a proxy would send it), big vs small, beside the goals.

    .venv/bin/python bench/b1_render.py                  # 1,000 connections, 1,000,000 runs
    .venv/bin/python bench/b1_render.py --quick          # 100,000 runs, 100 requests a page
    .venv/bin/python bench/b1_render.py --quick --explain      # EXPLAIN ANALYZE of each list query
    .venv/bin/python bench/b1_render.py --quick --profile monitoring
"""

from __future__ import annotations

import argparse
import cProfile
import gzip
import os
import pstats
import re
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import _common as c

WORKSPACES = {"big": "bench-big", "other": "bench-other", "small": "bench-small"}
GOAL_P95_MS = 50
GOAL_PAGE_KB = 60  # raw HTML of one page of 50 rows
KB = 1024
RUNS_TABLE = '"operations_operationrun"'
CONNECTIONS_TABLE = '"providers_providerconnection"'


def _columns(model: Any) -> list[str]:
    return [f.column for f in model._meta.concrete_fields if f.column != "id"]


def clone(
    model: Any, source_pk: int, count: int, overrides: dict[str, str], extra_from: str = ""
) -> None:
    """INSERT `count` copies of one row, with SQL expressions (over g = 1..count) for some columns."""
    from django.db import connection

    table = model._meta.db_table
    columns = _columns(model)
    select = ", ".join(overrides.get(col, f"s.{col}").replace("%", "%%") for col in columns)
    sql = (
        f"INSERT INTO {table} ({', '.join(columns)}) SELECT {select} "
        f"FROM {table} s{extra_from}, generate_series(1, %s) g WHERE s.id = %s"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [count, source_pk])


GUID = (
    "substr(md5({s}), 1, 8) || '-' || substr(md5({s}), 9, 4) || '-4' || substr(md5({s}), 14, 3) "
    "|| '-8' || substr(md5({s}), 18, 3) || '-' || substr(md5({s}), 21, 12)"
)
FAILED = "abs(hashint4(g)) % 10 = 0"
HEALTH = "(ARRAY['healthy','healthy','healthy','degraded','unhealthy','unknown'])[1 + g % 6]"


def populate(connections: int, runs: int, other_runs: int) -> dict[str, Any]:
    from django.contrib.auth import get_user_model
    from django.db import connection as db

    from tenantatlas.operations.models import OperationRun
    from tenantatlas.providers.credential_input import SecretInput
    from tenantatlas.providers.models import ProviderConnection, ProviderCredential
    from tenantatlas.providers.services.connections import create_connection
    from tenantatlas.workspaces.models import Membership, Role, Workspace

    user = get_user_model().objects.create_user(username="bench-owner", password="x" * 20)
    sizes = {"big": (connections, runs), "other": (10, other_runs), "small": (10, 10)}
    for key, slug in WORKSPACES.items():
        workspace = Workspace.objects.create(name=f"Bench {key}", slug=slug)
        Membership.objects.create(workspace=workspace, user=user, role=Role.OWNER)
        first = create_connection(
            actor=user,
            workspace=workspace,
            display_name="Tenant 0",
            entra_tenant_id=f"0000000{len(key)}-0000-4000-8000-000000000000",
            credential=SecretInput(client_id=c.DEMO_CLIENT_ID, client_secret="bench-secret"),
        )
        n_conn, n_runs = sizes[key]
        guid = GUID.format(s=f"('{key}' || g::text)")
        # Connections in every health, checked at different times, as a real estate has them.
        clone(
            ProviderConnection,
            first.pk,
            n_conn - 1,
            {
                "entra_tenant_id": f"({guid})::uuid",
                "display_name": "'Tenant ' || g",
                "is_default": "false",
                "health": HEALTH,
                "health_reason_code": f"CASE WHEN {HEALTH} IN ('degraded','unhealthy') "
                "THEN 'graph.permission_denied' ELSE '' END",
                "health_checked_at": f"CASE WHEN {HEALTH} = 'unknown' THEN NULL "
                "ELSE now() - make_interval(mins => g) END",
            },
        )
        credential = ProviderCredential.objects.get(connection=first)
        with db.cursor() as cursor:
            columns = _columns(ProviderCredential)
            select = ", ".join("k.id" if col == "connection_id" else f"s.{col}" for col in columns)
            cursor.execute(
                f"INSERT INTO {ProviderCredential._meta.db_table} ({', '.join(columns)}) "
                f"SELECT {select} FROM {ProviderCredential._meta.db_table} s, "
                f"{ProviderConnection._meta.db_table} k WHERE s.id = %s AND k.workspace_id = %s AND k.id <> %s",
                [credential.pk, workspace.pk, first.pk],
            )
        run = OperationRun.objects.create(
            workspace=workspace,
            connection=first,
            operation_type="inventory.sync",
            scope_key=f"bench:{key}:0",
            status="succeeded",
            requested_by=user,
            requested_by_label="bench-owner",
            summary_counts={
                "managed_device": {"seen": 5000, "created": 0, "updated": 12, "removed": 0}
            },
        )
        ids = f"(SELECT array_agg(id ORDER BY id) FROM {ProviderConnection._meta.db_table} WHERE workspace_id = {workspace.pk})"
        types = "(ARRAY['inventory.sync','provider.health_check','compliance.snapshot'])"
        clone(
            OperationRun,
            run.pk,
            n_runs - 1,
            {
                "connection_id": f"(ids.a)[1 + g % {n_conn}]",
                "scope_key": f"'bench:{key}:' || g",
                "created_at": "now() - make_interval(secs => g * 7)",
                "started_at": "now() - make_interval(secs => g * 7 - 1)",
                "finished_at": "now() - make_interval(secs => g * 7 - 5)",
                "operation_type": f"{types}[1 + g % 3]",
                # One run in ten failed, spread over the connections (not every tenth one).
                "status": f"CASE WHEN {FAILED} THEN 'failed' ELSE 'succeeded' END",
                "reason_code": f"CASE WHEN {FAILED} THEN 'graph.throttled' ELSE '' END",
                "failure_message": f"CASE WHEN {FAILED} THEN 'Microsoft Graph throttled the "
                "request; retries ran out.' ELSE '' END",
            },
            extra_from=f", (SELECT {ids} AS a) ids",
        )
    with db.cursor() as cursor:
        cursor.execute("ANALYZE")
    return {"user": user}


@dataclass
class Figures:
    """One page measured: server-side times, queries of one request and its size."""

    p50: float
    p95: float
    cpu_p50: float  # this process's CPU time: Django's share, without the database's
    queries: int
    raw_bytes: int
    gzip_bytes: int
    n: int


def measure_page(
    client: Any, url: str, requests: int, warmup: int, budget: float, htmx: bool = False
) -> Figures:
    """Times `requests` GETs of `url` after `warmup` (stops at `budget` s)."""
    from django.db import connection

    headers = {"HX-Request": "true"} if htmx else {}
    for _ in range(warmup):
        response = client.get(url, headers=headers)
        assert response.status_code in (200, 286), (url, response.status_code)
    queries: list[str] = []

    def count(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        queries.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(count):
        response = client.get(url, headers=headers)
    timings: list[float] = []
    cpu: list[float] = []
    deadline = time.monotonic() + budget
    while len(timings) < requests and time.monotonic() < deadline:
        started, started_cpu = time.perf_counter(), time.process_time()
        client.get(url, headers=headers)
        timings.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - started_cpu) * 1000)
    return Figures(
        p50=c.percentile(timings, 50),
        p95=c.percentile(timings, 95),
        cpu_p50=c.percentile(cpu, 50),
        queries=len(queries),
        raw_bytes=len(response.content),
        gzip_bytes=len(gzip.compress(response.content, compresslevel=6)),
        n=len(timings),
    )


def measure(
    client: Any, url: str, requests: int, warmup: int, budget: float, htmx: bool = False
) -> tuple[float, float, int, int, int]:
    """(p50 ms, p95 ms, queries of one request, bytes, requests timed) — stops at `budget` s."""
    f = measure_page(client, url, requests, warmup, budget, htmx)
    return f.p50, f.p95, f.queries, f.raw_bytes, f.n


def next_page(client: Any, url: str) -> str:
    content = client.get(url).content.decode()
    match = re.search(r'href="(\?[^"]*after=[^"]+)"', content)
    assert match, "no next-page link"
    return url + match.group(1).replace("&amp;", "&")


def pages(client: Any) -> list[tuple[str, dict[str, str], bool]]:
    """(label, url per workspace, htmx) of every page measured."""
    from tenantatlas.providers.models import ProviderConnection

    def each(path: str) -> dict[str, str]:
        return {key: f"/w/{WORKSPACES[key]}/{path}" for key in ("big", "small")}

    def one_connection(key: str) -> int:
        return (
            ProviderConnection.objects.filter(workspace__slug=WORKSPACES[key])
            .order_by("pk")
            .values_list("pk", flat=True)[1]
        )

    return [
        ("Connections list", each("connections/"), False),
        ("Connections, page 2 by health", each("connections/?sort=health&page=2"), False),
        ("Monitoring, first page", each("runs/"), False),
        ("Monitoring, htmx poll", each("runs/"), True),
        (
            "Monitoring, next page (keyset)",
            # The small workspace has one page only: its first page stands in.
            {"big": next_page(client, each("runs/")["big"]), "small": each("runs/")["small"]},
            False,
        ),
        ("Monitoring, status=failed", each("runs/?status=failed"), False),
        (
            "Monitoring, one connection",
            {
                key: f"/w/{WORKSPACES[key]}/runs/?connection={one_connection(key)}"
                for key in ("big", "small")
            },
            False,
        ),
    ]


# The filters of Monitoring (and one combination) whose list query --explain shows.
EXPLAINED = [
    "",
    "?status=failed",
    "?status=problems",
    "?status=cancelled",  # no run has it: the worst case for an ordered index walk
    "?status=running",
    "?operation_type=compliance.snapshot",
    "?finished=24h",
    "?finished=7d&status=failed",
    "?connection={connection}",
    "?connection={connection}&status=failed",
    "?connection={connection}&operation_type=inventory.sync",
]


def explain(client: Any, url: str, table: str) -> None:
    """EXPLAIN (ANALYZE, BUFFERS) of each query of one request that reads `table` with LIMIT."""
    from django.db import connection

    captured: list[tuple[str, Any]] = []

    def keep(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        captured.append((sql, params))
        return execute(sql, params, many, context)

    client.get(url)
    with connection.execute_wrapper(keep):
        client.get(url)
    with connection.cursor() as cursor:
        for sql, params in captured:
            if f"FROM {table}" not in sql or "LIMIT" not in sql:
                continue
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params)
            plan = [row[0] for row in cursor.fetchall()]
            print(f"\n--- {url}\n{sql[:400]}")
            print("\n".join(plan))


def profile(client: Any, url: str, repeat: int = 20) -> None:
    """Each query of `repeat` requests with its mean time, then a profile of them (several, so
    that a busy machine's pauses average out)."""
    from django.db import connection

    client.get(url)
    timings: list[tuple[float, str]] = []

    def timed(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            timings.append(((time.perf_counter() - started) * 1000, sql))

    profiler = cProfile.Profile()
    started = time.perf_counter()
    with connection.execute_wrapper(timed):
        for _ in range(repeat):
            profiler.runcall(client.get, url)
    total = (time.perf_counter() - started) * 1000 / repeat
    pstats.Stats(profiler).sort_stats("cumulative").print_stats(40)
    pstats.Stats(profiler).sort_stats("tottime").print_stats(25)
    per_query: dict[str, float] = {}
    for ms, sql in timings:
        per_query[sql] = per_query.get(sql, 0.0) + ms / repeat
    for sql, ms in sorted(per_query.items(), key=lambda item: -item[1]):
        print(f"{ms:8.1f} ms  {sql[:160]}")
    print(
        f"{sum(per_query.values()):8.1f} ms in {len(timings) // repeat} queries a request; "
        f"request {total:.1f} ms (profiled, mean of {repeat})"
    )


def _kb(size: int) -> str:
    return f"{size / KB:.1f} KB"


def report(rows: list[tuple[str, Figures, Figures]], htmx_pages: set[str]) -> str:
    table = []
    for label, big, small in rows:
        weight_goal = (
            "" if label in htmx_pages else "yes" if big.raw_bytes <= GOAL_PAGE_KB * KB else "no"
        )
        table.append(
            [
                label,
                big.p50,
                big.p95,
                "yes" if big.p95 <= GOAL_P95_MS else "no",
                big.cpu_p50,
                big.queries,
                big.n,
                _kb(big.raw_bytes),
                _kb(big.gzip_bytes),
                weight_goal,
                small.p50,
                small.p95,
                small.queries,
                big.p95 / small.p95,
            ]
        )
    return c.table(
        [
            "page",
            "p50 ms",
            "p95 ms",
            f"p95 ≤ {GOAL_P95_MS} ms",
            "CPU p50 ms",
            "queries",
            "n",
            "HTML",
            "gzip",
            f"HTML ≤ {GOAL_PAGE_KB} KB",
            "small p50 ms",
            "small p95 ms",
            "small queries",
            "p95 big/small",
        ],
        table,
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--connections", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=1_000_000, help="runs in the big workspace")
    parser.add_argument("--other-runs", type=int, default=300_000, help="runs in another workspace")
    parser.add_argument(
        "--requests", type=int, default=200, help="timed requests per page (after warm-up)"
    )
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument(
        "--budget",
        type=float,
        default=60.0,
        help="seconds per page at most (bounds slow pages; n shows how many ran)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="100,000 runs (+30,000 elsewhere), 100 requests a page after 10 warm-ups",
    )
    parser.add_argument(
        "--explain", action="store_true", help="EXPLAIN ANALYZE the list queries instead of timing"
    )
    parser.add_argument(
        "--profile",
        choices=["connections", "monitoring"],
        help="profile one request of that page of the big workspace instead of timing",
    )
    parser.add_argument("--save-html", type=Path, help="write each big page's HTML to this folder")
    args = parser.parse_args()
    # The benchmark serves no static files: whitenoise's note about their folder is noise here.
    warnings.filterwarnings("ignore", message="No directory at")
    if args.quick:
        args.runs, args.other_runs, args.requests, args.warmup = 100_000, 30_000, 100, 10

    print(
        f"B1 DB-only render — {args.connections:,} connections, {args.runs:,} runs (+{args.other_runs:,} elsewhere); {c.machine()}"
    )
    with tempfile.TemporaryDirectory(prefix="bench-b1-") as tmp, c.postgres_database("b1") as pg:
        c.setup_django(c.base_env(pg, Path(tmp)))
        from django.core.management import call_command
        from django.test import Client

        call_command("migrate", verbosity=0)
        started = time.perf_counter()
        cast = populate(args.connections, args.runs, args.other_runs)
        print(f"  populated in {time.perf_counter() - started:.1f}s", flush=True)
        client = Client()
        client.force_login(cast["user"])
        measured = pages(client)
        if args.profile:
            profile(client, measured[0 if args.profile == "connections" else 2][1]["big"])
            return
        if args.explain:
            one = measured[-1][1]["big"].rsplit("=", 1)[1]
            for query in EXPLAINED:
                explain(client, "/w/bench-big/runs/" + query.format(connection=one), RUNS_TABLE)
            for query in ("", "?sort=health&page=2", "?health=degraded", "?q=Tenant%2099"):
                explain(client, "/w/bench-big/connections/" + query, CONNECTIONS_TABLE)
            return
        rows = []
        for label, urls, htmx in measured:
            big = measure_page(client, urls["big"], args.requests, args.warmup, args.budget, htmx)
            small = measure_page(
                client, urls["small"], args.requests, args.warmup, args.budget, htmx
            )
            rows.append((label, big, small))
            if args.save_html:
                args.save_html.mkdir(parents=True, exist_ok=True)
                name = re.sub(r"[^a-z0-9]+", "-", label.lower()).strip("-")
                headers = {"HX-Request": "true"} if htmx else {}
                (args.save_html / f"{name}.html").write_bytes(
                    client.get(urls["big"], headers=headers).content
                )
        print()
        print(report(rows, {label for label, _, htmx in measured if htmx}))
        print(
            f"\nUp to {args.requests} timed requests per page and workspace (n; at most {args.budget:.0f} s) "
            f"after {args.warmup} warm-up requests; small = 10 connections, 10 runs (its next "
            "page: it has one page only, so its first page). HTML: the response body of one "
            f"page of 50 rows as sent (KB = {KB} bytes); gzip: the same at level 6, as a "
            f"compressing proxy would send it. The HTML goal is not asked of the htmx fragment. "
            "CPU: this process's CPU time per request (Django without the database), less "
            "sensitive than the wall-clock times to other work on the machine. "
            f"Load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}."
        )


if __name__ == "__main__":
    sys.exit(main())
