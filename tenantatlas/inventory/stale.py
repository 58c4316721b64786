"""The stale-device rule, in one place for the devices list and the compliance snapshot.

A managed device is stale when it has not synced with Intune for `settings.COMPLIANCE_STALE_DAYS`
days, or never has (no `lastSyncDateTime`). The list filters stored devices with `rule.condition`
(devices not removed); the snapshot, counting Graph's devices as it pages, asks
`rule.is_stale(synced)` of each one.
"""

from __future__ import annotations

import datetime as dt
from typing import NamedTuple

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from tenantatlas.inventory.models import InventoryKind


class StaleRule(NamedTuple):
    """`before`: the cut-off (synced earlier = stale); `condition`: the stale stored devices."""

    before: dt.datetime
    condition: Q

    def is_stale(self, last_sync: dt.datetime | None) -> bool:
        return last_sync is None or last_sync < self.before


def stale_device_rule(now: dt.datetime | None = None, *, days: int | None = None) -> StaleRule:
    """The rule as of `now` (default: now) for `days` (default: COMPLIANCE_STALE_DAYS)."""
    stale_days = settings.COMPLIANCE_STALE_DAYS if days is None else days
    before = (now or timezone.now()) - dt.timedelta(days=stale_days)
    condition = Q(kind=InventoryKind.MANAGED_DEVICE, removed_at__isnull=True) & (
        Q(last_sync_at__lt=before) | Q(last_sync_at__isnull=True)
    )
    return StaleRule(before, condition)
