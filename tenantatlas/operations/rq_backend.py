"""The RQ task backend, with the one priority RQ can keep.

An RQ queue is a Redis list in order of arrival; the only way ahead of it is the front. The
library's backend already sends a task of the top priority (`TASK_MAX_PRIORITY`) to the front,
but refuses any priority at all because it cannot order the others. Here a task may be of the
default priority (in order of arrival) or of the top one (ahead of everything waiting, the
newest first): alert deliveries are (`alerts/delivery.py`), so an alert never waits behind the
connection checks queued before it. Any other priority is refused, as before.
"""

from __future__ import annotations

from typing import Any

from django.tasks.base import DEFAULT_TASK_PRIORITY, TASK_MAX_PRIORITY
from django.tasks.exceptions import InvalidTask
from django_tasks_rq import RQBackend


class PrioritisingRQBackend(RQBackend):
    supports_priority = True

    def validate_task(self, task: Any) -> None:
        super().validate_task(task)
        if task.priority not in (DEFAULT_TASK_PRIORITY, TASK_MAX_PRIORITY):
            raise InvalidTask(
                f"RQ orders by arrival: a task's priority is {DEFAULT_TASK_PRIORITY} "
                f"(in turn) or {TASK_MAX_PRIORITY} (first), not {task.priority}"
            )
