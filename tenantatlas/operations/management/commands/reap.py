"""Fail runs whose worker vanished and re-send queued runs nobody took."""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from tenantatlas.operations.reaper import reap


class Command(BaseCommand):
    help = (
        "Mark running runs without a recent heartbeat as failed (run.worker_lost) and re-enqueue "
        "queued runs that no worker took. Run it every minute (cron/systemd timer) or with --loop."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--loop", action="store_true", help="Keep running.")
        parser.add_argument("--every", type=float, default=30.0, help="Seconds between passes.")

    def handle(self, *args: Any, **options: Any) -> None:
        while True:
            counts = reap()
            self.stdout.write(
                f"worker_lost={counts['worker_lost']} requeued={counts['requeued']} "
                f"expired={counts['expired']}"
            )
            if not options["loop"]:
                return
            time.sleep(options["every"])
