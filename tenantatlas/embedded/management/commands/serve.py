"""The embedded product in one command: migrate, simulator, demo data, workers, reaper and web."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser


def _wait_for_port(host: str, port: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.2)
    return False


# Worker processes when neither --workers nor TENANTATLAS_WORKERS says: one per CPU, within these
# bounds. Two, so that one never takes a sync (on the database queue a single worker would
# still run checks beside a sync, in its interactive lane; an RQ worker runs one job at a time);
# eight, as each worker is a process of its own and SQLite takes one writer at a time.
MIN_WORKERS = 2
MAX_WORKERS = 8


def worker_count(requested: int | None = None, cpus: int | None = None) -> int:
    """--workers, else TENANTATLAS_WORKERS, else one per CPU (MIN_WORKERS to MAX_WORKERS)."""
    if requested:
        return requested
    if settings.SERVE_WORKERS:
        return int(settings.SERVE_WORKERS)
    return max(MIN_WORKERS, min(cpus or os.cpu_count() or 1, MAX_WORKERS))


def worker_queues(count: int) -> list[list[str]]:
    """The queues of each worker, most urgent first. A quarter of them (at least one) serve
    only the interactive queue, so a connection check, a snapshot or an alert never waits
    behind syncs; the others take syncs and any interactive work that is waiting first."""
    interactive, everything = [settings.TASK_QUEUE_INTERACTIVE], list(settings.TASK_QUEUES)
    if count == 1:
        return [everything]
    reserved = max(1, count // 4)
    return [interactive] * reserved + [everything] * (count - reserved)


def _gunicorn(host: str, port: int, web_workers: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "gunicorn",
        "tenantatlas.wsgi",
        "--bind",
        f"{host}:{port}",
        "--workers",
        str(web_workers),
        "--threads",
        "4",
        # No gunicorn access log: the product's middleware writes one sanitized line per
        # request with its request id and duration (docs/operations.md).
        "--no-control-socket",
    ]


class Command(BaseCommand):
    help = (
        "Start TenantAtlas on this machine: applies migrations, starts the bundled Microsoft "
        "simulator and seeds the demo workspace (unless --no-demo), then runs N workers, the "
        "reaper and the web server (gunicorn) until Ctrl-C."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument(
            "--workers",
            type=int,
            default=None,
            help=(
                "Worker processes (default: TENANTATLAS_WORKERS, else one per CPU, "
                f"{MIN_WORKERS} to {MAX_WORKERS}); a quarter of them, at least one, never take "
                "an inventory sync."
            ),
        )
        parser.add_argument("--web-workers", type=int, default=2, help="gunicorn processes.")
        parser.add_argument("--no-demo", action="store_true", help="No simulator, no demo data.")
        parser.add_argument("--simulator-port", type=int, default=8443)

    def handle(self, *args: Any, **options: Any) -> None:
        if options["workers"] is not None and options["workers"] < 1:
            raise CommandError("--workers must be 1 or more.")
        self.manage = [sys.executable, str(Path(settings.BASE_DIR) / "manage.py")]
        self.env = os.environ.copy()
        self.children: list[subprocess.Popen[bytes]] = []
        call_command("migrate", interactive=False, verbosity=0)
        self.stdout.write("database migrated")
        if not options["no_demo"]:
            self._start_simulator_and_demo(options["simulator_port"])
        self._start_workers(options["workers"])
        # The reaper loops every 15 s: a lost run ends within a minute.
        self._spawn("reaper", [*self.manage, "reap", "--loop"])
        host, port = options["host"], options["port"]
        self._spawn("web", _gunicorn(host, port, options["web_workers"]))
        self._wait_or_stop(host, port, "The web server did not start (is the port in use?).")
        self.stdout.write(self.style.SUCCESS(f"TenantAtlas is running on http://{host}:{port}/"))
        if settings.ENCRYPTION_KEYS_FILE:
            self.stdout.write(
                f"Credential encryption key: {settings.ENCRYPTION_KEYS_FILE} (0600) — back it up "
                "with the database; without it stored credentials cannot be decrypted."
            )
        self._supervise()

    def _start_workers(self, requested: int | None) -> None:
        layout = worker_queues(worker_count(requested))
        if len(layout) == 1 and settings.TASK_TRANSPORT == "rq":
            # A database-queue worker runs interactive work in a lane of its own beside a sync
            # (operations/lanes.py); an RQ worker runs one job at a time.
            self.stderr.write(
                "one RQ worker: connection checks and alerts wait while it runs a sync "
                "(use --workers 2 or more)"
            )
        for n, queues in enumerate(layout, start=1):
            self._spawn(f"worker {n}", [*self.manage, "worker", "--queues", ",".join(queues)])

    def _spawn(self, name: str, argv: list[str]) -> None:
        self.stdout.write(f"starting {name}: {' '.join(argv[1:])}")
        self.children.append(subprocess.Popen(argv, env=self.env))  # noqa: S603 - our own commands

    def _start_simulator_and_demo(self, port: int) -> None:
        url = f"https://127.0.0.1:{port}"
        self.env["TENANTATLAS_SIMULATOR_URL"] = url
        settings.SIMULATOR_URL = url
        self._spawn("simulator", [*self.manage, "simulator", "--port", str(port)])
        self._wait_or_stop("127.0.0.1", port, "The simulator did not start (is the port in use?).")
        call_command("demo")

    def _wait_or_stop(self, host: str, port: int, failure: str) -> None:
        if not _wait_for_port(host, port, 30):
            self._stop()
            raise CommandError(failure)

    def _supervise(self) -> None:
        """Until Ctrl-C or SIGTERM, or until one of the processes exits: then stop them all."""
        stop = {"flag": False}

        def on_signal(signum: int, frame: Any) -> None:
            stop["flag"] = True

        signal.signal(signal.SIGINT, on_signal)
        signal.signal(signal.SIGTERM, on_signal)
        try:
            while not stop["flag"]:
                for child in self.children:
                    if child.poll() is not None:
                        self.stderr.write(
                            f"a process exited (pid {child.pid}, code {child.returncode}); stopping"
                        )
                        stop["flag"] = True
                time.sleep(0.5)
        finally:
            self._stop()

    def _stop(self) -> None:
        for child in self.children:
            if child.poll() is None:
                child.terminate()
        for child in self.children:
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.kill()
