"""B4 — throttled tenant: time lost to throttling vs the Retry-After Microsoft asked for, and requests sent.

Two tenants of the same size sync one after the other in a real worker process
(``manage.py worker --batch``) on a private PostgreSQL database: a calm one (the baseline) and
a throttled one. The simulator runs in this process so its request log counts exactly what
reached it. Ideal behaviour: the throttled sync takes the baseline time plus the sum of the
``Retry-After`` values it was given (no more: it does not over-wait; no less: it does not
hammer), and sends exactly the baseline requests plus one per throttled answer.

    .venv/bin/python bench/b4_throttle.py
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import Any

import _common as c

CALM = "b4000000-0000-4000-8000-00000000ca1e"
DEVICES_PATH = "/v1.0/deviceManagement/managedDevices"
CASES: list[tuple[str, str, dict[str, Any], float]] = [
    (
        "3 × 429 Retry-After 1.5 then 2 × 503 Retry-After 1 (devices)",
        "b4000000-0000-4000-8000-0000000000a1",
        {
            "throttle": {"count": 3, "status": 429, "retry_after": "1.5", "paths": [DEVICES_PATH]},
            "server_errors": {
                "count": 2,
                "status": 503,
                "retry_after": "1",
                "paths": [DEVICES_PATH],
            },
        },
        3 * 1.5 + 2 * 1,
    ),
    (
        "5 × 429 Retry-After 2 (every Intune path)",
        "b4000000-0000-4000-8000-0000000000a2",
        {
            "throttle": {
                "count": 5,
                "status": 429,
                "retry_after": "2",
                "paths": ["/v1.0/deviceManagement"],
            }
        },
        5 * 2.0,
    ),
    (
        "4 × 429 Retry-After 0.75 (configuration policies, beta)",
        "b4000000-0000-4000-8000-0000000000a3",
        {
            "throttle": {
                "count": 4,
                "status": 429,
                "retry_after": "0.75",
                "paths": ["/beta/deviceManagement"],
            }
        },
        4 * 0.75,
    ),
]


def sync(slug: str, tenant_id: str, secret: str, sim: Any, env: dict[str, str]) -> dict[str, Any]:
    from django.contrib.auth import get_user_model

    from tenantatlas.operations.services import start_operation
    from tenantatlas.providers.credential_input import SecretInput
    from tenantatlas.providers.services.connections import create_connection
    from tenantatlas.workspaces.models import Membership, Role, Workspace

    user = get_user_model().objects.create_user(username=slug, password="x" * 20)
    workspace = Workspace.objects.create(name=slug, slug=slug)
    Membership.objects.create(workspace=workspace, user=user, role=Role.OWNER)
    conn = create_connection(
        actor=user,
        workspace=workspace,
        display_name=slug,
        entra_tenant_id=tenant_id,
        cloud="simulator",
        credential=SecretInput(client_id=c.DEMO_CLIENT_ID, client_secret=secret),
    )
    run = start_operation(
        actor=user, member=None, connection=conn, operation_type="inventory.sync"
    ).run
    sim.clear_requests()
    c.run_measured([c.PYTHON, str(c.MANAGE_PY), "worker", "--batch"], env, timeout=600)
    run.refresh_from_db()
    graph = [
        r
        for r in sim.requests
        if r.kind == "graph" and r.tenant_id and r.tenant_id.lower() == tenant_id
    ]
    return {
        "status": run.status,
        "reason": run.reason_code,
        "seconds": (run.finished_at - run.started_at).total_seconds(),
        "requests": len(graph),
        "faulted": sum(1 for r in graph if r.status in (429, 500, 502, 503, 504)),
        "waited": sum(
            v.get("wait_seconds", 0)
            for v in run.context.get("graph", {}).get("by_contract", {}).values()
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--devices", type=int, default=5000)
    args = parser.parse_args()
    print(f"B4 throttled tenant — {args.devices:,} devices per tenant; {c.machine()}")
    with tempfile.TemporaryDirectory(prefix="bench-b4-") as tmp, c.postgres_database("b4") as pg:
        from tenantatlas.simulator.scenarios import parse_tenant
        from tenantatlas.simulator.server import SimulatorServer

        tenants = [c.sim_tenant(CALM, "calm-secret", device_count=args.devices, seed=4)]
        tenants += [
            c.sim_tenant(tid, f"secret-{i}", device_count=args.devices, seed=4, faults=faults)
            for i, (_, tid, faults, _) in enumerate(CASES)
        ]
        sim = SimulatorServer(Path(tmp) / "simulator", [parse_tenant(t) for t in tenants]).start()
        try:
            env = c.base_env(
                pg,
                Path(tmp),
                TENANTATLAS_SIMULATOR_URL=sim.base_url,
                TENANTATLAS_SIMULATOR_CA_BUNDLE=str(sim.ca_bundle),
            )
            c.setup_django(env)
            from django.core.management import call_command

            call_command("migrate", verbosity=0)
            base = sync("calm", CALM, "calm-secret", sim, env)
            rows = []
            for i, (label, tid, _, retry_after_sum) in enumerate(CASES):
                result = sync(f"throttled{i}", tid, f"secret-{i}", sim, env)
                lost = result["seconds"] - base["seconds"]
                extra = result["requests"] - base["requests"] - result["faulted"]
                rows.append(
                    [
                        label,
                        f"{result['status']} {result['reason']}".strip(),
                        result["seconds"],
                        retry_after_sum,
                        lost,
                        lost / retry_after_sum,
                        result["waited"],
                        result["requests"],
                        base["requests"] + result["faulted"],
                        extra,
                    ]
                )
        finally:
            sim.stop()
    print(
        f"\nbaseline (calm tenant): {base['status']}, {base['seconds']:.2f}s, {base['requests']} Graph requests\n"
    )
    print(
        c.table(
            [
                "throttling",
                "run",
                "sync s",
                "Σ Retry-After s",
                "time lost vs baseline s",
                "lost / Σ Retry-After",
                "client's recorded waits s",
                "requests sent",
                "minimum needed",
                "extra requests",
            ],
            rows,
        )
    )
    print(
        "\nminimum needed = the calm tenant's requests + one per throttled or 5xx answer (each must be retried once)."
    )


if __name__ == "__main__":
    sys.exit(main())
