"""The stale-device rule, in one place for the devices list and the compliance snapshot.

A managed device is stale when it has not synced with Intune for `settings.COMPLIANCE_STALE_DAYS`
days, or never has (no `lastSyncDateTime`), as of when TenantAtlas observed it: the inventory
sync asks `rule.is_stale(synced)` of each device it stores and keeps the answer
(`InventoryItem.is_stale`, like every other field as last observed); the snapshot asks it of each
device it counts. The list filters stored devices with `rule.condition` (devices not removed,
stale when observed) and the overview counts them from the per-connection summaries, so the two
agree until the next sync. A changed stale period applies from the next sync on.
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
    condition = Q(kind=InventoryKind.MANAGED_DEVICE, removed_at__isnull=True, is_stale=True)
    return StaleRule(before, condition)
