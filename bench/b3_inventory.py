"""B3 — inventory sync throughput: a large simulated tenant synced into PostgreSQL and SQLite.

For each database: a real worker process (``manage.py worker --batch``) syncs the tenant;
devices per second come from the run's own start/finish times, peak memory from the worker's
RSS (wait4) and, in a second traced sync, from tracemalloc. The **floor** fetches the very same
pages from the same simulator (same URL, ``$select`` and page size, one TLS session) and
writes the same columns with raw psycopg ``COPY`` into a table shaped like the inventory
table (same indexes): the physical limit of "Graph pages → PostgreSQL rows" in Python.

    .venv/bin/python bench/b3_inventory.py                 # 100,000 devices
    .venv/bin/python bench/b3_inventory.py --devices 20000 --skip-sqlite
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import _common as c

TENANT = "b3b3b3b3-1111-4222-8333-444455556666"
SECRET = "bench-b3-secret"
KIND_CONTRACTS = [
    ("managed_device", "devices.list"),
    ("compliance_policy", "compliance_policies.list"),
    ("device_configuration", "device_configurations.list"),
    ("configuration_policy", "configuration_policies.list"),
    ("mobile_app", "mobile_apps.list"),
]


# -- the product, inside one database (runs in a subprocess configured for it) ---------------


def _setup_scope(workspace_slug: str) -> Any:
    from django.contrib.auth import get_user_model

    from tenantatlas.providers.credential_input import SecretInput
    from tenantatlas.providers.services.connections import create_connection
    from tenantatlas.workspaces.models import Membership, Role, Workspace

    user = get_user_model().objects.create_user(
        username=f"bench-{workspace_slug}", password="x" * 20
    )
    workspace = Workspace.objects.create(name=f"Bench {workspace_slug}", slug=workspace_slug)
    Membership.objects.create(workspace=workspace, user=user, role=Role.OWNER)
    conn = create_connection(
        actor=user,
        workspace=workspace,
        display_name="Bench tenant",
        entra_tenant_id=TENANT,
        cloud="simulator",
        credential=SecretInput(client_id=c.DEMO_CLIENT_ID, client_secret=SECRET),
    )
    return user, conn


def _start(user: Any, conn: Any) -> Any:
    from tenantatlas.operations.services import start_operation

    return start_operation(
        actor=user, member=None, connection=conn, operation_type="inventory.sync"
    ).run


def _finished(run: Any, devices: int) -> dict[str, Any]:
    run.refresh_from_db()
    if run.status != "succeeded":
        raise RuntimeError(f"sync ended {run.status} {run.reason_code}: {run.failure_message}")
    seen = run.summary_counts["managed_device"]["seen"]
    assert seen == devices, (seen, devices)
    return {
        "seconds": (run.finished_at - run.started_at).total_seconds(),
        "items": run.progress_done,
        "devices": seen,
    }


def phase_database(args: argparse.Namespace) -> None:
    """Migrate, then: idle worker, first sync, unchanged re-sync, traced sync (own scope)."""
    env = json.loads(args.env)
    c.setup_django(env)
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    worker = [c.PYTHON, str(c.MANAGE_PY), "worker", "--batch"]
    _, idle_mb, _ = c.run_measured(worker, env, timeout=120)
    user, conn = _setup_scope("bench-a")
    result: dict[str, Any] = {"idle_rss_mb": idle_mb}
    for label in ("first", "resync"):
        run = _start(user, conn)
        wall, rss, _ = c.run_measured(worker, env, timeout=1800)
        result[label] = {**_finished(run, args.devices), "worker_wall": wall, "rss_mb": rss}
    user_b, conn_b = _setup_scope("bench-b")
    run = _start(user_b, conn_b)
    traced = [c.PYTHON, __file__, "--phase", "traced", "--run-id", str(run.pk), "--env", args.env]
    if args.profile:
        traced.append("--profile")
    _, rss, output = c.run_measured(traced, env, timeout=1800)
    if args.profile:
        print(output, file=sys.stderr)
    result["traced"] = {
        **_finished(run, args.devices),
        "rss_mb": rss,
        "tracemalloc_peak_mb": json.loads(output.strip().splitlines()[-1])["peak_mb"],
    }
    print(json.dumps(result))


def phase_traced(args: argparse.Namespace) -> None:
    """Execute one run in this process under tracemalloc; print the peak of traced memory."""
    import tracemalloc

    c.setup_django(json.loads(args.env))
    from tenantatlas.operations.worker import execute

    if args.profile:
        import cProfile
        import pstats

        profiler = cProfile.Profile()
        profiler.runcall(execute, args.run_id)
        pstats.Stats(profiler, stream=sys.stderr).sort_stats("tottime").print_stats(40)
        print(json.dumps({"peak_mb": 0.0}))
        return
    tracemalloc.start()
    execute(args.run_id)
    _, peak = tracemalloc.get_traced_memory()
    print(json.dumps({"peak_mb": peak / 2**20}))


# -- the floor: same pages, same columns, raw COPY ---------------------------------------------


def _token(session: Any, sim: c.Simulator) -> str:
    response = session.post(
        f"{sim.base_url}/{TENANT}/oauth2/v2.0/token",
        data={
            "grant_type": "client_credentials",
            "client_id": c.DEMO_CLIENT_ID,
            "client_secret": SECRET,
            "scope": "https://graph.microsoft.com/.default",
        },
        timeout=30,
    )
    response.raise_for_status()
    return str(response.json()["access_token"])


def _when(value: Any) -> dt.datetime | None:
    if not value or value.startswith("0001-"):
        return None
    return dt.datetime.fromisoformat(value)


def floor(sim: c.Simulator, database_url: str, devices: int) -> dict[str, Any]:
    import psycopg
    import requests

    from tenantatlas.graph.contracts import get_contract

    columns = (
        "workspace_id, connection_id, kind, first_seen_at, last_seen_at, external_id, display_name, "
        "platform, os_version, compliance_state, user_principal_name, last_sync_at, odata_type, raw, "
        "content_hash"
    )
    with psycopg.connect(database_url) as db:
        db.execute("DROP TABLE IF EXISTS floor_items")
        db.execute("CREATE TABLE floor_items (LIKE inventory_inventoryitem INCLUDING ALL)")
        db.commit()
        session = requests.Session()
        session.verify = str(sim.ca_bundle)
        session.trust_env = False
        started = time.perf_counter()
        session.headers["Authorization"] = f"Bearer {_token(session, sim)}"
        rows = pages = 0
        for kind, key in KIND_CONTRACTS:
            contract = get_contract(key)
            url: str | None = f"{sim.base_url}/{contract.version}{contract.render_path(None)}"
            params: dict[str, str] | None = contract.build_query(None, None)
            while url:
                body = session.get(url, params=params, timeout=60).json()
                params = None
                now = dt.datetime.now(dt.UTC)
                with (
                    db.cursor() as cur,
                    cur.copy(f"COPY floor_items ({columns}) FROM STDIN") as copy,
                ):
                    for raw in body["value"]:
                        text = json.dumps(raw, sort_keys=True)
                        copy.write_row(
                            (
                                1,
                                1,
                                kind,
                                now,
                                now,
                                raw["id"],
                                raw.get("deviceName")
                                or raw.get("displayName")
                                or raw.get("name")
                                or "",
                                raw.get("operatingSystem") or "",
                                raw.get("osVersion") or "",
                                raw.get("complianceState") or "",
                                raw.get("userPrincipalName") or "",
                                _when(
                                    raw.get("lastSyncDateTime") or raw.get("lastModifiedDateTime")
                                ),
                                raw.get("@odata.type") or "",
                                text,
                                hashlib.sha1(text.encode(), usedforsecurity=False).hexdigest(),
                            )
                        )
                db.commit()
                rows += len(body["value"])
                pages += 1
                url = body.get("@odata.nextLink")
        seconds = time.perf_counter() - started
        count = db.execute(
            "SELECT count(*) FROM floor_items WHERE kind = 'managed_device'"
        ).fetchone()
        assert count is not None
        assert count[0] == devices, count
        db.execute("DROP TABLE floor_items")
        db.commit()
    return {"seconds": seconds, "items": rows, "pages": pages}


def fetch_only(sim: c.Simulator) -> float:
    """Seconds to page the devices without storing anything (the simulator's own share)."""
    import requests

    from tenantatlas.graph.contracts import get_contract

    session = requests.Session()
    session.verify = str(sim.ca_bundle)
    session.trust_env = False
    started = time.perf_counter()
    session.headers["Authorization"] = f"Bearer {_token(session, sim)}"
    contract = get_contract("devices.list")
    url: str | None = f"{sim.base_url}/{contract.version}{contract.render_path(None)}"
    params: dict[str, str] | None = contract.build_query(None, None)
    while url:
        body = session.get(url, params=params, timeout=60).json()
        params = None
        url = body.get("@odata.nextLink")
    return time.perf_counter() - started


def msgraph_sdk(sim: c.Simulator, python: str) -> dict[str, Any]:
    """Microsoft's SDK paging the same endpoint (bench/b3_msgraph_sdk.py in its own venv)."""
    import subprocess

    from tenantatlas.graph.contracts import get_contract

    select = ",".join(get_contract("devices.list").select)
    result = subprocess.run(
        [
            python, str(Path(__file__).with_name("b3_msgraph_sdk.py")), "--base-url", sim.base_url,
            "--ca", str(sim.ca_bundle), "--tenant", TENANT, "--client-id", c.DEMO_CLIENT_ID,
            "--secret", SECRET, "--select", select, "--max-devices", "5000",
        ],
        capture_output=True, text=True, timeout=1800, check=True,
    )  # fmt: skip
    return dict(json.loads(result.stdout.strip().splitlines()[-1]))


# -- orchestration ------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--devices", type=int, default=100_000, help="devices in the tenant (default 100,000)"
    )
    parser.add_argument("--skip-sqlite", action="store_true", help="PostgreSQL only")
    parser.add_argument(
        "--latency",
        type=float,
        default=0.0,
        help="seconds the simulator waits before answering each Graph request (network stand-in)",
    )
    parser.add_argument(
        "--msgraph-python",
        help="python of a throwaway venv with msgraph-sdk: also page the devices with Microsoft's SDK",
    )
    parser.add_argument(
        "--profile", action="store_true", help="cProfile the third sync instead of tracing memory"
    )
    parser.add_argument("--phase", choices=["database", "traced"], help=argparse.SUPPRESS)
    parser.add_argument("--run-id", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--env", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase == "database":
        return phase_database(args)
    if args.phase == "traced":
        return phase_traced(args)

    print(f"B3 inventory sync — {args.devices:,} devices + 31 other items; {c.machine()}")
    tenant = c.sim_tenant(
        TENANT,
        SECRET,
        device_count=args.devices,
        seed=3,
        faults={"slow_seconds": args.latency, "slow_paths": []},
    )
    with (
        tempfile.TemporaryDirectory(prefix="bench-b3-") as tmp,
        c.Simulator(Path(tmp), [tenant]) as sim,
    ):
        work = Path(tmp)
        results: dict[str, dict[str, Any]] = {}
        with c.postgres_database("b3") as pg:
            # The floor runs before and after the product runs (shared machine: bracket them).
            c.setup_django(c.base_env(pg, work, **sim.env()))
            from django.core.management import call_command

            call_command("migrate", verbosity=0)
            floors = [floor(sim, pg, args.devices)]
            targets = [("PostgreSQL", pg)]
            if not args.skip_sqlite:
                targets.append(("SQLite", f"sqlite:///{work / 'b3.sqlite3'}"))
            for name, url in targets:
                env = c.base_env(url, work, **sim.env())
                command = [
                    c.PYTHON,
                    __file__,
                    "--phase",
                    "database",
                    "--devices",
                    str(args.devices),
                    "--env",
                    json.dumps(env),
                ]
                if args.profile:
                    command.append("--profile")
                _, _, output = c.run_measured(command, env, timeout=3600)
                if args.profile:
                    print(output)
                results[name] = json.loads(output.strip().splitlines()[-1])
                print(f"  {name}: done", flush=True)
            floors.append(floor(sim, pg, args.devices))
            fetch_seconds = fetch_only(sim)
            sdk = msgraph_sdk(sim, args.msgraph_python) if args.msgraph_python else None
        floor_result = {
            "seconds": sum(f["seconds"] for f in floors) / len(floors),
            "items": floors[0]["items"],
        }
        floor_rate = floor_result["items"] / floor_result["seconds"]
        rows = [
            [
                "floor: fetch + COPY (PostgreSQL), mean of the runs below",
                floor_result["seconds"],
                floor_rate,
                1.0,
                "",
                "",
                "",
            ],
            [
                "fetch only (devices, no storage)",
                fetch_seconds,
                args.devices / fetch_seconds,
                "",
                "",
                "",
                "",
            ],
            *[
                [f"  floor run {i + 1}", f["seconds"], f["items"] / f["seconds"], "", "", "", ""]
                for i, f in enumerate(floors)
            ],
        ]
        if sdk:
            label = f"msgraph-sdk paging {sdk['devices']:,} devices, no storage"
            rows.append([label, sdk["seconds"], sdk["devices"] / sdk["seconds"], "", "", "", ""])
        for name, result in results.items():
            for label in ("first", "resync", "traced"):
                run = result[label]
                rate = run["items"] / run["seconds"]
                rows.append(
                    [
                        f"TenantAtlas {name}, {dict(first='first sync', resync='re-sync (unchanged)', traced='first sync under tracemalloc')[label]}",
                        run["seconds"],
                        rate,
                        floor_rate / rate if label != "traced" else "",
                        run["rss_mb"],
                        run["rss_mb"] - result["idle_rss_mb"],
                        run.get("tracemalloc_peak_mb", ""),
                    ]
                )
        print()
        print(
            c.table(
                [
                    "path",
                    "seconds",
                    "items/s",
                    "floor ratio (× slower)",
                    "worker peak RSS MB",
                    "RSS growth over idle MB",
                    "tracemalloc peak MB",
                ],
                rows,
            )
        )
        print(
            "\nidle worker RSS: "
            + ", ".join(f"{n} {r['idle_rss_mb']:.0f} MB" for n, r in results.items())
        )
    return None


if __name__ == "__main__":
    sys.exit(main())
