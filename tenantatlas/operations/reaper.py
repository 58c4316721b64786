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

from tenantatlas.operations.models import OperationRun, RunStatus
from tenantatlas.operations.worker import enqueue_run

logger = logging.getLogger(__name__)
MAX_REDELIVERIES = 3


def reap(now: dt.datetime | None = None) -> dict[str, int]:
    now = now or timezone.now()
    counts = {"worker_lost": 0, "requeued": 0, "expired": 0}
    _fail_lost_runs(now, counts)
    _resend_untaken_runs(now, counts)
    if any(counts.values()):
        logger.info("Reaper: %s", counts)
    return counts


def _fail_lost_runs(now: dt.datetime, counts: dict[str, int]) -> None:
    """Running runs whose heartbeat stopped: their worker is gone."""
    stale_before = now - dt.timedelta(seconds=settings.RUN_STALE_AFTER_SECONDS)
    lost = OperationRun.objects.filter(status=RunStatus.RUNNING).filter(
        Q(heartbeat_at__lt=stale_before) | Q(heartbeat_at__isnull=True, started_at__lt=stale_before)
    )
    for run_id in lost.values_list("pk", flat=True):
        if OperationRun.objects.fail_lost(run_id, stale_before=stale_before, now=now):
            counts["worker_lost"] += 1


def _resend_untaken_runs(now: dt.datetime, counts: dict[str, int]) -> None:
    """Queued runs no worker took: send them again, a few times, then give up on them."""
    queued_before = now - dt.timedelta(seconds=settings.RUN_QUEUED_STALE_AFTER_SECONDS)
    waiting = OperationRun.objects.filter(
        status=RunStatus.QUEUED, enqueued_at__lt=queued_before
    ).filter(Q(not_before__isnull=True) | Q(not_before__lt=queued_before))
    for run in waiting.only("pk", "context"):
        deliveries = int(run.context.get("redeliveries", 0))
        if deliveries >= MAX_REDELIVERIES:
            if OperationRun.objects.expire(run.pk, now=now):
                counts["expired"] += 1
            continue
        with transaction.atomic():
            context = {**run.context, "redeliveries": deliveries + 1}
            if OperationRun.objects.redeliver(run.pk, context=context, now=now):
                counts["requeued"] += 1
                # robust: a queue outage is logged (a later pass re-sends the run); it must
                # not end `reap --loop`.
                transaction.on_commit(functools.partial(enqueue_run, run.pk), robust=True)
