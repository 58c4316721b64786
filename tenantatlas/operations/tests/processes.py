"""Helpers for tests that run real worker processes against the test database.

A subprocess sees the test database through ``DATABASE_URL`` naming it directly (the
SQLite test file or the per-process PostgreSQL test database), the same encryption keys,
and the session simulator as its ``simulator`` cloud. At the end, for in-process tests too: a
simulated tenant (``sim_tenant``) and one run taken to its end (``run_once``).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

from django.conf import settings
from django.db import connection

from tenantatlas.operations.models import TERMINAL_STATUSES, OperationRun
from tenantatlas.operations.services import start_operation
from tenantatlas.operations.worker import execute
from tenantatlas.simulator.graph import READ_ALL_ROLES

MANAGE_PY = Path(settings.BASE_DIR) / "manage.py"


def test_database_url() -> str:
    """A DATABASE_URL that points a subprocess at the database this test is using."""
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{Path(db['NAME']).resolve()}"
    user = quote(db.get("USER") or "", safe="")
    password = f":{quote(db['PASSWORD'], safe='')}" if db.get("PASSWORD") else ""
    credentials = f"{user}{password}@" if user else ""
    port = f":{db['PORT']}" if db.get("PORT") else ""
    return f"postgres://{credentials}{db.get('HOST') or '127.0.0.1'}{port}/{db['NAME']}"


def subprocess_env(simulator: Any = None, **extra: str) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("TENANTATLAS_", "DJANGO_"))
        and key not in {"DATABASE_URL", "REDIS_URL"}
    }
    env.update(
        DATABASE_URL=test_database_url(),
        DJANGO_SETTINGS_MODULE="tenantatlas.settings",
        TENANTATLAS_DATA_DIR=str(settings.DATA_DIR),
        TENANTATLAS_ENCRYPTION_KEYS=",".join(settings.ENCRYPTION_KEYS),
        SECRET_KEY=settings.SECRET_KEY,
        PYTHONUNBUFFERED="1",
    )
    if simulator is not None:
        env["TENANTATLAS_SIMULATOR_URL"] = simulator.base_url
        env["TENANTATLAS_SIMULATOR_CA_BUNDLE"] = str(simulator.ca_bundle)
    env.update(extra)
    return env


def manage(*args: str, env: dict[str, str]) -> subprocess.Popen[bytes]:
    """Start `manage.py <args>`; its output goes to a temporary file (a pipe could fill up)."""
    output = tempfile.TemporaryFile()  # noqa: SIM115 - closed by output_of()
    process = subprocess.Popen(
        [sys.executable, str(MANAGE_PY), *args],
        cwd=settings.BASE_DIR,
        env=env,
        stdout=output,
        stderr=subprocess.STDOUT,
    )
    process.output_file = output  # type: ignore[attr-defined]
    return process


def output_of(process: subprocess.Popen[bytes]) -> str:
    output = process.output_file  # type: ignore[attr-defined]
    output.seek(0)
    return output.read().decode(errors="replace")[-20_000:]


def wait_for[T](
    probe: Callable[[], T],
    *,
    timeout: float,
    what: str,
    interval: float = 0.1,
    diagnose: Callable[[], str] | None = None,
) -> T:
    """Poll until probe() is truthy; fail with `what` (and `diagnose()`) after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            details = f"\n{diagnose()}" if diagnose else ""
            raise AssertionError(f"timed out after {timeout}s waiting for {what}{details}")
        time.sleep(interval)


def check_to_its_end(
    actor: Any, connection: Any, *, timeout: float, diagnose: Callable[[], str]
) -> OperationRun:
    """Queue a connection check on ``connection`` and wait for it to end (workers run it)."""
    queued = start_operation(
        actor=actor, connection=connection, operation_type="provider.health_check"
    ).run
    wait_for(
        lambda: OperationRun.objects.filter(pk=queued.pk, status__in=TERMINAL_STATUSES).exists(),
        timeout=timeout,
        what="the connection check to finish",
        diagnose=diagnose,
    )
    return OperationRun.objects.get(pk=queued.pk)


def stop(process: subprocess.Popen[bytes]) -> str:
    """Terminate (then kill) a process we started; return what it printed."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
    return output_of(process)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PrivateRedis:
    """A redis-server of this test alone, on a free port, that the test may stop and start."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.directory = Path(tempfile.mkdtemp(prefix="tenantatlas-redis-"))
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        self.process = subprocess.Popen(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.directory),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for(self._answers, timeout=15, what=f"redis-server on port {self.port}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=15)
        self.process = None

    def client(self) -> Any:
        import redis

        return redis.Redis.from_url(self.url)

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False


@contextlib.contextmanager
def private_redis() -> Iterator[PrivateRedis]:
    server = PrivateRedis()
    server.start()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(server.directory, ignore_errors=True)


def use_rq(settings: Any, server: PrivateRedis) -> None:
    """Make this test process enqueue on `server` through django-tasks-rq (pytest `settings`)."""
    settings.REDIS_URL = server.url
    settings.RQ_QUEUES = {
        name: {"URL": server.url, "DEFAULT_TIMEOUT": settings.RQ_JOB_TIMEOUT}
        for name in settings.TASK_QUEUES
    }
    settings.TASKS = {
        "default": {
            "BACKEND": "tenantatlas.operations.rq_backend.PrioritisingRQBackend",
            "QUEUES": settings.TASK_QUEUES,
        }
    }


@contextlib.contextmanager
def rq_transport(settings: Any, simulator: Any) -> Iterator[tuple[PrivateRedis, dict[str, str]]]:
    """A private Redis this test process enqueues on, and the environment of a worker on it."""
    with private_redis() as server:
        use_rq(settings, server)
        yield (
            server,
            subprocess_env(simulator, TENANTATLAS_TASK_TRANSPORT="rq", REDIS_URL=server.url),
        )


def child_pids(pid: int) -> list[int]:
    """Direct children of `pid` (Linux /proc)."""
    children: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        with contextlib.suppress(OSError):
            children += [int(child) for child in task.read_text().split()]
    return children


def rq_work_horse(worker_pid: int) -> int | None:
    """The RQ work horse of a worker: the child that leads its own process group."""
    for child in child_pids(worker_pid):
        with contextlib.suppress(OSError):
            if os.getpgid(child) == child:
                return child
    return None


ALL_ROLES = list(READ_ALL_ROLES)


def sim_tenant(tenant_id: str, secret: str, **fields: Any) -> Any:
    """A healthy simulated tenant signing in with the demo app and `secret`."""
    from tenantatlas.simulator.scenarios import AppScenario, SecretSpec, TenantScenario
    from tenantatlas.testing import DEMO_CLIENT_ID

    return TenantScenario(
        tenant_id=tenant_id,
        display_name=fields.pop("display_name", f"Tenant {tenant_id[:8]}"),
        default_domain=fields.pop("default_domain", f"t{tenant_id[:8]}.onmicrosoft.com"),
        apps=[
            AppScenario(
                client_id=DEMO_CLIENT_ID,
                secrets=[SecretSpec(secret)],
                roles=fields.pop("roles", list(ALL_ROLES)),
            )
        ],
        **fields,
    )


def run_once(conn: Any, actor: Any, operation_type: str, capture: Any) -> OperationRun:
    """Start an operation and run it to its end in this process; `capture` is pytest-django's
    `django_capture_on_commit_callbacks`. Returns the run as it ended."""
    with capture(execute=False):
        run = start_operation(
            actor=actor, member=None, connection=conn, operation_type=operation_type
        ).run
    with capture(execute=True):
        execute(run.pk)
    run.refresh_from_db()
    return run
