"""The alerts' periodic work, run by the reaper loop (``manage.py reap --loop``): hand out
deliveries no worker finished, send the digests whose window ended, and the scans for events
that happen by time passing (a credential nearing expiry, data getting old).

Scans belong to the domains that own their data and register here from their ``ready()``
(``register_scan``): alerts never imports them.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable

from django.utils import timezone

from tenantatlas.alerts.delivery import sweep
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
    return counts
