"""Shared plumbing for the benchmarks: private databases, a simulator process, figures, tables.

Every benchmark creates what it measures and removes it afterwards: a dedicated PostgreSQL
database (``bench_<name>_<pid>``, dropped at the end) and/or a SQLite file in a temporary
directory, and a simulator subprocess on a free loopback port. Nothing leaves the machine.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import psycopg
from cryptography.fernet import Fernet

REPO = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
MANAGE_PY = REPO / "manage.py"
PG_ADMIN_URL = os.environ.get("BENCH_PG_ADMIN_URL", "postgres://postgres@127.0.0.1:5432/postgres")
DEMO_CLIENT_ID = "0b5e2c4d-9a1f-4e3b-8c7d-6f5a4b3c2d1e"
ALL_ROLES = [
    "Organization.Read.All",
    "DeviceManagementManagedDevices.Read.All",
    "DeviceManagementConfiguration.Read.All",
    "DeviceManagementApps.Read.All",
    "DeviceManagementServiceConfig.Read.All",
]

if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def pg_url(database: str) -> str:
    return PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + database


@contextlib.contextmanager
def postgres_database(name: str) -> Iterator[str]:
    """A fresh PostgreSQL database for this benchmark run; dropped afterwards."""
    database = f"bench_{name}_{os.getpid()}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{database}"')
    try:
        yield pg_url(database)
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


def base_env(database_url: str, data_dir: Path, **extra: str) -> dict[str, str]:
    """Environment for TenantAtlas processes of this benchmark (same keys everywhere)."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("TENANTATLAS_", "DJANGO_"))
        and key not in {"DATABASE_URL", "REDIS_URL", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"}
        and key != "PYTHONDONTWRITEBYTECODE"
    }
    # Compiled bytecode as any installation has it, kept outside the source tree.
    env["PYTHONPYCACHEPREFIX"] = str(Path(tempfile.gettempdir()) / "tenantatlas-bench-pycache")
    keys_file = data_dir / "bench-keys.json"
    if not keys_file.exists():
        keys_file.write_text(
            json.dumps(
                {"secret": Fernet.generate_key().decode(), "fernet": Fernet.generate_key().decode()}
            )
        )
    keys = json.loads(keys_file.read_text())
    env.update(
        DATABASE_URL=database_url,
        DJANGO_SETTINGS_MODULE="tenantatlas.settings",
        TENANTATLAS_DATA_DIR=str(data_dir),
        TENANTATLAS_ENCRYPTION_KEYS=keys["fernet"],
        SECRET_KEY=keys["secret"],
        PYTHONUNBUFFERED="1",
        LOG_LEVEL="WARNING",
    )
    env.update(extra)
    return env


def setup_django(env: dict[str, str]) -> None:
    """Configure Django in this process from a benchmark environment."""
    os.environ.update(env)
    import django

    django.setup()


def manage(*args: str, env: dict[str, str], timeout: float = 300) -> str:
    """Run manage.py to completion; fail loudly with its output."""
    result = subprocess.run(
        [PYTHON, str(MANAGE_PY), *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout


def run_measured(
    cmd: Sequence[str], env: dict[str, str], timeout: float
) -> tuple[float, float, str]:
    """Run a command to completion: (wall seconds, its own peak RSS in MB, output)."""
    output = tempfile.TemporaryFile()  # noqa: SIM115 - closed below
    started = time.perf_counter()
    process = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=output, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + timeout
    while True:
        pid, status, usage = os.wait4(process.pid, os.WNOHANG)
        if pid:
            break
        if time.monotonic() > deadline:
            process.kill()
            os.wait4(process.pid, 0)
            raise RuntimeError(f"{cmd} did not finish in {timeout}s")
        time.sleep(0.05)
    seconds = time.perf_counter() - started
    output.seek(0)
    text = output.read().decode(errors="replace")
    output.close()
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{cmd} failed:\n{text[-5000:]}")
    return seconds, usage.ru_maxrss / 1024, text


def sim_tenant(tenant_id: str, secret: str, **fields: Any) -> dict[str, Any]:
    """A healthy simulated tenant (TOML-shaped) signing in with the demo app and `secret`."""
    return {
        "tenant_id": tenant_id,
        "display_name": fields.pop("display_name", f"Bench {tenant_id[:8]}"),
        "default_domain": fields.pop("default_domain", f"b{tenant_id[:8]}.onmicrosoft.com"),
        "apps": [
            {
                "client_id": DEMO_CLIENT_ID,
                "secrets": [{"value": secret}],
                "roles": fields.pop("roles", list(ALL_ROLES)),
            }
        ],
        **fields,
    }


class Simulator:
    """The simulator in its own process (so it does not share a GIL with what is measured)."""

    def __init__(
        self,
        workdir: Path,
        tenants: list[dict[str, Any]],
        limits: dict[str, Any] | None = None,
    ) -> None:
        """``limits``: a ``[limits]`` table (simulator/limits.py) to enforce; None: off."""
        self.state_dir = workdir / "simulator"
        scenarios = workdir / "scenarios.json"
        scenarios.write_text(json.dumps(tenants))
        extra = []
        if limits is not None:
            (workdir / "limits.json").write_text(json.dumps(limits))
            extra.append(str(workdir / "limits.json"))
        self.port = free_port()
        self.process = subprocess.Popen(
            [
                PYTHON,
                str(REPO / "bench" / "_simulator.py"),
                str(self.port),
                str(self.state_dir),
                str(scenarios),
                *extra,
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline().split()
        if not line or line[0] != "ready":
            self.stop()
            raise RuntimeError("the simulator did not start")
        self.base_url = line[1]
        self.ca_bundle = self.state_dir / "ca.pem"

    def env(self) -> dict[str, str]:
        return {
            "TENANTATLAS_SIMULATOR_URL": self.base_url,
            "TENANTATLAS_SIMULATOR_CA_BUNDLE": str(self.ca_bundle),
        }

    def usage(self) -> dict[tuple[str, str], tuple[int, int, int]]:
        """(client id, tenant id) → (Graph requests, 429s, 429s of the limits), so far."""
        assert self.process.stdin is not None
        assert self.process.stdout is not None
        self.process.stdin.write("usage\n")
        self.process.stdin.flush()
        raw = json.loads(self.process.stdout.readline())
        return {tuple(pair.split()): tuple(counts) for pair, counts in raw.items()}  # type: ignore[misc]

    def stop(self) -> None:
        if self.process.poll() is None:
            assert self.process.stdin is not None
            self.process.stdin.close()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)

    def __enter__(self) -> Simulator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def percentile(values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile (pct in 0..100)."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(1, min(len(ordered), round(pct / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A Markdown table (readable in a terminal, pasteable into the docs)."""
    cells = [[str(h) for h in headers]] + [[_fmt(v) for v in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = [
        "| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |"
        for row in cells
    ]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        if value >= 100:
            return f"{value:,.0f}"
        return f"{value:.2f}" if value >= 1 else f"{value:.3f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def machine() -> str:
    load = os.getloadavg()
    return (
        f"{os.cpu_count()} CPUs, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}, "
        f"Python {sys.version.split()[0]}, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}"
    )


@contextlib.contextmanager
def worker_processes(commands: list[list[str]], env: dict[str, str]) -> Iterator[None]:
    """Worker processes, each up and polling before this yields; stopped afterwards."""
    outputs = [tempfile.TemporaryFile() for _ in commands]  # noqa: SIM115 - closed below
    processes = [
        subprocess.Popen(command, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)
        for command, out in zip(commands, outputs, strict=True)
    ]

    def said(out: Any) -> str:
        out.seek(0)
        return out.read().decode(errors="replace")

    try:
        deadline = time.monotonic() + 180
        while not all("Starting worker" in said(o) or " serves [" in said(o) for o in outputs):
            if time.monotonic() > deadline or any(p.poll() is not None for p in processes):
                raise RuntimeError(f"the workers did not start:\n{said(outputs[0])[-3000:]}")
            time.sleep(0.2)
        yield
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for out in outputs:
            out.close()
