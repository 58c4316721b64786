"""B2 — start surface under load: 50 concurrent clients starting operations over HTTP against gunicorn.

Production-like settings (``TENANTATLAS_ENV=production``, PostgreSQL with persistent
connections, gunicorn ``-w 4 --threads 4`` as in docs/deploy.md, keep-alive 30 s, behind a pretend TLS proxy
header) on a private database. Clients use API tokens (``POST /api/v1/runs``). Each round,
50 threads released by one barrier start operations on 10 Entra tenants (five clients per
scope, mixed operation types, so every scope sees a new run, deduplications and scope-busy
refusals at the same instant). Between rounds the active runs are cancelled directly in the
database so the next round starts from free scopes. No worker runs: the start surface only
creates and enqueues.

Latency is measured twice: by the client (includes the client's own Python threads on the
same two cores) and by gunicorn itself (access log ``%(D)s``, server-side microseconds).

    .venv/bin/python bench/b2_start.py
    .venv/bin/python bench/b2_start.py --rounds 5 --clients 20
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import _common as c
import requests

TYPES = ["inventory.sync", "provider.health_check", "compliance.snapshot"]
SCOPES = 10


def setup(clients: int) -> tuple[list[int], list[str]]:
    from django.contrib.auth import get_user_model

    from tenantatlas.accounts.services import create_api_token
    from tenantatlas.providers.credential_input import SecretInput
    from tenantatlas.providers.services.connections import create_connection
    from tenantatlas.workspaces.models import Membership, Role, Workspace

    workspace = Workspace.objects.create(name="Bench", slug="bench")
    connections = []
    tokens = []
    people = []
    for i in range(5):
        user = get_user_model().objects.create_user(username=f"operator{i}", password="x" * 20)
        people.append(Membership.objects.create(workspace=workspace, user=user, role=Role.OWNER))
    for i in range(SCOPES):
        conn = create_connection(
            actor=people[0].user,
            workspace=workspace,
            display_name=f"Tenant {i}",
            entra_tenant_id=f"{i:08d}-0000-4000-8000-000000000000",
            credential=SecretInput(client_id=c.DEMO_CLIENT_ID, client_secret="bench-secret"),
        )
        connections.append(conn.pk)
    for i in range(clients):
        member = people[i % len(people)]
        _, plaintext = create_api_token(
            actor=member.user,
            member=member,
            name=f"bench {i}",
            capabilities=["provider.view", "provider.run"],
        )
        tokens.append(plaintext)
    return connections, tokens


def reset_scopes() -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE operations_operationrun SET status = 'cancelled', finished_at = now() "
            "WHERE status IN ('queued', 'running')"
        )
        return cursor.rowcount


def active_per_scope() -> dict[str, int]:
    from django.db.models import Count

    from tenantatlas.operations.models import OperationRun

    rows = (
        OperationRun.objects.filter(status__in=["queued", "running"])
        .values("scope_key")
        .annotate(n=Count("id"))
    )
    return {row["scope_key"]: row["n"] for row in rows}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--workers", type=int, default=4, help="gunicorn processes")
    parser.add_argument("--threads", type=int, default=4, help="gunicorn threads per process")
    args = parser.parse_args()
    print(
        f"B2 start surface — {args.clients} clients × {args.rounds} rounds, gunicorn -w {args.workers} --threads {args.threads}; {c.machine()}"
    )

    with tempfile.TemporaryDirectory(prefix="bench-b2-") as tmp, c.postgres_database("b2") as pg:
        work = Path(tmp)
        env = c.base_env(
            pg,
            work,
            TENANTATLAS_ENV="production",
            DB_CONN_MAX_AGE="60",
            TENANTATLAS_TASK_TRANSPORT="database",
            ALLOWED_HOSTS="127.0.0.1",
            SECURE_PROXY_SSL_HEADER="true",
        )
        c.setup_django(env)
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        connections, tokens = setup(args.clients)
        port = c.free_port()
        access_log = work / "access.log"
        gunicorn = subprocess.Popen(
            [
                c.PYTHON, "-m", "gunicorn", "tenantatlas.wsgi", "--bind", f"127.0.0.1:{port}",
                "-w", str(args.workers), "--threads", str(args.threads), "--no-control-socket", "--keep-alive", "30",
                "--access-logfile", str(access_log), "--access-logformat", '%(m)s %(U)s %(s)s %(D)s',
            ],
            cwd=c.REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            base = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 60
            while True:
                try:
                    if requests.get(
                        f"{base}/readyz", headers={"X-Forwarded-Proto": "https"}, timeout=2
                    ).ok:
                        break
                except requests.RequestException:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError("gunicorn did not become ready")
                time.sleep(0.2)
            sessions = []
            for token in tokens:
                session = requests.Session()
                session.headers.update(
                    {"Authorization": f"Bearer {token}", "X-Forwarded-Proto": "https"}
                )
                sessions.append(session)
            # Warm-up: every client once (connections, gunicorn threads, Django caches), not counted.
            with ThreadPoolExecutor(max_workers=args.clients) as pool:
                list(
                    pool.map(
                        lambda s: s.get(f"{base}/api/v1/runs", timeout=30).status_code, sessions
                    )
                )
            access_log.write_text("")

            latencies: list[float] = []
            statuses: Counter[int] = Counter()
            duplicates = split_answers = 0
            lock = threading.Lock()
            with ThreadPoolExecutor(max_workers=args.clients) as pool:
                for round_no in range(args.rounds):
                    reset_scopes()
                    barrier = threading.Barrier(args.clients)
                    answers: dict[int, set[int]] = defaultdict(set)

                    def start(
                        i: int,
                        round_no: int = round_no,
                        barrier: threading.Barrier = barrier,
                        answers: dict[int, set[int]] = answers,
                    ) -> None:
                        conn = connections[i % SCOPES]
                        kind = TYPES[(i // SCOPES + round_no) % len(TYPES)]
                        barrier.wait(timeout=60)
                        started = time.perf_counter()
                        try:
                            response = sessions[i].post(
                                f"{base}/api/v1/runs",
                                json={"connection_id": conn, "operation_type": kind},
                                timeout=60,
                            )
                        except requests.ConnectionError:
                            with lock:
                                statuses[0] += 1  # no HTTP answer at all (counted, not hidden)
                            return
                        elapsed = (time.perf_counter() - started) * 1000
                        with lock:
                            latencies.append(elapsed)
                            statuses[response.status_code] += 1
                            if response.status_code in (200, 202, 409):
                                body = response.json()
                                run = (
                                    body["error"]["active_run"]
                                    if response.status_code == 409
                                    else body
                                )
                                answers[conn].add(int(run["id"]))

                    list(pool.map(start, range(args.clients)))
                    per_scope = active_per_scope()
                    duplicates += sum(n - 1 for n in per_scope.values() if n > 1)
                    assert len(per_scope) == min(SCOPES, args.clients), per_scope
                    split_answers += sum(1 for ids in answers.values() if len(ids) != 1)
            time.sleep(0.5)  # let gunicorn flush the access log
            server_ms = [
                int(match.group(1)) / 1000
                for line in access_log.read_text().splitlines()
                if (match := re.fullmatch(r"POST /api/v1/runs \d+ (\d+)", line.strip()))
            ]
        finally:
            gunicorn.terminate()
            gunicorn.wait(timeout=30)
            from django.db import connection

            connection.close()

    total = sum(statuses.values())
    five_xx = sum(n for code, n in statuses.items() if code >= 500)
    print()
    print(
        c.table(
            ["measure", "p50 ms", "p95 ms", "max ms", "requests"],
            [
                [
                    "client-side latency (POST /api/v1/runs)",
                    c.percentile(latencies, 50),
                    c.percentile(latencies, 95),
                    max(latencies),
                    len(latencies),
                ],
                [
                    "server-side time (gunicorn %(D)s)",
                    c.percentile(server_ms, 50),
                    c.percentile(server_ms, 95),
                    max(server_ms),
                    len(server_ms),
                ],
            ],
        )
    )
    print()
    print(
        c.table(
            ["correctness", "value"],
            [
                ["answers 202 (new run)", statuses.get(202, 0)],
                ["answers 200 (already running, same run)", statuses.get(200, 0)],
                ["answers 409 (scope busy, with the active run)", statuses.get(409, 0)],
                ["answers 5xx", five_xx],
                ["connection errors (no HTTP answer)", statuses.get(0, 0)],
                [
                    "other answers",
                    total - sum(statuses.get(s, 0) for s in (0, 200, 202, 409)) - five_xx,
                ],
                ["expected new runs (rounds × scopes)", args.rounds * min(SCOPES, args.clients)],
                ["duplicate active runs in a scope", duplicates],
                ["scopes whose answers named more than one run", split_answers],
            ],
        )
    )
    p95 = c.percentile(server_ms, 95)
    print(
        f"\ngoal p95 ≤ 30 ms (server side): {'met' if p95 <= 30 else 'missed'}; zero duplicates: {'met' if duplicates == 0 else 'missed'}; zero 5xx: {'met' if five_xx == 0 else 'missed'}"
    )


if __name__ == "__main__":
    sys.exit(main())
