"""The reaper: ends runs whose worker vanished and re-sends queued runs nobody took.

Safe to run anywhere, any number of times: every change is a conditional UPDATE.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from tenantatlas.operations.events import emit_run_completed
from tenantatlas.operations.models import OperationRun, RunStatus
from tenantatlas.operations.worker import enqueue_run

logger = logging.getLogger(__name__)
MAX_REDELIVERIES = 3


def reap(now: dt.datetime | None = None) -> dict[str, int]:
    now = now or timezone.now()
    counts = {"worker_lost": 0, "requeued": 0, "expired": 0}
    stale_before = now - dt.timedelta(seconds=settings.RUN_STALE_AFTER_SECONDS)
    lost = OperationRun.objects.filter(status=RunStatus.RUNNING).filter(
        Q(heartbeat_at__lt=stale_before) | Q(heartbeat_at__isnull=True, started_at__lt=stale_before)
    )
    for run_id in lost.values_list("pk", flat=True):
        with transaction.atomic():
            ended = OperationRun.objects.filter(
                Q(heartbeat_at__lt=stale_before) | Q(heartbeat_at__isnull=True),
                pk=run_id,
                status=RunStatus.RUNNING,
            ).fail("run.worker_lost", now=now)
            if ended:
                counts["worker_lost"] += 1
                emit_run_completed(run_id)

    queued_before = now - dt.timedelta(seconds=settings.RUN_QUEUED_STALE_AFTER_SECONDS)
    waiting = OperationRun.objects.filter(
        status=RunStatus.QUEUED, enqueued_at__lt=queued_before
    ).filter(Q(not_before__isnull=True) | Q(not_before__lt=queued_before))
    for run in waiting.only("pk", "context"):
        deliveries = int(run.context.get("redeliveries", 0))
        with transaction.atomic():
            if deliveries >= MAX_REDELIVERIES:
                ended = OperationRun.objects.filter(pk=run.pk, status=RunStatus.QUEUED).fail(
                    "run.worker_lost",
                    "No worker picked up this run; check that workers are running.",
                    now=now,
                )
                if ended:
                    counts["expired"] += 1
                    emit_run_completed(run.pk)
                continue
            bumped = OperationRun.objects.filter(pk=run.pk, status=RunStatus.QUEUED).update(
                context={**run.context, "redeliveries": deliveries + 1},
                not_before=None,
                enqueued_at=now,
            )
            if bumped:
                counts["requeued"] += 1
                # robust: a queue outage is logged (a later pass re-sends the run); it must
                # not end `reap --loop`.
                transaction.on_commit(functools.partial(enqueue_run, run.pk), robust=True)
    if any(counts.values()):
        logger.info("Reaper: %s", counts)
    return counts
