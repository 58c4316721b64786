"""Handing deliveries to channels: claim, send, record; retries with backoff; the sweeper.

Each delivery is its own task, so a slow or failing channel never holds up another. A worker
claims a delivery (pending → sending, with a lease), sends it with no transaction open, and
records the outcome only if its claim still stands (``attempts`` fences a late worker). A
worker killed mid-send leaves the delivery ``sending``: when the lease ends the sweeper makes
it pending again and it is sent once more with the same key — at least once, and exactly once
for a receiver that dedupes on the key (docs/alerts.md, R8 in docs/reliability.md).

Retries: bounded (``ALERT_MAX_ATTEMPTS``), exponential backoff with full jitter, or exactly the
receiver's ``Retry-After``. A delivery that runs out of attempts, or is refused for good (a 4xx
that is not 408/425/429, a refused address), fails; a channel whose deliveries fail
``ALERT_CHANNEL_FAILING_AFTER`` times in a row is marked failing and its workspace's owners are
told in-app. Its next success marks it delivering again.
"""

from __future__ import annotations

import datetime as dt
import logging
import random

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.tasks import task
from django.tasks.base import TASK_MAX_PRIORITY
from django.utils import timezone

from tenantatlas.alerts.channels import (
    SendResult,
    notify_in_app,
    send,
    tell_owners_channel_failing,
)
from tenantatlas.alerts.models import (
    AlertChannel,
    AlertDelivery,
    ChannelKind,
    ChannelState,
    DeliveryStatus,
)
from tenantatlas.lib.sanitize import redaction_scope, sanitize

logger = logging.getLogger(__name__)

ERROR_LIMIT = AlertDelivery._meta.get_field("last_error").max_length or 500


@task(queue_name=settings.TASK_QUEUE_INTERACTIVE)
def deliver_alert(delivery_id: int) -> None:
    deliver(delivery_id)


def enqueue_delivery(delivery_id: int, *, run_after: dt.datetime | None = None) -> bool:
    """Hand the delivery to the workers, ahead of the runs waiting in its queue (a delivery
    takes a moment; the connection checks queued before it would keep it for minutes). When
    the queue is down it stays pending and the sweeper hands it out once the queue is back:
    nothing is lost, nothing fails here."""
    try:
        urgent = deliver_alert.using(priority=TASK_MAX_PRIORITY)
        if run_after is not None and run_after > timezone.now():
            urgent.using(run_after=run_after).enqueue(delivery_id)
        else:
            urgent.enqueue(delivery_id)
    except Exception as exc:
        logger.warning(
            "Alert delivery %s not enqueued (%s); the sweeper sends it later",
            delivery_id,
            type(exc).__name__,
        )
        return False
    return True


def lease_seconds() -> int:
    return int(getattr(settings, "ALERT_LEASE_SECONDS", 60))


def claim(delivery_id: int, now: dt.datetime) -> int | None:
    """pending (and due) → sending; returns the attempt number it claimed, or None."""
    with transaction.atomic():
        claimed = AlertDelivery.objects.filter(
            pk=delivery_id, status=DeliveryStatus.PENDING, next_attempt_at__lte=now
        ).update(
            status=DeliveryStatus.SENDING,
            attempts=F("attempts") + 1,
            lease_until=now + dt.timedelta(seconds=lease_seconds()),
        )
        if not claimed:
            return None
        return AlertDelivery.objects.filter(pk=delivery_id).values_list("attempts", flat=True)[0]


def deliver(delivery_id: int) -> str | None:
    """One attempt at one delivery; returns the status it ended in (None: not claimed)."""
    attempt = claim(delivery_id, timezone.now())
    if attempt is None:
        return None
    delivery = AlertDelivery.objects.select_related("channel", "rule", "workspace").get(
        pk=delivery_id
    )
    if delivery.channel.kind == ChannelKind.IN_APP:
        # The notifications and the outcome in one transaction: exactly once.
        with transaction.atomic():
            notify_in_app(delivery)
            status = record(delivery, attempt, SendResult(ok=True))
            if status is None:  # the claim was lost meanwhile: someone else delivers it
                transaction.set_rollback(True)
            return status
    # One scope for the send and the record: the secrets the sender opened (and registered)
    # are redacted from the outcome before it is stored.
    with redaction_scope():
        try:
            result = send(delivery)
        except Exception as exc:  # a defect in a channel is a failed attempt, not a lost one
            logger.exception("Alert delivery %s failed unexpectedly", delivery.key)
            result = SendResult(ok=False, error=f"Internal error ({type(exc).__name__}).")
        return record(delivery, attempt, result)


def record(delivery: AlertDelivery, attempt: int, result: SendResult) -> str | None:
    """Write the attempt's outcome, if this worker's claim still stands."""
    now = timezone.now()
    mine = AlertDelivery.objects.filter(
        pk=delivery.pk, status=DeliveryStatus.SENDING, attempts=attempt
    )
    error = sanitize(result.error, limit=ERROR_LIMIT)
    with transaction.atomic():
        if result.ok:
            if not mine.update(
                status=DeliveryStatus.DELIVERED,
                delivered_at=now,
                last_attempt_at=now,
                lease_until=None,
                last_status_code=result.status_code,
                last_error="",
            ):
                return None
            _channel_succeeded(delivery.channel_id)
            return DeliveryStatus.DELIVERED
        if result.retryable and attempt < max_attempts():
            wait = result.retry_after if result.retry_after is not None else backoff(attempt)
            due = now + dt.timedelta(seconds=wait)
            if not mine.update(
                status=DeliveryStatus.PENDING,
                next_attempt_at=due,
                last_attempt_at=now,
                lease_until=None,
                last_status_code=result.status_code,
                last_error=error,
            ):
                return None
            transaction.on_commit(lambda: enqueue_delivery(delivery.pk, run_after=due))
            return DeliveryStatus.PENDING
        if not mine.update(
            status=DeliveryStatus.FAILED,
            last_attempt_at=now,
            lease_until=None,
            last_status_code=result.status_code,
            last_error=error,
        ):
            return None
        if not delivery.is_test:
            _channel_failed(delivery.channel_id, error, now)
        return DeliveryStatus.FAILED


def max_attempts() -> int:
    return int(getattr(settings, "ALERT_MAX_ATTEMPTS", 8))


def backoff(attempt: int) -> float:
    """Full jitter: uniform in [0, min(cap, base · 2^(attempt-1))] seconds."""
    base = float(getattr(settings, "ALERT_BACKOFF_BASE_SECONDS", 10.0))
    cap = float(getattr(settings, "ALERT_BACKOFF_CAP_SECONDS", 3600.0))
    return random.uniform(0, min(cap, base * 2 ** (attempt - 1)))


def _channel_succeeded(channel_id: int) -> None:
    AlertChannel.objects.filter(pk=channel_id).exclude(
        consecutive_failures=0, state=ChannelState.OK
    ).update(consecutive_failures=0, state=ChannelState.OK, failing_since=None, last_error="")


def _channel_failed(channel_id: int, error: str, now: dt.datetime) -> None:
    """Count a failed delivery; the one that reaches the limit marks the channel failing and
    tells the workspace's owners (once per failing spell)."""
    AlertChannel.objects.filter(pk=channel_id).update(
        consecutive_failures=F("consecutive_failures") + 1, last_error=error
    )
    limit = int(getattr(settings, "ALERT_CHANNEL_FAILING_AFTER", 3))
    became_failing = AlertChannel.objects.filter(
        pk=channel_id, state=ChannelState.OK, consecutive_failures__gte=limit
    ).update(state=ChannelState.FAILING, failing_since=now)
    if became_failing:
        tell_owners_channel_failing(AlertChannel.objects.get(pk=channel_id))


def sweep(now: dt.datetime | None = None) -> dict[str, int]:
    """Hand out again what no worker finished: leases that ended (a killed worker) and pending
    deliveries overdue by a lease (their task was lost). Safe to run anywhere, any time."""
    now = now or timezone.now()
    counts = {"deliveries_resent": 0}
    expired = AlertDelivery.objects.filter(status=DeliveryStatus.SENDING, lease_until__lt=now)
    for pk, attempts in expired.values_list("pk", "attempts"):
        if AlertDelivery.objects.filter(
            pk=pk, status=DeliveryStatus.SENDING, attempts=attempts, lease_until__lt=now
        ).update(status=DeliveryStatus.PENDING, lease_until=None, next_attempt_at=now):
            enqueue_delivery(pk)
            counts["deliveries_resent"] += 1
    overdue = now - dt.timedelta(seconds=lease_seconds())
    stuck = AlertDelivery.objects.filter(
        Q(status=DeliveryStatus.PENDING) & Q(next_attempt_at__lt=overdue)
    )
    for pk in stuck.values_list("pk", flat=True)[:1000]:
        # Pushed forward so the next sweep does not send it again while this task waits.
        AlertDelivery.objects.filter(pk=pk, status=DeliveryStatus.PENDING).update(
            next_attempt_at=now
        )
        enqueue_delivery(pk)
        counts["deliveries_resent"] += 1
    return counts
