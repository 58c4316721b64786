"""B6 — the overview on PostgreSQL: 200 connections and 500,000 devices beside 10 connections.

A private database gets a "big" workspace (200 connections with credentials, 500,000 managed
devices, 100,000 runs of which 1 in 20 failed, 90 days of snapshots per connection and the
daily cross-tenant trend), a "small" one (10 connections, 25,000 devices, the same history per
connection) and an "other" workspace (100,000 devices the others must never count). Rows are
copied with ``INSERT … SELECT generate_series`` from rows the services made; each connection's
summary is then written by the same service a sync calls (``record_sync_summary``), and the
trend by the one a snapshot calls. Pages are requested in-process through Django's test client
(everything but the socket); the table shows server-side p50/p95 and the query count of one
request, big vs small, and the home page of a person in all three workspaces.

    .venv/bin/python bench/b6_overview.py
    .venv/bin/python bench/b6_overview.py --devices 100000 --requests 50    # quicker
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import _common as c
from b1_render import GUID, _columns, clone, measure

SIZES = {
    "big": (200, 500_000, 100_000),
    "small": (10, 25_000, 5_000),
    "other": (10, 100_000, 1_000),
}
SNAPSHOT_DAYS = 90


def _connections(workspace: Any, user: Any, key: str, count: int) -> list[int]:
    from django.db import connection as db

    from tenantatlas.providers.credential_input import SecretInput
    from tenantatlas.providers.models import ProviderConnection, ProviderCredential
    from tenantatlas.providers.services.connections import create_connection

    first = create_connection(
        actor=user,
        workspace=workspace,
        display_name="Tenant 0",
        entra_tenant_id=f"0000000{len(key)}-0000-4000-8000-000000000000",
        credential=SecretInput(client_id=c.DEMO_CLIENT_ID, client_secret="bench-secret"),
    )
    guid = GUID.format(s=f"('{key}' || g::text)")
    health = "(ARRAY['healthy','healthy','healthy','degraded','unhealthy','unknown'])[1 + g % 6]"
    clone(
        ProviderConnection,
        first.pk,
        count - 1,
        {
            "entra_tenant_id": f"({guid})::uuid",
            "display_name": "'Tenant ' || g",
            "is_default": "false",
            "health": health,
            "health_reason_code": f"CASE WHEN {health} IN ('degraded','unhealthy') THEN 'graph.permission_denied' ELSE '' END",
        },
    )
    credential = ProviderCredential.objects.get(connection=first)
    columns = _columns(ProviderCredential)
    select = ", ".join(
        "k.id"
        if col == "connection_id"
        else "now() + make_interval(days => ((k.id %% 90) - 10)::int)"
        if col == "expires_at"
        else f"s.{col}"
        for col in columns
    )
    with db.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {ProviderCredential._meta.db_table} ({', '.join(columns)}) "
            f"SELECT {select} FROM {ProviderCredential._meta.db_table} s, "
            f"{ProviderConnection._meta.db_table} k WHERE s.id = %s AND k.workspace_id = %s AND k.id <> %s",
            [credential.pk, workspace.pk, first.pk],
        )
    return list(
        ProviderConnection.objects.filter(workspace=workspace)
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def _history(workspace: Any, ids: list[int], devices: int, runs: int) -> None:
    """Devices, runs and snapshots spread over the connections, then the precomputed rows."""
    from django.db import connection as db

    from tenantatlas.inventory.models import ComplianceSnapshot, InventoryItem, TenantSummary
    from tenantatlas.inventory.observed import SeenBy
    from tenantatlas.inventory.summaries import record_sync_summary, rewrite_trend_day
    from tenantatlas.operations.models import OperationRun

    array = "ARRAY[" + ",".join(map(str, ids)) + "]"
    n = len(ids)
    with db.cursor() as cursor:
        cursor.execute(
            f"""INSERT INTO {InventoryItem._meta.db_table} (workspace_id, connection_id, kind,
                external_id, display_name, platform, os_version, compliance_state,
                user_principal_name, last_sync_at, is_stale, odata_type, raw, content_hash, first_seen_at,
                last_seen_at, last_seen_run_id, removed_at)
            SELECT %s, ({array})[1 + g %% {n}], 'managed_device', md5(%s || g::text),
                'DEVICE-' || g, 'Windows', '10.0.22631',
                (ARRAY['compliant','compliant','compliant','compliant','compliant','compliant',
                       'compliant','noncompliant','inGracePeriod','unknown'])[1 + g %% 10],
                'user' || g || '@contoso.example',
                now() - make_interval(days => CASE WHEN g %% 10 = 3 THEN 30 ELSE 1 END),
                g %% 10 = 3,
                '#microsoft.graph.managedDevice', '{{}}'::jsonb, '', now(), now(), NULL, NULL
            FROM generate_series(1, %s) g""",
            [workspace.pk, workspace.slug, devices],
        )
    if runs:
        first = OperationRun.objects.create(
            workspace=workspace,
            connection_id=ids[0],
            operation_type="inventory.sync",
            scope_key=f"bench:{workspace.slug}:0",
            status="succeeded",
            requested_by_label="bench",
        )
        clone(
            OperationRun,
            first.pk,
            runs - 1,
            {
                "connection_id": f"({array})[1 + g % {n}]",
                "scope_key": f"'bench:{workspace.slug}:' || g",
                "created_at": "now() - make_interval(secs => g * 60)",
                "finished_at": "now() - make_interval(secs => g * 60 - 30)",
                "status": "CASE WHEN g % 20 = 0 THEN 'failed' ELSE 'succeeded' END",
            },
        )
    snapshot = ComplianceSnapshot.objects.create(
        workspace=workspace,
        connection_id=ids[0],
        taken_at=time_now(),
        compliant=1750,
        noncompliant=250,
        in_grace_period=250,
        unknown=250,
        stale=250,
        total=2500,
    )
    clone(
        ComplianceSnapshot,
        snapshot.pk,
        n * SNAPSHOT_DAYS - 1,
        {
            "connection_id": f"({array})[1 + g % {n}]",
            "taken_at": f"now() - make_interval(days => (g / {n})::int)",
            "run_id": "NULL",
        },
    )
    run_id = OperationRun.objects.filter(workspace=workspace).values_list("pk", flat=True).first()
    for pk in ids:
        record_sync_summary(SeenBy(workspace.pk, pk, run_id or 0), status="succeeded")
        latest = ComplianceSnapshot.objects.filter(connection_id=pk).order_by("-taken_at").first()
        TenantSummary.objects.filter(connection_id=pk).update(
            last_snapshot=latest, last_snapshot_at=latest.taken_at if latest else None
        )
    rewrite_trend_day(workspace.pk)
    _trend_history(workspace)


def _trend_history(workspace: Any) -> None:
    """The 89 earlier days of the trend, as the daily snapshots would have written them."""

    from tenantatlas.inventory.models import ComplianceTrendDay

    today = ComplianceTrendDay.objects.get(workspace=workspace)
    clone(
        ComplianceTrendDay,
        today.pk,
        SNAPSHOT_DAYS - 1,
        {"day": "s.day - g", "updated_at": "s.updated_at - make_interval(days => g)"},
    )


def time_now() -> Any:
    from django.utils import timezone

    return timezone.now()


def populate() -> Any:
    from django.contrib.auth import get_user_model
    from django.db import connection as db

    from tenantatlas.workspaces.models import Membership, Role, Workspace

    user = get_user_model().objects.create_user(username="bench-owner", password="x" * 20)
    for key, (connections, devices, runs) in SIZES.items():
        workspace = Workspace.objects.create(name=f"Bench {key}", slug=f"bench-{key}")
        Membership.objects.create(workspace=workspace, user=user, role=Role.OWNER)
        ids = _connections(workspace, user, key, connections)
        _history(workspace, ids, devices, runs)
        print(f"  {key}: {connections} connections, {devices:,} devices, {runs:,} runs", flush=True)
    with db.cursor() as cursor:
        cursor.execute("ANALYZE")
    return user


def profile(client: Any, url: str) -> None:
    """Each query of one request with its time, then the request's total."""
    from django.db import connection

    client.get(url)
    timings: list[tuple[float, str, Any]] = []

    def timed(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            timings.append(((time.perf_counter() - started) * 1000, sql, params))

    import cProfile
    import pstats

    profiler = cProfile.Profile()
    started = time.perf_counter()
    with connection.execute_wrapper(timed):
        profiler.runcall(client.get, url)
    total = (time.perf_counter() - started) * 1000
    pstats.Stats(profiler).sort_stats("tottime").print_stats(25)
    timings.sort(key=lambda t: t[0], reverse=True)
    for ms, sql, _ in timings:
        print(f"{ms:8.1f} ms  {sql[:160]}")
    print(f"{sum(t[0] for t in timings):8.1f} ms in {len(timings)} queries; request {total:.1f} ms")
    with connection.cursor() as cursor:
        for _, sql, params in timings[:2]:
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params)
            print("\n".join(row[0] for row in cursor.fetchall()))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--connections", type=int, default=200)
    parser.add_argument("--devices", type=int, default=500_000, help="devices in the big workspace")
    parser.add_argument("--requests", type=int, default=200, help="timed requests per page")
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--budget", type=float, default=60.0, help="seconds per page at most")
    parser.add_argument(
        "--profile",
        choices=["big", "small"],
        help="profile one request of that workspace's overview",
    )
    args = parser.parse_args()
    SIZES["big"] = (args.connections, args.devices, SIZES["big"][2])

    print(
        f"B6 overview — {args.connections:,} connections, {args.devices:,} devices vs 10 connections; {c.machine()}"
    )
    with tempfile.TemporaryDirectory(prefix="bench-b6-") as tmp, c.postgres_database("b6") as pg:
        c.setup_django(c.base_env(pg, Path(tmp)))
        from django.core.management import call_command
        from django.test import Client

        call_command("migrate", verbosity=0)
        started = time.perf_counter()
        user = populate()
        print(f"  populated in {time.perf_counter() - started:.1f}s", flush=True)
        client = Client()
        client.force_login(user)
        if args.profile:
            profile(client, f"/w/bench-{args.profile}/overview/")
            return
        rows = []
        for label, path in [
            ("Overview (worst health first)", "overview/"),
            ("Overview sorted by compliant share", "overview/?sort=-share"),
            ("Overview, tenants page 2", "overview/?page=2"),
        ]:
            figures = [
                measure(client, f"/w/bench-{key}/{path}", args.requests, args.warmup, args.budget)
                for key in ("big", "small")
            ]
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
                    "yes" if b95 <= 100 else "no",
                    f"{bsize / 1024:.0f} KB",
                ]
            )
        h50, h95, hq, hsize, hn = measure(client, "/", args.requests, args.warmup, args.budget)
        rows.append(
            [
                "Home (3 workspaces)",
                h50,
                h95,
                hq,
                hn,
                "",
                "",
                "",
                "",
                "",
                "yes" if h95 <= 100 else "no",
                f"{hsize / 1024:.0f} KB",
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
                    "p95 ≤ 100 ms",
                    "big page size",
                ],
                rows,
            )
        )
        print(
            f"\n{args.requests} timed requests per page after {args.warmup} warm-up requests; "
            "big = the big workspace, small = 10 connections with 25,000 devices."
        )


if __name__ == "__main__":
    sys.exit(main())
