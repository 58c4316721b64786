"""Run a worker for the configured transport (database or RQ), serving queues in order.

On the database queue a worker serving `interactive` with `bulk` runs two lanes, threads of one
process (operations/lanes.py): its queues in order, and `interactive` alone beside a sync.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from django import db
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db.models import Case, Value, When
from django.db.utils import OperationalError
from django.utils.crypto import get_random_string
from django_tasks_db.management.commands.db_worker import Worker as DatabaseQueueWorker
from django_tasks_db.models import DBTaskResult
from django_tasks_db.utils import exclusive_transaction, is_locked_database_exception

from tenantatlas.operations.lanes import Lanes, lane_queues

logger = logging.getLogger(__name__)


class Tally:
    """Runs done by the lanes of one process."""

    def __init__(self) -> None:
        self.count = 0
        self._lock = threading.Lock()

    def add(self) -> None:
        with self._lock:
            self.count += 1


class RunQueueWorker(DatabaseQueueWorker):
    """django-tasks-db's worker, as one lane of a worker process (operations/lanes.py).

    - It takes its queues in the order given: a task of the second queue only when the first
      has none ready (django-tasks-db's own worker takes the oldest task of any of them), as
      an RQ worker does. A lane serving `interactive,bulk` picks a waiting connection check
      before the next sync.
    - It sleeps between polls on ``stopping`` (set by `Lanes.stop`), so a stop signal ends an
      idle lane at once; signals themselves are handled by `Lanes` in the main thread.
    - ``--max-tasks`` counts the runs of all the process's lanes (``tally``).
    """

    def __init__(self, *, tally: Tally | None = None, **options: Any) -> None:
        super().__init__(**options)
        self.stopping = threading.Event()
        self.tally = tally or Tally()

    def run(self) -> None:
        """The library's loop, with the claim of `claim_next`."""
        logger.info("Worker %s serves %s, in this order", self.worker_id, self.queue_names)
        while self.running:
            db.close_old_connections()
            task_result, answered = self.claim_next()
            if task_result is not None:
                self.run_task(task_result)
                self.tally.add()
            elif self.batch and answered:
                return  # nothing left to do
            if self.max_tasks is not None and self.tally.count >= self.max_tasks:
                return
            db.close_old_connections()
            if self.running and task_result is None:
                self.stopping.wait(self.interval)

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
        "Start as many workers as you like, on as many machines as you like. On the database "
        "queue a worker serving interactive with bulk runs interactive work in a lane of its "
        "own, beside a sync; an RQ worker runs one job at a time, so with RQ keep at least one "
        "worker on --queues interactive for connection checks never to wait behind syncs."
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
        parser.add_argument(
            "--no-interactive-lane",
            action="store_true",
            help=(
                "Database queue: no interactive lane beside the main one, so one run at a "
                "time, its queues strictly in order (by default a worker serving interactive "
                "with bulk also runs interactive work in a thread of its own, beside a sync)."
            ),
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
        self._database_worker(queues, options)

    def _database_worker(self, queues: list[str], options: dict[str, Any]) -> None:
        """The lanes of this process (operations/lanes.py), until they have all ended."""
        tally = Tally()
        base_id = get_random_string(32)
        layout = lane_queues(queues, interactive_lane=not options["no_interactive_lane"])
        lanes = Lanes(
            [
                RunQueueWorker(
                    queue_names=lane,
                    interval=options["interval"],
                    batch=options["batch"],
                    backend_name="default",
                    startup_delay=False,
                    max_tasks=options["max_tasks"] or None,
                    worker_id=f"{base_id}-{n}",
                    excluded_queue_names=[],
                    tally=tally,
                )
                for n, lane in enumerate(layout, start=1)
            ],
            retry=not options["batch"],
        )
        lanes.configure_signals()
        if lanes.run():
            raise CommandError("A worker lane failed (see the log above); the worker stopped.")
