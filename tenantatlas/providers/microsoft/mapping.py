"""Graph payloads → ObservedItem. Display names differ by type (settings catalog uses `name`)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils.dateparse import parse_datetime

from tenantatlas.inventory.observed import ObservedItem
from tenantatlas.lib import dates


def _when(value: Any) -> dt.datetime | None:
    if not isinstance(value, str) or not value:
        return None
    parsed = parse_datetime(value)
    if parsed is None:
        return None
    return dates.in_range_or_none(parsed)  # Graph writes 0001-01-01 for "never"


def device(raw: dict[str, Any]) -> ObservedItem:
    return ObservedItem(
        external_id=str(raw["id"]),
        display_name=str(raw.get("deviceName") or ""),
        raw=raw,
        platform=str(raw.get("operatingSystem") or ""),
        os_version=str(raw.get("osVersion") or ""),
        compliance_state=str(raw.get("complianceState") or ""),
        user_principal_name=str(raw.get("userPrincipalName") or ""),
        last_sync_at=_when(raw.get("lastSyncDateTime")),
        odata_type=str(raw.get("@odata.type") or "#microsoft.graph.managedDevice"),
    )


def policy(raw: dict[str, Any]) -> ObservedItem:
    platforms = raw.get("platforms")
    return ObservedItem(
        external_id=str(raw["id"]),
        display_name=str(raw.get("displayName") or raw.get("name") or ""),
        raw=raw,
        platform=str(platforms or ""),
        odata_type=str(raw.get("@odata.type") or ""),
        last_sync_at=_when(raw.get("lastModifiedDateTime")),
    )


def app(raw: dict[str, Any]) -> ObservedItem:
    return ObservedItem(
        external_id=str(raw["id"]),
        display_name=str(raw.get("displayName") or ""),
        raw=raw,
        platform=str(raw.get("@odata.type") or "").removeprefix("#microsoft.graph."),
        odata_type=str(raw.get("@odata.type") or ""),
        last_sync_at=_when(raw.get("lastModifiedDateTime")),
    )
