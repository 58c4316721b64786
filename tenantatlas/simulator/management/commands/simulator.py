"""``manage.py simulator``: run the Microsoft identity + Graph simulator in the foreground."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from tenantatlas.simulator.scenarios import DEMO_SCENARIOS, ScenarioError
from tenantatlas.simulator.server import serve_forever


def _default_port() -> int:
    raw = os.environ.get("TENANTATLAS_SIMULATOR_PORT", "8443")
    try:
        return int(raw)
    except ValueError:
        raise CommandError(f"TENANTATLAS_SIMULATOR_PORT={raw!r} is not a port number") from None


class Command(BaseCommand):
    help = "Run the bundled Microsoft identity platform + Graph simulator (HTTPS, loopback)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=None)
        parser.add_argument("--scenarios", type=Path, default=DEMO_SCENARIOS)
        parser.add_argument("--state-dir", type=Path, default=None)

    def handle(self, *args: Any, **options: Any) -> None:
        port = options["port"] if options["port"] is not None else _default_port()
        state_dir = options["state_dir"] or Path(settings.DATA_DIR) / "simulator"
        scenarios = options["scenarios"]
        if not Path(scenarios).is_file():
            raise CommandError(f"Scenario file {scenarios} does not exist")
        try:
            serve_forever(options["host"], port, state_dir, scenarios)
        except ScenarioError as exc:
            raise CommandError(str(exc)) from exc
