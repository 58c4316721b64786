"""The alerts' periodic work, run by the reaper loop (``manage.py reap --loop``): hand out
deliveries no worker finished, send the digests whose window ended, the scans for events that
happen by time passing (a credential nearing expiry, data getting old), and retention.

Scans belong to the domains that own their data and register here from their ``ready()``
(``register_scan``): alerts never imports them.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable

from django.conf import settings
from django.utils import timezone

from tenantatlas.alerts.delivery import sweep
from tenantatlas.alerts.models import AlertDelivery, AlertEvent, DeliveryStatus
from tenantatlas.alerts.services import send_due_digests

logger = logging.getLogger(__name__)

Scan = Callable[[dt.datetime], int]
_scans: dict[str, Scan] = {}


def register_scan(name: str, scan: Scan) -> None:
    """``scan(now)`` raises the events due by ``now`` and answers how many it raised."""
    _scans[name] = scan


def tick(now: dt.datetime | None = None) -> dict[str, int]:
    now = now or timezone.now()
    counts = {"alert_events": 0}
    for name, scan in _scans.items():
        try:
            counts["alert_events"] += scan(now)
        except Exception:
            logger.exception("Alert scan %s failed; the next tick tries again", name)
    counts["digests"] = send_due_digests(now)
    counts.update(sweep(now))
    counts["alerts_pruned"] = prune(now)
    return counts


def prune(now: dt.datetime, batch: int = 5000) -> int:
    """Forget events and finished deliveries older than ``ALERT_RETENTION_DAYS`` (a batch per
    tick, oldest first); open deliveries and the alerts they carry are kept."""
    days = int(getattr(settings, "ALERT_RETENTION_DAYS", 90))
    before = now - dt.timedelta(days=days)
    old = AlertDelivery.objects.filter(
        created_at__lt=before, status__in=[DeliveryStatus.DELIVERED, DeliveryStatus.FAILED]
    ).order_by("created_at")
    ids = list(old.values_list("pk", flat=True)[:batch])
    AlertDelivery.objects.filter(pk__in=ids).delete()
    events = AlertEvent.objects.filter(occurred_at__lt=before).exclude(
        alerts__deliveries__status__in=[DeliveryStatus.PENDING, DeliveryStatus.SENDING]
    )
    event_ids = list(events.order_by("occurred_at").values_list("pk", flat=True)[:batch])
    AlertEvent.objects.filter(pk__in=event_ids).delete()
    return len(ids) + len(event_ids)
