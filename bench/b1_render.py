"""B1 — DB-only render at scale on PostgreSQL: Connections and Monitoring, big vs small workspace.

A private database gets a "big" workspace (1,000 connections, 1,000,000 runs), an "other"
workspace (300,000 runs of its own, which the big one must never scan) and a "small" workspace
(10 connections, 10 runs). Rows are made with ``INSERT … SELECT generate_series`` from one
row created by the services. Each page is then requested in-process through Django's test
client (middleware, session, template rendering — everything but the socket) N times after a
warm-up; the table shows server-side p50/p95 and the query count of one request, big vs small.

    .venv/bin/python bench/b1_render.py
    .venv/bin/python bench/b1_render.py --runs 100000 --requests 100
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import _common as c

WORKSPACES = {"big": "bench-big", "other": "bench-other", "small": "bench-small"}


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
        clone(
            ProviderConnection,
            first.pk,
            n_conn - 1,
            {
                "entra_tenant_id": f"({guid})::uuid",
                "display_name": "'Tenant ' || g",
                "is_default": "false",
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
                "status": "CASE WHEN g % 10 = 0 THEN 'failed' ELSE 'succeeded' END",
                "reason_code": "CASE WHEN g % 10 = 0 THEN 'graph.throttled' ELSE '' END",
            },
            extra_from=f", (SELECT {ids} AS a) ids",
        )
    with db.cursor() as cursor:
        cursor.execute("ANALYZE")
    return {"user": user}


def measure(
    client: Any, url: str, requests: int, warmup: int, budget: float, htmx: bool = False
) -> tuple[float, float, int, int, int]:
    """(p50 ms, p95 ms, queries of one request, bytes, requests timed) — stops at `budget` s."""
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
        client.get(url, headers=headers)
    timings: list[float] = []
    deadline = time.monotonic() + budget
    while len(timings) < requests and time.monotonic() < deadline:
        started = time.perf_counter()
        client.get(url, headers=headers)
        timings.append((time.perf_counter() - started) * 1000)
    p50, p95 = c.percentile(timings, 50), c.percentile(timings, 95)
    return p50, p95, len(queries), len(response.content), len(timings)


def next_page(client: Any, url: str) -> str:
    content = client.get(url).content.decode()
    match = re.search(r'href="(\?[^"]*after=[^"]+)"', content)
    assert match, "no next-page link"
    return url + match.group(1).replace("&amp;", "&")


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
    args = parser.parse_args()

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
        rows = []
        for label, big_url_of, htmx in [
            ("Connections list", lambda s: f"/w/{s}/connections/", False),
            ("Monitoring, first page", lambda s: f"/w/{s}/runs/", False),
            ("Monitoring, htmx poll", lambda s: f"/w/{s}/runs/", True),
            ("Monitoring, next page (keyset)", None, False),
            ("Monitoring, status=failed", lambda s: f"/w/{s}/runs/?status=failed", False),
        ]:
            figures = []
            for key in ("big", "small"):
                slug = WORKSPACES[key]
                url = (
                    big_url_of(slug)
                    if big_url_of
                    else next_page(client, f"/w/{slug}/runs/")
                    if key == "big"
                    else f"/w/{slug}/runs/"
                )
                figures.append(measure(client, url, args.requests, args.warmup, args.budget, htmx))
            (b50, b95, bq, bsize, bn), (s50, s95, sq, _, sn) = figures
            rows.append(
                [
                    label,
                    b50,
                    b95,
                    bq,
                    bn,
                    s50,
                    s95,
                    sq,
                    sn,
                    b95 / s95,
                    "yes" if b95 <= 50 else "no",
                    f"{bsize / 1024:.0f} KB",
                ]
            )
        print()
        print(
            c.table(
                [
                    "page",
                    "big p50 ms",
                    "big p95 ms",
                    "big queries",
                    "big n",
                    "small p50 ms",
                    "small p95 ms",
                    "small queries",
                    "small n",
                    "p95 big/small",
                    "p95 ≤ 50 ms",
                    "big page size",
                ],
                rows,
            )
        )
        print(
            f"\n{args.requests} timed requests per page and workspace after {args.warmup} warm-up requests; small = 10 connections, 10 runs (next page: small has none, so its first page)."
        )


if __name__ == "__main__":
    sys.exit(main())
