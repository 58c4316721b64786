"""Fail runs whose worker vanished and re-send queued runs nobody took."""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from tenantatlas.operations.reaper import reap
from tenantatlas.operations.schedules import fire_due_schedules


class Command(BaseCommand):
    help = (
        "Mark running runs without a recent heartbeat as failed (run.worker_lost), re-enqueue "
        "queued runs that no worker took, and start due scheduled operations. Run it every "
        "minute (cron/systemd timer) or with --loop."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--loop", action="store_true", help="Keep running.")
        parser.add_argument("--every", type=float, default=30.0, help="Seconds between passes.")

    def handle(self, *args: Any, **options: Any) -> None:
        while True:
            counts = {**reap(), **fire_due_schedules()}
            self.stdout.write(" ".join(f"{key}={value}" for key, value in counts.items()))
            if not options["loop"]:
                return
            time.sleep(options["every"])
