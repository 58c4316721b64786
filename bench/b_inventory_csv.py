"""Inventory CSV export: 250,000 devices streamed in constant memory, beside 25,000.

A private database (PostgreSQL by default, ``--database sqlite`` for a SQLite file) gets two
workspaces: "big" with 250,000 managed devices and "small" with 25,000, each with a realistic
``raw`` document (≈ 0.6 KB) the export must not read. Rows are made in bulk
(``INSERT … SELECT generate_series`` on PostgreSQL, ``bulk_create`` in batches on SQLite), then
``ANALYZE``. Each export runs in its own process, through Django's test client (middleware,
session, the view, the streamed response; everything but the socket): the body is consumed
chunk by chunk and counted, never kept. Reported per workspace: rows, seconds, the process's
peak RSS growth during the export (``ru_maxrss`` after minus before, after a warm-up export of
another list), and in a second, traced export, tracemalloc's peak. Constant memory shows as a
big/small memory ratio near 1 while rows and seconds grow 10×.

    .venv/bin/python bench/b_inventory_csv.py
    .venv/bin/python bench/b_inventory_csv.py --devices 50000 --database sqlite
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import _common as c

WORKSPACES = {"big": "bench-csv-big", "small": "bench-csv-small"}
BATCH = 5000


def _scope(slug: str, user: Any) -> Any:
    from tenantatlas.providers.credential_input import SecretInput
    from tenantatlas.providers.services.connections import create_connection
    from tenantatlas.workspaces.models import Membership, Role, Workspace

    workspace = Workspace.objects.create(name=f"Bench {slug}", slug=slug)
    Membership.objects.create(workspace=workspace, user=user, role=Role.OWNER)
    return create_connection(
        actor=user,
        workspace=workspace,
        display_name=f"Tenant {slug}",
        entra_tenant_id=f"0000000{len(slug) % 10}-0000-4000-8000-{len(slug):012d}",
        credential=SecretInput(client_id=c.DEMO_CLIENT_ID, client_secret="bench-secret"),
    )


_PG_INSERT = """
INSERT INTO inventory_inventoryitem (
    workspace_id, connection_id, kind, external_id, display_name, platform, os_version,
    compliance_state, user_principal_name, last_sync_at, is_stale, odata_type, raw, content_hash,
    first_seen_at, last_seen_at, last_seen_run_id, removed_at
)
SELECT %(ws)s, %(conn)s, 'managed_device', md5('d' || g), 'DEVICE-' || lpad(g::text, 7, '0'),
       (ARRAY['Windows','iOS','Android','macOS'])[1 + g %% 4], '10.0.' || (g %% 30000),
       (ARRAY['compliant','noncompliant','inGracePeriod','unknown'])[1 + g %% 4],
       'user' || g || '@bench.test', now() - (g %% 900) * interval '1 hour',
       (g %% 900) > 7 * 24, '#microsoft.graph.managedDevice',
       jsonb_build_object(
           'id', md5('d' || g), 'deviceName', 'DEVICE-' || g, 'operatingSystem', 'Windows',
           'osVersion', '10.0.22631.4460', 'complianceState', 'compliant',
           'userPrincipalName', 'user' || g || '@bench.test', 'model', 'Latitude 7440',
           'manufacturer', 'Dell Inc.', 'serialNumber', upper(substr(md5('s' || g), 1, 12)),
           'wiFiMacAddress', upper(substr(md5('m' || g), 1, 12)), 'enrolledDateTime',
           '2024-03-14T09:26:53Z', 'lastSyncDateTime', '2026-11-30T08:15:00Z',
           'managementAgent', 'mdm', 'notes', repeat('x', 200)),
       md5('h' || g), now(), now(), NULL, NULL
FROM generate_series(1, %(n)s) g
"""


def _fill_postgresql(workspace_id: int, connection_id: int, devices: int) -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(_PG_INSERT, {"ws": workspace_id, "conn": connection_id, "n": devices})
        cursor.execute("ANALYZE inventory_inventoryitem")


def _fill_bulk(workspace_id: int, connection_id: int, devices: int) -> None:
    import datetime as dt

    from django.utils import timezone

    from tenantatlas.inventory.models import InventoryItem

    now = timezone.now()
    for start in range(0, devices, BATCH):
        InventoryItem.objects.bulk_create(
            [
                InventoryItem(
                    workspace_id=workspace_id,
                    connection_id=connection_id,
                    kind="managed_device",
                    external_id=f"{i:032x}",
                    display_name=f"DEVICE-{i:07d}",
                    platform=("Windows", "iOS", "Android", "macOS")[i % 4],
                    os_version=f"10.0.{i % 30000}",
                    compliance_state=("compliant", "noncompliant", "unknown")[i % 3],
                    user_principal_name=f"user{i}@bench.test",
                    last_sync_at=now - dt.timedelta(hours=i % 900),
                    odata_type="#microsoft.graph.managedDevice",
                    raw={"id": f"{i:032x}", "deviceName": f"DEVICE-{i}", "notes": "x" * 500},
                    content_hash=f"{i:040x}",
                    first_seen_at=now,
                    last_seen_at=now,
                )
                for i in range(start, min(devices, start + BATCH))
            ]
        )


def populate(devices: int, small: int, vendor: str) -> None:
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.create_user(username="bench-csv", password="x" * 20)
    fill = _fill_postgresql if vendor == "postgresql" else _fill_bulk
    for key, count in (("big", devices), ("small", small)):
        conn = _scope(WORKSPACES[key], user)
        fill(conn.workspace_id, conn.pk, count)


def _stream(client: Any, url: str) -> tuple[int, int]:
    """Request `url`, consume the streamed body chunk by chunk: (rows, bytes)."""
    response = client.get(url)
    assert response.status_code == 200, response.status_code
    assert response.streaming, "the export must stream"
    lines = size = 0
    for chunk in response.streaming_content:
        lines += chunk.count(b"\n")
        size += len(chunk)
    response.close()
    return lines - 1, size  # minus the header


def phase_export(args: argparse.Namespace) -> None:
    """In a fresh process: one warm-up export, then the measured one, then a traced one."""
    import tracemalloc

    c.setup_django(json.loads(args.env))
    from django.contrib.auth import get_user_model
    from django.test import Client

    client = Client()
    client.force_login(get_user_model().objects.get(username="bench-csv"))
    url = f"/w/{args.slug}/inventory/export.csv?kind=managed_device"
    _stream(client, f"/w/{args.slug}/inventory/export.csv?kind=mobile_app")  # imports, session
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    rows, size = _stream(client, url)
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    tracemalloc.start()
    _stream(client, url)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    result = {
        "rows": rows,
        "mb": size / 2**20,
        "seconds": seconds,
        "rss_before_mb": before / 1024,
        "rss_growth_mb": (after - before) / 1024,
        "traced_peak_mb": peak / 2**20,
    }
    print(json.dumps(result))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--devices", type=int, default=250_000, help="devices in the big list")
    parser.add_argument("--small", type=int, default=25_000, help="devices in the small list")
    parser.add_argument("--database", choices=["postgresql", "sqlite"], default="postgresql")
    parser.add_argument("--phase", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--slug", help=argparse.SUPPRESS)
    parser.add_argument("--env", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        phase_export(args)
        return

    print(
        f"B-CSV inventory export — {args.devices:,} vs {args.small:,} devices on "
        f"{args.database}; {c.machine()}"
    )
    with tempfile.TemporaryDirectory(prefix="bench-csv-") as tmp:
        private = (
            c.postgres_database("csv") if args.database == "postgresql" else _SqliteFile(Path(tmp))
        )
        with private as database_url:
            env = c.base_env(database_url, Path(tmp))
            c.setup_django(env)
            from django.core.management import call_command

            call_command("migrate", verbosity=0)
            started = time.perf_counter()
            populate(args.devices, args.small, args.database)
            print(f"  populated in {time.perf_counter() - started:.1f}s", flush=True)
            from django.db import connections

            connections.close_all()
            results = {}
            for key in ("small", "big"):
                cmd = [c.PYTHON, __file__, "--phase", "--slug", WORKSPACES[key]]
                _, _, output = c.run_measured([*cmd, "--env", json.dumps(env)], env, timeout=1800)
                results[key] = json.loads(output.strip().splitlines()[-1])
                print(f"  {key}: {results[key]}", flush=True)
    _report(results)


class _SqliteFile:
    """A SQLite database file in the temporary directory (used like postgres_database())."""

    def __init__(self, directory: Path) -> None:
        self.url = f"sqlite:///{directory / 'bench.sqlite3'}"

    def __enter__(self) -> str:
        return self.url

    def __exit__(self, *exc: object) -> None:
        return None


def _report(results: dict[str, dict[str, Any]]) -> None:
    rows = []
    for key in ("small", "big"):
        r = results[key]
        rows.append(
            [
                key,
                r["rows"],
                r["mb"],
                r["seconds"],
                r["rows"] / r["seconds"],
                r["rss_growth_mb"],
                r["traced_peak_mb"],
            ]
        )
    big, small = results["big"], results["small"]
    rows.append(
        [
            "big / small",
            big["rows"] / small["rows"],
            big["mb"] / small["mb"],
            big["seconds"] / small["seconds"],
            "",
            "",
            big["traced_peak_mb"] / small["traced_peak_mb"],
        ]
    )
    print()
    print(
        c.table(
            [
                "list",
                "rows",
                "CSV MB",
                "seconds",
                "rows/s",
                "RSS growth MB",
                "tracemalloc peak MB",
            ],
            rows,
        )
    )
    sys.stdout.flush()


if __name__ == "__main__":
    main()
