"""Run a worker for the configured transport (database or RQ), serving queues in order."""

from __future__ import annotations

import logging
import time
from types import FrameType
from typing import Any

from django import db
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db.models import Case, Value, When
from django.db.utils import InterfaceError, OperationalError
from django.utils.crypto import get_random_string
from django_tasks_db.management.commands.db_worker import Worker as DatabaseQueueWorker
from django_tasks_db.models import DBTaskResult
from django_tasks_db.utils import exclusive_transaction, is_locked_database_exception

from tenantatlas.operations.worker import request_hand_back

logger = logging.getLogger(__name__)


class RunQueueWorker(DatabaseQueueWorker):
    """django-tasks-db's worker with two changes.

    - It takes its queues in the order given: a task of the second queue only when the first
      has none ready (django-tasks-db's own worker takes the oldest task of any of them), as
      an RQ worker does. A worker serving `interactive,bulk` picks a waiting connection check
      before the next sync.
    - On the first SIGTERM/SIGINT the run in hand also goes back to the queue at its next page
      boundary (instead of running to the end).
    """

    def shutdown(self, signum: int, frame: FrameType | None) -> None:
        if self.running:
            request_hand_back()
        super().shutdown(signum, frame)

    def run(self) -> None:
        """The library's loop, with the claim of `claim_next`."""
        logger.info("Worker %s serves %s, in this order", self.worker_id, self.queue_names)
        while self.running:
            db.close_old_connections()
            task_result, answered = self.claim_next()
            if task_result is not None:
                self.run_task(task_result)
            elif self.batch and answered:
                return  # nothing left to do
            if self.max_tasks is not None and self._run_tasks >= self.max_tasks:
                return
            db.close_old_connections()
            # After Ctrl-C interrupted a task `running` is False: exit without sleeping.
            if self.running and task_result is None:
                time.sleep(self.interval)

    def claim_next(self) -> tuple[DBTaskResult | None, bool]:
        """Claim the first ready task of the first queue that has one, and say whether the
        database answered (a locked SQLite database is not "nothing queued")."""
        rank = Case(
            *(When(queue_name=name, then=Value(i)) for i, name in enumerate(self.queue_names))
        )
        tasks = (
            DBTaskResult.objects.ready()
            .filter(backend_name=self.backend_name, queue_name__in=self.queue_names)
            # then as django-tasks-db orders them: priority, due time, age
            .order_by(rank, *(DBTaskResult._meta.ordering or []))
        )
        with exclusive_transaction(tasks.db):
            try:
                task_result = tasks.get_locked()
                if task_result is not None:
                    task_result.claim(self.worker_id)
            except OperationalError as exc:
                if not is_locked_database_exception(exc):
                    raise
                return None, False
        return task_result, True


def queue_list(value: str) -> list[str]:
    """`interactive,bulk` → the configured queues, in the order given."""
    names = [name.strip() for name in value.split(",") if name.strip()]
    unknown = [name for name in names if name not in settings.TASK_QUEUES]
    if not names or unknown or len(set(names)) != len(names):
        raise CommandError(
            f"--queues {value!r}: name each of {', '.join(settings.TASK_QUEUES)} at most once"
        )
    return names


class Command(BaseCommand):
    help = (
        "Process operation runs and alert deliveries. Uses the configured transport: the "
        "database queue (TENANTATLAS_TASK_TRANSPORT=database, default) or RQ on Redis (=rq). "
        "Start as many workers as you like, on as many machines as you like; keep at least one "
        "on --queues interactive so connection checks never wait behind syncs."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--queues",
            default=",".join(settings.TASK_QUEUES),
            help=(
                "Queues to serve, most urgent first, comma-separated (default: %(default)s). "
                "`interactive`: connection checks, snapshots, alert deliveries; "
                "`bulk`: inventory syncs."
            ),
        )
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
        queues = queue_list(options["queues"])
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
            # RQ takes a worker's queues in the order given.
            call_command("rqworker", *queues, *rq_args)
            return
        worker = RunQueueWorker(
            queue_names=queues,
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

    def _database_worker(self, worker: RunQueueWorker, *, retry: bool) -> None:
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
