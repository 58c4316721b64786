"""A check's findings travel as one typed value: what the run stores is what the listener reads."""

from __future__ import annotations

import datetime as dt

from tenantatlas.providers.health_result import HealthResult
from tenantatlas.providers.models import Health


def test_it_reads_back_what_it_wrote_into_the_run_context() -> None:
    found = HealthResult(
        health=Health.DEGRADED,
        reason_code="credential.expiring",
        message="The credential expires on 2031-01-01.",
        granted=("DeviceManagementManagedDevices.Read.All",),
        missing=("DeviceManagementApps.Read.All",),
        extra=(),
        tenant_name="Contoso Ltd",
        default_domain="contoso.onmicrosoft.com",
        intune="licensed",
        enrolled_devices=42,
        credential_expires_at=dt.datetime(2031, 1, 1, tzinfo=dt.UTC),
        checked_at=dt.datetime(2030, 12, 20, 8, 30, tzinfo=dt.UTC),
    )
    stored = found.to_json()
    assert stored["intune"] == "licensed"
    assert stored["missing"] == ["DeviceManagementApps.Read.All"]
    assert stored["credential_expires_at"] == "2031-01-01T00:00:00+00:00"
    assert HealthResult.from_json(stored) == found


def test_it_leaves_permissions_alone_when_a_failed_run_only_says_unhealthy() -> None:
    found = HealthResult.of_failed_run("auth.invalid_client_secret", "Rejected.")
    assert (found.health, found.reason_code, found.message) == (
        Health.UNHEALTHY,
        "auth.invalid_client_secret",
        "Rejected.",
    )
    assert (found.granted, found.missing, found.extra) == (None, None, None)
    assert HealthResult.from_json(found.to_json()) == found
    assert HealthResult.from_json({"health": "healthy", "unknown_key": 1}).health == "healthy"
