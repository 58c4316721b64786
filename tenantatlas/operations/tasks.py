"""The transport: Django's tasks API carries only the run id; the run row holds the truth."""

from __future__ import annotations

import datetime as dt

from django.tasks import task


@task()
def execute_run(run_id: int) -> None:
    from tenantatlas.operations.worker import execute

    execute(run_id)


def enqueue_run(run_id: int, *, run_after: dt.datetime | None = None) -> None:
    if run_after is not None:
        execute_run.using(run_after=run_after).enqueue(run_id)
    else:
        execute_run.enqueue(run_id)
