"""The queue and the workers as the run table tells them, cheap enough for every scrape and
every readiness probe.

Only active runs are read: queued and running, at most one per scope (the partial unique index
``run_one_active_per_scope``), found through the ``(status, heartbeat_at)`` index, so the cost
does not grow with the run history (an install may keep a million finished runs).

Workers have no row of their own; what proves one alive is the heartbeat it writes every
``TENANTATLAS_RUN_HEARTBEAT_SECONDS`` while it runs a run. An idle worker writes nothing, so
"no fresh heartbeat" alone means nothing. What does: a due run that nobody takes (workers are
gone, or all stuck), or running runs whose heartbeats all stopped.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db.models import Count, Max, Min, Q
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone

from tenantatlas.operations.models import ACTIVE_STATUSES, OperationRun, RunStatus


@dataclass(frozen=True)
class QueueState:
    """Active runs by (operation type, status), the queue, and the running runs' heartbeats."""

    active: dict[tuple[str, str], int]
    due: int  # queued and due now: waiting for a worker
    deferred: int  # queued until a later time (Microsoft's Retry-After)
    oldest_due_wait: float | None  # seconds the longest-waiting due run has waited
    running: int
    newest_heartbeat_age: float | None  # seconds; None when nothing runs
    oldest_heartbeat_age: float | None

    @property
    def queued(self) -> int:
        return self.due + self.deferred

    def workers(self, stale_after: float) -> str:
        """``ok``: a heartbeat is fresh; ``stalled``: a due run waits longer than a heartbeat
        may be late, or every running run's heartbeat stopped; ``idle``: nothing to tell."""
        if self.newest_heartbeat_age is not None and self.newest_heartbeat_age <= stale_after:
            return "ok"
        if self.running or (self.oldest_due_wait or 0.0) > stale_after:
            return "stalled"
        return "idle"


def _age(now: dt.datetime, moment: dt.datetime | None) -> float | None:
    return None if moment is None else max((now - moment).total_seconds(), 0.0)


def read_queue_state(now: dt.datetime | None = None) -> QueueState:
    """Two queries over the active runs only."""
    now = now or timezone.now()
    active_runs = OperationRun.objects.filter(status__in=ACTIVE_STATUSES)
    by_kind = active_runs.values_list("operation_type", "status").annotate(n=Count("pk"))
    active = {(kind, status): n for kind, status, n in by_kind.order_by()}
    queued = Q(status=RunStatus.QUEUED)
    due = queued & (Q(not_before__isnull=True) | Q(not_before__lte=now))
    running = Q(status=RunStatus.RUNNING)
    # A due run has waited since it was created, became due (not_before) or was last handed
    # back (its last start), whichever came last; a re-send by the reaper does not reset it.
    waiting_since = Greatest(
        Coalesce("not_before", "created_at"), Coalesce("started_at", "created_at")
    )
    totals: dict[str, Any] = active_runs.order_by().aggregate(
        due=Count("pk", filter=due),
        waiting_since=Min(waiting_since, filter=due),
        newest_beat=Max("heartbeat_at", filter=running),
        oldest_beat=Min("heartbeat_at", filter=running),
    )
    queued_total = sum(n for (_, status), n in active.items() if status == RunStatus.QUEUED)
    return QueueState(
        active=active,
        due=totals["due"],
        deferred=queued_total - totals["due"],
        oldest_due_wait=_age(now, totals["waiting_since"]),
        running=sum(n for (_, status), n in active.items() if status == RunStatus.RUNNING),
        newest_heartbeat_age=_age(now, totals["newest_beat"]),
        oldest_heartbeat_age=_age(now, totals["oldest_beat"]),
    )


def _seconds(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def readiness_report() -> dict[str, Any]:
    """What ``/readyz`` adds: whether workers take runs, and the queue (informative: a web
    process stays ready whatever the workers do)."""
    state = read_queue_state()
    return {
        "workers": {
            "status": state.workers(settings.RUN_STALE_AFTER_SECONDS),
            "running": state.running,
            "newest_heartbeat_age_seconds": _seconds(state.newest_heartbeat_age),
        },
        "queue": {
            "queued": state.queued,
            "due": state.due,
            "oldest_due_wait_seconds": _seconds(state.oldest_due_wait),
        },
    }
