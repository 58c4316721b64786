"""Run a worker for the configured transport (database or RQ)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser


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
        call_command("db_worker", *db_args)
