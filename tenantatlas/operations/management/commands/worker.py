"""Run a worker for the configured transport (database or RQ)."""

from __future__ import annotations

import logging
import time
from typing import Any

from django import db
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser
from django.db.utils import InterfaceError, OperationalError

logger = logging.getLogger(__name__)


class Command(BaseCommand):
    help = (
        "Process operation runs. Uses the configured transport: the database queue "
        "(TENANTATLAS_TASK_TRANSPORT=database, default) or RQ on Redis (=rq). "
        "Start as many workers as you like, on as many machines as you like."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--batch", action="store_true", help="Process what is queued, then exit."
        )
        parser.add_argument(
            "--max-tasks", type=int, default=None, help="Exit after this many runs."
        )
        parser.add_argument(
            "--interval", type=float, default=1.0, help="Idle polling interval (database)."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if settings.TASK_TRANSPORT == "rq":
            rq_args = ["--job-class", "django_tasks_rq.Job", "--with-scheduler"]
            if options["batch"]:
                rq_args.append("--burst")
            if options["max_tasks"]:
                rq_args += ["--max-jobs", str(options["max_tasks"])]
            call_command("rqworker", "default", *rq_args)
            return
        db_args = ["--interval", str(options["interval"]), "--no-startup-delay", "--no-reload"]
        if options["batch"]:
            db_args.append("--batch")
        if options["max_tasks"]:
            db_args += ["--max-tasks", str(options["max_tasks"])]
        self._database_worker(db_args, retry=not options["batch"])

    def _database_worker(self, db_args: list[str], *, retry: bool) -> None:
        """Run the database-queue worker; when the database goes away, reconnect in place.

        A run interrupted by the outage keeps its stale heartbeat and is ended by the reaper
        (run.worker_lost); the worker itself waits with backoff and carries on.
        """
        delay = 1.0
        while True:
            try:
                call_command("db_worker", *db_args)
                return
            except (OperationalError, InterfaceError) as exc:
                if not retry:
                    raise
                logger.warning(
                    "Database unavailable (%s); the worker reconnects in %.0f s",
                    type(exc).__name__,
                    delay,
                )
                db.connections.close_all()
                time.sleep(delay)
                delay = min(delay * 2, 30.0)
