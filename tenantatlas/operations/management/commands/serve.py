"""The embedded product in one command: migrate, simulator, demo data, worker, reaper and web."""

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


class Command(BaseCommand):
    help = (
        "Start TenantAtlas on this machine: applies migrations, starts the bundled Microsoft "
        "simulator and seeds the demo workspace (unless --no-demo), then runs N workers, the "
        "reaper and the web server (gunicorn) until Ctrl-C."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--workers", type=int, default=1, help="Worker processes.")
        parser.add_argument("--web-workers", type=int, default=2, help="gunicorn processes.")
        parser.add_argument("--no-demo", action="store_true", help="No simulator, no demo data.")
        parser.add_argument("--simulator-port", type=int, default=8443)

    def handle(self, *args: Any, **options: Any) -> None:
        manage = [sys.executable, str(Path(settings.BASE_DIR) / "manage.py")]
        env = os.environ.copy()
        children: list[subprocess.Popen[bytes]] = []

        def spawn(name: str, argv: list[str]) -> None:
            self.stdout.write(f"starting {name}: {' '.join(argv[1:])}")
            children.append(subprocess.Popen(argv, env=env))  # noqa: S603 - our own commands

        call_command("migrate", interactive=False, verbosity=0)
        self.stdout.write("database migrated")
        if not options["no_demo"]:
            url = f"https://127.0.0.1:{options['simulator_port']}"
            env["TENANTATLAS_SIMULATOR_URL"] = url
            settings.SIMULATOR_URL = url
            spawn("simulator", [*manage, "simulator", "--port", str(options["simulator_port"])])
            if not _wait_for_port("127.0.0.1", options["simulator_port"], 30):
                self._stop(children)
                raise CommandError("The simulator did not start (is the port in use?).")
            call_command("demo")
        for n in range(options["workers"]):
            spawn(f"worker {n + 1}", [*manage, "worker"])
        spawn("reaper", [*manage, "reap", "--loop"])  # every 15 s: lost runs end within a minute
        spawn(
            "web",
            [
                sys.executable,
                "-m",
                "gunicorn",
                "tenantatlas.wsgi",
                "--bind",
                f"{options['host']}:{options['port']}",
                "--workers",
                str(options["web_workers"]),
                "--threads",
                "4",
                "--access-logfile",
                "-",
                "--no-control-socket",
            ],
        )
        if not _wait_for_port(options["host"], options["port"], 30):
            self._stop(children)
            raise CommandError("The web server did not start (is the port in use?).")
        self.stdout.write(
            self.style.SUCCESS(
                f"TenantAtlas is running on http://{options['host']}:{options['port']}/"
            )
        )
        if settings.ENCRYPTION_KEYS_FILE:
            self.stdout.write(
                f"Credential encryption key: {settings.ENCRYPTION_KEYS_FILE} (0600) — back it up "
                "with the database; without it stored credentials cannot be decrypted."
            )
        stop = {"flag": False}

        def on_signal(signum: int, frame: Any) -> None:
            stop["flag"] = True

        signal.signal(signal.SIGINT, on_signal)
        signal.signal(signal.SIGTERM, on_signal)
        try:
            while not stop["flag"]:
                for child in children:
                    if child.poll() is not None:
                        self.stderr.write(
                            f"a process exited (pid {child.pid}, code {child.returncode}); stopping"
                        )
                        stop["flag"] = True
                time.sleep(0.5)
        finally:
            self._stop(children)

    def _stop(self, children: list[subprocess.Popen[bytes]]) -> None:
        for child in children:
            if child.poll() is None:
                child.terminate()
        for child in children:
            try:
                child.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.kill()
