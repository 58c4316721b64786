"""Fail runs whose worker vanished and re-send queued runs nobody took."""

from __future__ import annotations

import logging
import time
from typing import Any

from django import db
from django.core.management.base import BaseCommand, CommandParser
from django.db.utils import InterfaceError, OperationalError

from tenantatlas.alerts.ticks import tick as alert_tick
from tenantatlas.inventory.changes import prune_changes
from tenantatlas.lib.actors import REAPER
from tenantatlas.operations import retention
from tenantatlas.operations.reaper import reap
from tenantatlas.operations.schedules import fire_due_schedules

logger = logging.getLogger(__name__)

# Seconds between passes of `reap --loop`. With the default heartbeat (10 s) and stale-after
# (30 s) a lost worker's run is failed within about 45 s (docs/reliability.md, R2).
DEFAULT_EVERY = 15.0


class Command(BaseCommand):
    help = (
        "Mark running runs without a recent heartbeat as failed (run.worker_lost), re-enqueue "
        "queued runs that no worker took, start due scheduled operations, run the alerts' "
        "periodic work and delete a bounded batch of what is past its retention (change "
        "history, alerts, finished runs, audit events, notifications, task-queue rows, expired "
        "sessions; docs/operations.md). Run it with "
        f"--loop (a pass every {DEFAULT_EVERY:.0f} s) or from cron/a systemd timer."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--loop", action="store_true", help="Keep running.")
        parser.add_argument(
            "--every", type=float, default=DEFAULT_EVERY, help="Seconds between passes."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        delay = 1.0
        while True:
            try:
                counts = {
                    **reap(),
                    **fire_due_schedules(),
                    "changes_pruned": prune_changes(),
                    **alert_tick(),
                    **{
                        f"pruned_{kind}": removed
                        for kind, removed in retention.prune(
                            actor=REAPER, limit=retention.PASS_LIMIT
                        ).items()
                    },
                }
            except (OperationalError, InterfaceError) as exc:
                if not options["loop"]:
                    raise
                # The database went away (restart, failover): reconnect in place, as the
                # worker does, instead of leaving lost runs `running` until someone notices.
                logger.warning(
                    "Database unavailable (%s: %s); the reaper retries in %.0f s",
                    type(exc).__name__,
                    str(exc).strip().splitlines()[0] if str(exc).strip() else "",
                    delay,
                )
                db.connections.close_all()
                time.sleep(delay)
                delay = min(delay * 2, 30.0)
                continue
            delay = 1.0
            self.stdout.write(" ".join(f"{key}={value}" for key, value in counts.items()))
            if not options["loop"]:
                return
            time.sleep(options["every"])
