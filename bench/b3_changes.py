"""B3c — the cost of the change history: B3's re-sync with and without change tracking.

For each database one process runs the real sync handler (``worker.execute`` of an
``inventory.sync`` run, read-ahead, progress and heartbeat included) against its own simulator,
for two connections to the same 100,000-device tenant: **tracked**, the product as it is, and
**untracked**, the same handler with ``upsert_page`` given ``tracking=None``,
``mark_removed(track=False)``, no baseline lookup and no attribution — the sync as it was before
the change history. Each connection keeps its own hashes (normalised fingerprints vs. hashes of
the full payload), so each re-sync compares against what its own path stored.

Phases, each repeated ``--repeats`` times (tracked and untracked alternate who goes first):

1. first sync of both connections (``drift = "none"``);
2. unchanged re-sync, ``drift = "none"``: the tenant serves the very same payloads;
3. the tenant becomes ``drift = "churn"`` with 1 % of devices mutated at every odd epoch
   (``set`` of ``osVersion``, ``managedDeviceOwnerType`` or ``userPrincipalName``); epoch 1, 3, 5
   → re-sync of the tracked connection, which must record exactly that many change rows;
   epoch 2, 4, 6 (churn only: check-in times and free storage move, set-like arrays rotate)
   → unchanged re-sync of both, which must record none.

    .venv/bin/python bench/b3_changes.py                          # 100,000 devices, PostgreSQL and SQLite
    .venv/bin/python bench/b3_changes.py --devices 20000 --skip-sqlite
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import _common as c
from b3_inventory import SECRET, TENANT, _finished, _start

TRACKED, UNTRACKED = "tracked", "untracked"
WARM_TENANT = "b3c0b3c0-1111-4222-8333-444455556666"  # a small tenant synced once first
WARM_DEVICES = 2000


# -- a simulator whose tenant the benchmark moves between syncs --------------------------------


def phase_simulator(args: argparse.Namespace) -> None:
    """Serve the tenant; each stdin line is a command, answered ``ok`` once applied."""
    from tenantatlas.simulator.scenarios import parse_tenant
    from tenantatlas.simulator.server import SimulatorServer

    tenants = [parse_tenant(raw) for raw in json.loads(Path(args.scenario).read_text())]
    server = SimulatorServer(Path(args.state_dir), tenants, port=args.port).start()
    print("ready", server.base_url, flush=True)
    try:
        for line in sys.stdin:
            command = json.loads(line)
            if "scenario" in command:
                server.add_tenant(parse_tenant(command["scenario"]))
            else:
                server.set_generation(TENANT, int(command["generation"]))
            print("ok", flush=True)
    finally:
        server.stop()


class DrivenSimulator:
    """The simulator in its own process (no shared GIL with the sync), moved on command."""

    def __init__(self, workdir: Path, scenarios: list[dict[str, Any]]) -> None:
        scenario_file = workdir / "scenarios.json"
        scenario_file.write_text(json.dumps(scenarios))
        self.ca_bundle = workdir / "simulator" / "ca.pem"
        command = [c.PYTHON, __file__, "--phase", "simulator", "--port", str(c.free_port())]
        command += ["--state-dir", str(workdir / "simulator"), "--scenario", str(scenario_file)]
        self.process = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        self.base_url = self._answer("ready").split()[1]

    def _answer(self, expected: str) -> str:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line.startswith(expected):
            self.stop()
            raise RuntimeError(f"the simulator answered {line!r}, expected {expected!r}")
        return line

    def command(self, **command: Any) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(command) + "\n")
        self.process.stdin.flush()
        self._answer("ok")

    def env(self) -> dict[str, str]:
        return {
            "TENANTATLAS_SIMULATOR_URL": self.base_url,
            "TENANTATLAS_SIMULATOR_CA_BUNDLE": str(self.ca_bundle),
        }

    def stop(self) -> None:
        if self.process.poll() is None:
            assert self.process.stdin is not None
            self.process.stdin.close()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def scenario(devices: int, drift: str, mutated_epochs: int = 0) -> dict[str, Any]:
    """The tenant (B3's seed); with ``mutated_epochs``, 1 % of devices changed at epochs 1, 3, …"""
    from tenantatlas.simulator.data import TenantData
    from tenantatlas.simulator.scenarios import parse_tenant

    tenant = c.sim_tenant(TENANT, SECRET, device_count=devices, seed=3, drift="none")
    data = TenantData(parse_tenant(json.loads(json.dumps(tenant))), dt.datetime.now(dt.UTC))
    per_epoch, mutations = max(1, devices // 100), []
    stride = devices // per_epoch
    for round_ in range(mutated_epochs):
        epoch = 2 * round_ + 1
        for i in range(per_epoch):
            index = i * stride + round_  # a different 1 % each time
            path, value = _mutation(data.device(index), i, epoch)
            mutations.append(
                {"epoch": epoch, "kind": "set", "collection": "managedDevices", "index": index,
                 "path": path, "value": value}
            )  # fmt: skip
    return {**tenant, "drift": drift, "mutations": mutations}


def _mutation(device: dict[str, Any], i: int, epoch: int) -> tuple[str, Any]:
    """A tracked device field and a value it does not have yet."""
    if i % 3 == 0:
        owner = device["managedDeviceOwnerType"]
        return "managedDeviceOwnerType", "personal" if owner == "company" else "company"
    if i % 3 == 1:
        return "userPrincipalName", f"bench.user{i}.e{epoch}@b3c.onmicrosoft.com"
    return "osVersion", f"99.{epoch}.{i}"


# -- the syncs, inside one database ------------------------------------------------------------


def _scope(slug: str, tenant_id: str) -> tuple[Any, Any]:
    """A workspace with its owner and one connection to `tenant_id` (as B3 sets them up)."""
    from django.contrib.auth import get_user_model

    from tenantatlas.providers.credential_input import SecretInput
    from tenantatlas.providers.services.connections import create_connection
    from tenantatlas.workspaces.models import Membership, Role, Workspace

    user = get_user_model().objects.create_user(username=f"bench-{slug}", password="x" * 20)
    workspace = Workspace.objects.create(name=f"Bench {slug}", slug=slug)
    Membership.objects.create(workspace=workspace, user=user, role=Role.OWNER)
    conn = create_connection(
        actor=user,
        workspace=workspace,
        display_name="Bench tenant",
        entra_tenant_id=tenant_id,
        cloud="simulator",
        credential=SecretInput(client_id=c.DEMO_CLIENT_ID, client_secret=SECRET),
    )
    return user, conn


@contextlib.contextmanager
def without_tracking() -> Iterator[None]:
    """The sync handler as before the change history: every page upserted without `tracking`."""
    from tenantatlas.inventory import services
    from tenantatlas.providers.microsoft import inventory as handler

    saved = (handler.upsert_page, handler.mark_removed, handler.has_baseline)
    saved_attribution = handler.attribute_changes

    def upsert_page(seen_by: Any, kind: str, items: Any, counts: Any, tracking: Any = None) -> None:
        services.upsert_page(seen_by, kind, items, counts, None)

    def mark_removed(seen_by: Any, kind: str, *, track: bool = False) -> int:
        return services.mark_removed(seen_by, kind)

    handler.upsert_page, handler.mark_removed = upsert_page, mark_removed
    handler.has_baseline = lambda connection_id, kind: True
    handler.attribute_changes = lambda client, run_id: {}
    try:
        yield
    finally:
        handler.upsert_page, handler.mark_removed, handler.has_baseline = saved
        handler.attribute_changes = saved_attribution


def sync(scope: Any, mode: str, devices: int, profile: bool = False) -> dict[str, Any]:
    """One inventory sync run of `scope` executed here; its figures and the change rows it wrote."""
    from django.db import reset_queries

    from tenantatlas.inventory.models import ItemChange
    from tenantatlas.operations.worker import execute

    reset_queries()
    run = _start(*scope)
    guard = without_tracking() if mode == UNTRACKED else contextlib.nullcontext()
    started, cpu = time.perf_counter(), time.process_time()
    with guard:
        if profile:
            import cProfile
            import pstats

            profiler = cProfile.Profile()
            profiler.runcall(execute, run.pk)
            pstats.Stats(profiler, stream=sys.stderr).sort_stats("tottime").print_stats(30)
        else:
            execute(run.pk)
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    result = _finished(run, devices)
    devices_counts = run.summary_counts["managed_device"]
    return {
        **result,
        "wall": wall,
        "cpu": cpu,  # this process (handler and read-ahead thread), not PostgreSQL's
        "change_rows": ItemChange.objects.filter(run_id=run.pk).count(),
        "devices_updated": devices_counts["updated"],
        "others_updated": sum(
            counts.get("updated", 0)
            for kind, counts in run.summary_counts.items()
            if kind != "managed_device"
        ),
    }


def _pair(scopes: dict[str, Any], order: int, devices: int) -> dict[str, dict[str, Any]]:
    modes = (TRACKED, UNTRACKED) if order % 2 == 0 else (UNTRACKED, TRACKED)
    return {mode: sync(scopes[mode], mode, devices) for mode in modes}


def phase_database(args: argparse.Namespace) -> None:
    """Everything measured on one database; progress on stderr, figures as JSON on stdout."""
    work = Path(args.work)
    warm = c.sim_tenant(WARM_TENANT, SECRET, device_count=WARM_DEVICES, seed=5, drift="none")
    sim = DrivenSimulator(work, [scenario(args.devices, "none"), warm])
    try:
        c.setup_django({**c.base_env(args.database_url, work), **sim.env()})
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        # Imports, the first TLS session and token, caches: paid once, before any timing.
        sync(_scope("b3c-warm", WARM_TENANT), TRACKED, WARM_DEVICES)
        sync(_scope("b3c-warm-u", WARM_TENANT), UNTRACKED, WARM_DEVICES)
        scopes = {
            TRACKED: _scope("b3c-tracked", TENANT),
            UNTRACKED: _scope("b3c-untracked", TENANT),
        }
        runs: dict[str, list[dict[str, Any]]] = {}

        def note(phase: str, mode: str, figures: dict[str, Any]) -> None:
            runs.setdefault(f"{phase}/{mode}", []).append(figures)
            print(f"    {phase:8} {mode:9} {figures['seconds']:7.2f}s  changes "
                  f"{figures['change_rows']:>6}  devices updated {figures['devices_updated']:>7} "
                  f"others {figures['others_updated']:>3} cpu {figures['cpu']:6.2f}s",
                  file=sys.stderr, flush=True)  # fmt: skip

        for mode, figures in _pair(scopes, 0, args.devices).items():
            note("first", mode, figures)
        for order in range(args.repeats):
            for mode, figures in _pair(scopes, order + 1, args.devices).items():
                note("none", mode, figures)
        mutated = scenario(args.devices, "churn", mutated_epochs=args.repeats)
        sim.command(scenario=mutated)
        for round_ in range(args.repeats):
            sim.command(generation=2 * round_ + 1)
            profile = args.profile and round_ == args.repeats - 1
            note("changed", TRACKED, sync(scopes[TRACKED], TRACKED, args.devices, profile))
            sim.command(generation=2 * round_ + 2)
            for mode, figures in _pair(scopes, round_, args.devices).items():
                note("churn", mode, figures)
        print(json.dumps({"runs": runs, "declared": len(mutated["mutations"]) // args.repeats}))
    finally:
        sim.stop()


# -- figures -----------------------------------------------------------------------------------

LABELS = {
    "first/untracked": "first sync, no tracking (as before)",
    "first/tracked": "first sync, tracking (baseline: no rows)",
    "none/untracked": "unchanged re-sync, drift=none, no tracking",
    "none/tracked": "unchanged re-sync, drift=none, tracking",
    "churn/untracked": "unchanged re-sync, drift=churn, no tracking",
    "churn/tracked": "unchanged re-sync, drift=churn, tracking",
    "changed/tracked": "1 % of devices changed (+churn), tracking",
}


UNCHANGED = ("first/tracked", "none/tracked", "churn/tracked", "none/untracked", "churn/untracked")


def _spread(values: list[float]) -> str:
    spread = (max(values) - min(values)) / c.median(values) * 100
    return f"{min(values):.2f}–{max(values):.2f} (±{spread / 2:.0f} %)"


def _reference(key: str) -> str | None:
    """What a path is compared with: its untracked twin; the changed re-sync, the unchanged one."""
    phase, mode = key.split("/")
    if phase == "changed":
        return "churn/tracked"
    return f"{phase}/untracked" if mode == TRACKED else None


def _median(runs: dict[str, Any], key: str, figure: str = "seconds") -> float:
    return c.median([r[figure] for r in runs[key]])


def _paired(runs: dict[str, Any], key: str, reference: str) -> list[float]:
    """Each repetition's ratio to its reference (the two ran back to back)."""
    pairs = zip(runs[key], runs[reference], strict=True)
    return [t["seconds"] / u["seconds"] for t, u in pairs]


def report(name: str, result: dict[str, Any]) -> str:
    runs, declared = result["runs"], result["declared"]
    rows = []
    for key, label in LABELS.items():
        seconds = [r["seconds"] for r in runs[key]]
        ref = _reference(key)
        paired = _paired(runs, key, ref) if ref else []
        rows.append([
            label, len(seconds), c.median(seconds), _spread(seconds),
            result["items"] / c.median(seconds),
            _median(runs, key) / _median(runs, ref) if ref else "",
            f"{min(paired):.2f} / {c.median(paired):.2f} / {max(paired):.2f}" if paired else "",
            _median(runs, key, "cpu"),
            _median(runs, key, "cpu") / _median(runs, ref, "cpu") if ref else "",
            " / ".join(f"{r['change_rows']:,}" for r in runs[key]),
            " / ".join(f"{r['devices_updated']:,}" for r in runs[key]),
        ])  # fmt: skip
    headers = [
        f"{name}: path", "n", "median s", "min–max s", "items/s", "× reference (medians)",
        "× reference paired: min / median / max", "sync process CPU s", "CPU × reference",
        "change rows", "devices updated",
    ]  # fmt: skip
    churn, none = (
        c.median(_paired(runs, f"{phase}/tracked", f"{phase}/untracked"))
        for phase in ("churn", "none")
    )
    unchanged = [r["change_rows"] for key in UNCHANGED for r in runs[key]]
    changed = [r["change_rows"] for r in runs["changed/tracked"]]
    changed_ratio = _median(runs, "changed/tracked") / _median(runs, "churn/tracked")
    return "\n".join([
        "reference: a tracked path's untracked twin; the changed re-sync's, the unchanged tracked "
        "re-sync (drift=churn). Paired: each repetition against the run next to it.",
        c.table(headers, rows),
        "",
        f"{name}: unchanged re-sync with tracking ≤ 1.2× without (median of paired ratios): "
        f"drift=churn {churn:.2f}× {_verdict(churn <= 1.2)}, "
        f"drift=none {none:.2f}× {_verdict(none <= 1.2)}; "
        f"no change rows: {_verdict(not any(unchanged))} ({sum(unchanged)} rows)",
        f"{name}: 1 % changed: {declared:,} mutations declared per epoch, change rows "
        + " / ".join(f"{n:,}" for n in changed)
        + f": {_verdict(changed == [declared] * len(changed))}; "
        f"time × the unchanged tracked re-sync (drift=churn): {changed_ratio:.2f}",
    ])  # fmt: skip


def _verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def check(result: dict[str, Any]) -> None:
    """The acceptance assertions on rows: none for unchanged re-syncs, exactly the declared ones."""
    runs, declared = result["runs"], result["declared"]
    for key in UNCHANGED:
        rows = [r["change_rows"] for r in runs[key]]
        assert rows == [0] * len(rows), (key, rows)
    rows = [r["change_rows"] for r in runs["changed/tracked"]]
    assert rows == [declared] * len(rows), ("changed", declared, rows)
    assert all(r["devices_updated"] == declared for r in runs["changed/tracked"])


# -- orchestration ------------------------------------------------------------------------------


def _database_run(args: argparse.Namespace, name: str, url: str, work: Path) -> dict[str, Any]:
    command = [
        c.PYTHON,
        __file__,
        "--phase",
        "database",
        "--database-url",
        url,
        "--work",
        str(work),
    ]
    command += ["--devices", str(args.devices), "--repeats", str(args.repeats)]
    if args.profile:
        command.append("--profile")
    print(f"  {name} ({c.machine()})", flush=True)
    work.mkdir(parents=True, exist_ok=True)
    env = c.base_env(url, work)
    output = subprocess.run(
        command, cwd=c.REPO, env=env, stdout=subprocess.PIPE, text=True, timeout=7200, check=True
    ).stdout
    result: dict[str, Any] = json.loads(output.strip().splitlines()[-1])
    result["items"] = result["runs"]["first/tracked"][0]["items"]
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--devices", type=int, default=100_000, help="default 100,000")
    parser.add_argument("--repeats", type=int, default=3, help="timings per path (default 3)")
    parser.add_argument("--skip-sqlite", action="store_true", help="PostgreSQL only")
    parser.add_argument("--profile", action="store_true", help="cProfile the last changed re-sync")
    parser.add_argument("--phase", choices=["database", "simulator"], help=argparse.SUPPRESS)
    for hidden in ("--database-url", "--work", "--state-dir", "--scenario"):
        parser.add_argument(hidden, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase == "simulator":
        return phase_simulator(args)
    if args.phase == "database":
        return phase_database(args)

    print(
        f"B3c change history cost — {args.devices:,} devices + 31 other items, "
        f"{args.repeats} timings per path; {c.machine()}",
        flush=True,
    )
    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-b3c-") as tmp:
        with c.postgres_database("b3c") as pg:
            results["PostgreSQL"] = _database_run(args, "PostgreSQL", pg, Path(tmp) / "pg")
        if not args.skip_sqlite:
            url = f"sqlite:///{Path(tmp) / 'b3c.sqlite3'}"
            results["SQLite"] = _database_run(args, "SQLite", url, Path(tmp) / "sqlite")
    for name, result in results.items():
        print()
        print(report(name, result))
    print(f"\nfinished; {c.machine()}")
    for result in results.values():
        check(result)


if __name__ == "__main__":
    main()
