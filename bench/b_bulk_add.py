"""Bulk add: 200 customer tenants for the partner app in one request, then "Check all" twice.

A private database (PostgreSQL, and a SQLite file) gets one workspace with its partner app. In a
fresh process, through Django's test client (middleware, session, CSRF-exempt client, the view,
the rendered result table; everything but the socket), an owner posts one list of 200 tenant
ids with names; then posts "Check all new connections" for the 200 connections it created
(200 connection checks queued on the database queue; no worker runs, nothing calls
Microsoft), then once more (all 200 deduplicated: already running). Reported per database:
seconds and queries of each request, and the rows counted afterwards.

    .venv/bin/python bench/b_bulk_add.py
    .venv/bin/python bench/b_bulk_add.py --tenants 1000 --database postgresql
"""

from __future__ import annotations

import argparse
import json
import re
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import _common as c

SLUG = "bench-bulk"


def _setup() -> None:
    from django.contrib.auth import get_user_model

    from tenantatlas.lib.actors import SYSTEM
    from tenantatlas.providers.credential_input import SecretInput
    from tenantatlas.providers.services.partner_apps import create_partner_app
    from tenantatlas.workspaces.models import Membership, Role, Workspace

    workspace = Workspace.objects.create(name="Bench bulk", slug=SLUG)
    user = get_user_model().objects.create_user(username="bench-bulk", password="x" * 20)
    Membership.objects.create(workspace=workspace, user=user, role=Role.OWNER)
    create_partner_app(
        actor=SYSTEM,
        workspace=workspace,
        display_name="Bench partner app",
        client_id=c.DEMO_CLIENT_ID,
        cloud="global",
        credential=SecretInput(client_id=c.DEMO_CLIENT_ID, client_secret="bench-secret"),
    )


def _timed(client: Any, url: str, data: dict[str, Any]) -> tuple[Any, float, int]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        started = time.perf_counter()
        response = client.post(url, data)
        seconds = time.perf_counter() - started
    assert response.status_code == 200, response.status_code
    return response, seconds, len(queries.captured_queries)


def _count(response: Any, group: str) -> int:
    """A group's count as the summary shows it."""
    found = re.search(rf'data-group="{group}"><strong>(\d+)</strong>', response.content.decode())
    assert found, f"no {group} count on the page"
    return int(found.group(1))


def phase(args: argparse.Namespace) -> None:
    """In a fresh process: a warm-up page, then the three measured requests."""
    c.setup_django(json.loads(args.env))
    from django.contrib.auth import get_user_model
    from django.test import Client

    from tenantatlas.operations.models import OperationRun
    from tenantatlas.providers.models import ProviderConnection

    _setup()
    client = Client()
    client.force_login(get_user_model().objects.get(username="bench-bulk"))
    base = f"/w/{SLUG}/onboarding/bulk/"
    assert client.get(base).status_code == 200  # imports, session, templates
    tenants = [str(uuid.uuid4()) for _ in range(args.tenants)]
    text = "\n".join(f"{t}, Customer {n}" for n, t in enumerate(tenants, 1))
    _, add_s, add_q = _timed(client, base, {"entries": text})
    ids = [str(pk) for pk in ProviderConnection.objects.values_list("pk", flat=True)]
    first, check_s, check_q = _timed(client, base + "check/", {"connection": ids})
    second, again_s, again_q = _timed(client, base + "check/", {"connection": ids})
    result = {
        "tenants": args.tenants,
        "created": len(ids),
        "add_s": add_s,
        "add_queries": add_q,
        "check_s": check_s,
        "check_queries": check_q,
        "started": _count(first, "started"),
        "again_s": again_s,
        "again_queries": again_q,
        "deduplicated": _count(second, "deduplicated"),
        "runs": OperationRun.objects.filter(operation_type="provider.health_check").count(),
    }
    print(json.dumps(result))


class _SqliteFile:
    """A SQLite database file in the temporary directory (used like postgres_database())."""

    def __init__(self, directory: Path) -> None:
        self.url = f"sqlite:///{directory / 'bench.sqlite3'}"

    def __enter__(self) -> str:
        return self.url

    def __exit__(self, *exc: object) -> None:
        return None


def _run(database: str, tenants: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench-bulk-") as tmp:
        private = (
            c.postgres_database("bulk") if database == "postgresql" else _SqliteFile(Path(tmp))
        )
        with private as database_url:
            env = c.base_env(database_url, Path(tmp))
            c.manage("migrate", "--no-input", env=env, timeout=900)
            cmd = [c.PYTHON, __file__, "--phase", "--tenants", str(tenants), "--env"]
            _, _, output = c.run_measured([*cmd, json.dumps(env)], env, timeout=1800)
            return dict(json.loads(output.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tenants", type=int, default=200)
    parser.add_argument(
        "--database", choices=["postgresql", "sqlite", "both"], default="both", help="default both"
    )
    parser.add_argument("--phase", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--env", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        phase(args)
        return
    print(f"B-BULK bulk add of {args.tenants} tenants, then check all twice; {c.machine()}")
    databases = ["postgresql", "sqlite"] if args.database == "both" else [args.database]
    rows = []
    for database in databases:
        r = _run(database, args.tenants)
        print(f"  {database}: {r}", flush=True)
        rows.append(
            [
                database,
                f"{r['created']}/{r['tenants']}",
                r["add_s"],
                r["add_queries"],
                f"{r['started']} started",
                r["check_s"],
                r["check_queries"],
                f"{r['deduplicated']} already running",
                r["again_s"],
                r["runs"],
            ]
        )
    headers = [
        "database",
        "created",
        "bulk add s",
        "queries",
        "check all",
        "s",
        "queries",
        "check all again",
        "s",
        "runs",
    ]
    print(c.table(headers, rows))
    print(f"after: {c.machine()}")


if __name__ == "__main__":
    main()
