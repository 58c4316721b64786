"""B7 — alert latency: from a failed run's end to the webhook receiver's receipt of its alert.

For each transport (the database queue on PostgreSQL, then RQ on Redis at 127.0.0.1:6379 in a
dedicated logical database, flushed before and after) a fresh private database gets a workspace
with its default alert rules (in-app and e-mail to owners and managers) and, on its "Run
failures" rule, a webhook channel to a real HTTPS receiver in this benchmark (signatures
checked, answers at once). ``--workers`` ``manage.py worker`` processes with their default
settings (all queues, the database queue polled every second) and ``reap --loop`` run as in
production. Every run fails (its Entra tenant is unknown to the simulator), so every run raises
an alert event and three deliveries.

Scenarios, ``--runs`` runs each:

- **one at a time**: connection checks in as many streams as there are workers, each stream
  starting its next check once the last one's alert has arrived (the queues stay short);
- **burst of syncs**: that many inventory syncs started at once (the ``bulk`` queue); their
  alerts go to ``interactive``, which a worker serves first;
- **burst of checks**: that many connection checks started at once: alerts wait in the same
  queue as the checks started before them, and go ahead of them (the top priority).

Each scenario's row shows the load average as it ended (the machine may be shared).

Latency: the receiver's clock when the alert's request arrived minus the run's ``finished_at``
(set in the UPDATE of the terminal move, just before its transaction commits, on the same
machine's clock).

    .venv/bin/python bench/b7_alert_latency.py
    .venv/bin/python bench/b7_alert_latency.py --runs 50 --transports database
    .venv/bin/python bench/b7_alert_latency.py --worker-interval 0.2    # poll faster
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import _common as c

GOAL_P95 = 5.0
SCENARIOS = ("one at a time", "burst of syncs", "burst of checks")
CHECK = "provider.health_check"


def phase(args: argparse.Namespace, env: dict[str, str]) -> dict[str, Any]:
    """In a subprocess configured for one database: the workspace, workers, runs, latencies."""
    c.setup_django(env)
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    from tenantatlas.alerts.models import AlertChannel, AlertRule, ChannelKind
    from tenantatlas.alerts.secrets import seal
    from tenantatlas.alerts.tests.receivers import ObservedWebhookReceiver
    from tenantatlas.providers.credential_input import SecretInput
    from tenantatlas.providers.services.connections import create_connection
    from tenantatlas.workspaces.models import Membership, Role, Workspace

    call_command("migrate", verbosity=0)
    user = get_user_model().objects.create_user(
        username="b7", email="b7@example.test", password="x" * 20
    )
    workspace = Workspace.objects.create(name="B7", slug="b7")  # with the default rules
    Membership.objects.create(workspace=workspace, user=user, role=Role.OWNER)
    # The default rules tell owners and managers, but not the person who started the run.
    manager = get_user_model().objects.create_user(
        username="b7-manager", email="b7-manager@example.test", password="x" * 20
    )
    Membership.objects.create(workspace=workspace, user=manager, role=Role.MANAGER)
    connections = [
        create_connection(
            actor=user,
            workspace=workspace,
            display_name=f"Tenant {i}",
            entra_tenant_id=f"b7000000-0000-4000-8000-{i:012d}",  # unknown: every run fails
            cloud="simulator",
            credential=SecretInput(client_id=c.DEMO_CLIENT_ID, client_secret=f"b7-{i}"),
        )
        for i in range(args.runs)
    ]
    workdir = Path(env["TENANTATLAS_DATA_DIR"])
    receiver = ObservedWebhookReceiver(workdir / "receiver-pki", secret="b7-" + "s" * 32)
    with receiver:
        channel = AlertChannel.objects.create(
            workspace=workspace,
            name="Service desk",
            kind=ChannelKind.WEBHOOK,
            url=receiver.url,
            secret_ciphertext=seal(receiver.secret),
        )
        rule = AlertRule.objects.get(workspace=workspace, name="Run failures")
        rule.channels.add(channel)
        process_env = {
            **env,
            "TENANTATLAS_ALERTS_ALLOW_PRIVATE_NETWORKS": "true",
            "TENANTATLAS_ALERTS_CA_FILE": receiver.ca_file,
        }
        worker = ["worker"]
        if args.worker_interval is not None:
            worker += ["--interval", str(args.worker_interval)]
        logs = workdir / f"b7-{env['TENANTATLAS_TASK_TRANSPORT']}-processes.log"
        with logs.open("ab") as log:
            processes = [
                subprocess.Popen(
                    [c.PYTHON, str(c.MANAGE_PY), *command],
                    cwd=c.REPO,
                    env=process_env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
                for command in [worker] * args.workers + [["reap", "--loop"]]
            ]
        try:
            results = Scenarios(user, connections, receiver, rule.pk, channel.pk).run_all(args)
        finally:
            for process in processes:
                process.terminate()
            for process in processes:
                process.wait(timeout=60)
    return results


class Scenarios:
    """Starts the runs of each scenario and measures each run's alert."""

    def __init__(
        self, user: Any, connections: list[Any], receiver: Any, rule_id: int, channel_id: int
    ) -> None:
        self.user, self.connections, self.receiver = user, connections, receiver
        self.rule_id, self.channel_id = rule_id, channel_id

    def start(self, connection: Any, operation: str) -> int:
        from tenantatlas.operations.services import start_operation

        outcome = start_operation(
            actor=self.user, member=None, connection=connection, operation_type=operation
        )
        return int(outcome.run.pk)

    def key(self, run_id: int) -> str | None:
        """The run's webhook delivery key, once the run has ended and raised its event."""
        from tenantatlas.alerts.models import AlertEvent

        event = AlertEvent.objects.filter(key=f"run:{run_id}").values_list("pk", flat=True)
        found = event.first()
        return None if found is None else f"r{self.rule_id}-e{found}-c{self.channel_id}"

    def arrived(self, run_id: int) -> bool:
        key = self.key(run_id)
        return key is not None and key in self.receiver.first_arrivals()

    def run_all(self, args: argparse.Namespace) -> dict[str, Any]:
        # Warm up: the workers have booted and delivered once.
        first = self.start(self.connections[0], "provider.health_check")
        _wait(lambda: self.arrived(first), 300, "the warm-up alert")
        results = {}
        for scenario in SCENARIOS:
            if scenario == "one at a time":
                started = self.one_at_a_time(args.workers)
            else:
                operation = "inventory.sync" if scenario == "burst of syncs" else CHECK
                started = [self.start(connection, operation) for connection in self.connections]
            _wait(lambda ids=started: all(self.arrived(pk) for pk in ids), 1800, scenario)
            results[scenario] = self.measure(started)
            results[scenario]["load"] = os.getloadavg()[0]  # the shared machine, as it ended
        return results

    def one_at_a_time(self, streams: int) -> list[int]:
        """``streams`` runs in flight: each stream starts its next run once the last one's
        alert has arrived."""
        waiting = list(self.connections)
        current: dict[int, int] = {}
        started = []
        while waiting or current:
            for stream in range(streams):
                if stream in current and self.arrived(current[stream]):
                    del current[stream]
                if stream not in current and waiting:
                    current[stream] = self.start(waiting.pop(0), CHECK)
                    started.append(current[stream])
            time.sleep(0.01)
        return started

    def measure(self, run_ids: list[int]) -> dict[str, Any]:
        from tenantatlas.operations.models import OperationRun, RunStatus

        arrivals = self.receiver.first_arrivals()
        runs = OperationRun.objects.filter(pk__in=run_ids)
        latencies = []
        for run in runs:
            key = self.key(run.pk)
            assert key is not None, run.pk
            assert run.finished_at is not None, run.pk
            latencies.append(arrivals[key] - run.finished_at.timestamp())
        return {
            "runs": len(run_ids),
            "failed": runs.filter(status=RunStatus.FAILED).count(),
            "latencies": latencies,
            "stages": self.stages(list(runs), arrivals),
        }

    def stages(self, runs: list[Any], arrivals: dict[str, float]) -> dict[str, list[float]]:
        """Where each alert's time went, from the database queue's task rows (empty on RQ):
        the run's end → its own task done (the completion listeners, in the same worker), →
        the webhook delivery's task taken by a worker, and taken → received."""
        from django_tasks_db.models import DBTaskResult

        from tenantatlas.alerts.models import AlertDelivery

        tasks = DBTaskResult.objects.filter(
            task_path__in=[
                "tenantatlas.operations.worker.execute_run",
                "tenantatlas.alerts.delivery.deliver_alert",
            ]
        ).values_list("task_path", "args_kwargs", "started_at", "finished_at")
        taken: dict[tuple[str, int], Any] = {}
        done: dict[tuple[str, int], Any] = {}
        for path, args_kwargs, started_at, finished_at in tasks:
            ident = (path.rsplit(".", 1)[1], int(args_kwargs["args"][0]))
            if started_at is not None:
                taken[ident] = min(started_at, taken.get(ident, started_at))
            if finished_at is not None:
                done[ident] = max(finished_at, done.get(ident, finished_at))
        stages: dict[str, list[float]] = {"listeners": [], "to taken": [], "taken to received": []}
        for run in runs:
            key = self.key(run.pk)
            delivery = AlertDelivery.objects.filter(key=key).values_list("pk", flat=True).first()
            ended = run.finished_at.timestamp()
            if ("execute_run", run.pk) in done:
                stages["listeners"].append(done["execute_run", run.pk].timestamp() - ended)
            if delivery is not None and ("deliver_alert", delivery) in taken:
                started = taken["deliver_alert", delivery].timestamp()
                stages["to taken"].append(started - ended)
                stages["taken to received"].append(arrivals[str(key)] - started)
        return stages


def _wait(condition: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.05)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=200, help="runs per scenario")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--worker-interval",
        type=float,
        default=None,
        help="the database workers' idle polling interval (default: the worker's own, 1 s)",
    )
    parser.add_argument("--transports", default="database,rq")
    parser.add_argument("--redis-db", type=int, default=14, help="Redis logical database for RQ")
    parser.add_argument("--phase", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase:
        print(json.dumps(phase(args, dict(os.environ))))
        return 0

    import redis

    print(
        f"B7 alert latency — {args.runs} failed runs per scenario, {args.workers} workers "
        f"(idle poll {args.worker_interval or 1:g} s), "
        f"run end → webhook receipt; {c.machine()}",
        flush=True,
    )
    redis_url = f"redis://127.0.0.1:6379/{args.redis_db}"
    rows = []
    stage_rows = []
    met = True
    with (
        tempfile.TemporaryDirectory(prefix="bench-b7-") as tmp,
        c.Simulator(Path(tmp), []) as sim,
    ):
        for transport in args.transports.split(","):
            with c.postgres_database(f"b7_{transport}") as pg:
                env = c.base_env(
                    pg,
                    Path(tmp),
                    TENANTATLAS_TASK_TRANSPORT=transport,
                    REDIS_URL=redis_url,
                    **sim.env(),
                )
                if transport == "rq":
                    redis.Redis.from_url(redis_url).flushdb()
                command = [
                    c.PYTHON, __file__, "--phase", "--runs", str(args.runs),
                    "--workers", str(args.workers),
                ]  # fmt: skip
                if args.worker_interval is not None:
                    command += ["--worker-interval", str(args.worker_interval)]
                print(f"  {transport}: {c.machine()}", flush=True)
                _, _, output = c.run_measured(command, env, timeout=3600)
                if transport == "rq":
                    redis.Redis.from_url(redis_url).flushdb()
            results = json.loads(output.strip().splitlines()[-1])
            for scenario in SCENARIOS:
                result = results[scenario]
                latencies = result["latencies"]
                p95 = c.percentile(latencies, 95)
                met &= p95 <= GOAL_P95
                stages = result["stages"]
                if all(stages.values()):
                    stage_rows.append(
                        [transport, scenario]
                        + [
                            c.percentile(stages[name], pct)
                            for name in ("listeners", "to taken", "taken to received")
                            for pct in (50, 95)
                        ]
                    )
                print(
                    f"  {transport}, {scenario}: p50 {c.percentile(latencies, 50):.2f}s "
                    f"p95 {p95:.2f}s (load {result['load']:.1f})",
                    flush=True,
                )
                rows.append(
                    [
                        transport,
                        scenario,
                        result["runs"],
                        result["failed"],
                        len(latencies),
                        c.percentile(latencies, 50),
                        p95,
                        max(latencies),
                        "yes" if p95 <= GOAL_P95 else "no",
                        result["load"],
                    ]
                )
    if stage_rows:
        print()
        print(
            c.table(
                [
                    "transport",
                    "scenario",
                    "run end → its task done (listeners) p50 s",
                    "p95 s",
                    "run end → delivery taken p50 s",
                    "p95 s",
                    "taken → received p50 s",
                    "p95 s",
                ],
                stage_rows,
            )
        )
    print()
    print(
        c.table(
            [
                "transport",
                "scenario",
                "runs",
                "failed",
                "alerts received",
                "p50 s",
                "p95 s",
                "max s",
                f"p95 ≤ {GOAL_P95:g} s",
                "load average (1 min) at its end",
            ],
            rows,
        )
    )
    print(f"\ngoal p95 ≤ {GOAL_P95:g} s: {'met' if met else 'missed'}; finished; {c.machine()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
