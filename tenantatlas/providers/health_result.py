"""What a connection check found: one typed value from the check to the connection's row.

The Microsoft health check creates it, the run carries it as JSON in its context (``"health"``),
and the providers listener reads it back once and records it on the connection. A run of any
operation that failed for a reason that ``affects_health`` (lib/reasons.py) makes one too.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from django.utils.dateparse import parse_datetime

from tenantatlas.providers.models import Health

_DATES = ("checked_at", "credential_expires_at")
_PERMISSIONS = ("granted", "missing", "extra")


@dataclasses.dataclass(frozen=True)
class HealthResult:
    """A connection's health as one check (or one failed run) saw it.

    Permissions are None when the check did not get as far as reading them: the connection then
    keeps the permissions it had. Intune is "licensed", "unlicensed" or "not_checked".
    """

    health: str  # a Health value
    reason_code: str = ""
    message: str = ""
    granted: tuple[str, ...] | None = None
    missing: tuple[str, ...] | None = None
    extra: tuple[str, ...] | None = None
    tenant_name: str = ""
    default_domain: str = ""
    intune: str = ""
    intune_error: str = ""
    enrolled_devices: int | None = None
    credential_expires_at: dt.datetime | None = None
    checked_at: dt.datetime | None = None

    @classmethod
    def of_failed_run(cls, reason_code: str, message: str) -> HealthResult:
        """Unhealthy, as a run that failed for a reason about the connection says."""
        return cls(health=Health.UNHEALTHY, reason_code=reason_code, message=message)

    def but(self, health: str, reason_code: str, message: str) -> HealthResult:
        """The same findings with another verdict."""
        return dataclasses.replace(self, health=health, reason_code=reason_code, message=message)

    def to_json(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        for name in _DATES:
            data[name] = data[name].isoformat() if data[name] else None
        for name in _PERMISSIONS:
            data[name] = None if data[name] is None else list(data[name])
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> HealthResult:
        known = {f.name for f in dataclasses.fields(cls)}
        values = {name: value for name, value in data.items() if name in known}
        for name in _DATES:
            raw = values.get(name)
            values[name] = parse_datetime(raw) if isinstance(raw, str) and raw else None
        for name in _PERMISSIONS:
            if values.get(name) is not None:
                values[name] = tuple(values[name])
        values.setdefault("health", Health.UNKNOWN)
        return cls(**values)
