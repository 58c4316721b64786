"""Run a worker for the configured transport (database or RQ)."""

from __future__ import annotations

import logging
import time
from types import FrameType
from typing import Any

from django import db
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser
from django.db.utils import InterfaceError, OperationalError
from django.utils.crypto import get_random_string
from django_tasks_db.management.commands.db_worker import Worker as DatabaseQueueWorker

from tenantatlas.operations.worker import request_hand_back

logger = logging.getLogger(__name__)


class HandBackWorker(DatabaseQueueWorker):
    """django-tasks-db's worker; on the first SIGTERM/SIGINT the run in hand also goes back to
    the queue at its next page boundary (instead of running to the end)."""

    def shutdown(self, signum: int, frame: FrameType | None) -> None:
        if self.running:
            request_hand_back()
        super().shutdown(signum, frame)


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
            rq_args = [
                "--job-class",
                "django_tasks_rq.Job",
                "--worker-class",
                "tenantatlas.operations.rq_worker.RunWorker",
                "--with-scheduler",
            ]
            if options["batch"]:
                rq_args.append("--burst")
            if options["max_tasks"]:
                rq_args += ["--max-jobs", str(options["max_tasks"])]
            call_command("rqworker", "default", *rq_args)
            return
        worker = HandBackWorker(
            queue_names=["default"],
            interval=options["interval"],
            batch=options["batch"],
            backend_name="default",
            startup_delay=False,
            max_tasks=options["max_tasks"] or None,
            worker_id=get_random_string(32),
            excluded_queue_names=[],
        )
        worker.configure_signals()
        self._database_worker(worker, retry=not options["batch"])

    def _database_worker(self, worker: HandBackWorker, *, retry: bool) -> None:
        """Run the database-queue worker; when the database goes away, reconnect in place.

        A run interrupted by the outage keeps its stale heartbeat and is ended by the reaper
        (run.worker_lost); the worker itself waits with backoff and carries on.
        """
        delay = 1.0
        while True:
            try:
                worker.run()
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
