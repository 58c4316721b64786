"""The Graph budget settings' checks (tenantatlas/graph/budget/, docs/operations.md)."""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured

STORES = {"auto", "database", "redis", "off"}


def check_store(store: str) -> None:
    if store not in STORES:
        raise ImproperlyConfigured(
            f"TENANTATLAS_GRAPH_BUDGET_STORE={store!r}: use auto, database, redis or off"
        )


def check_limits(
    *,
    tenant_requests: int,
    tenant_seconds: float,
    app_requests: int,
    app_seconds: float,
    burst: float,
    penalty_seconds: float,
    recovery_seconds: float,
) -> None:
    """Requests 1 or more, windows and recovery positive, burst a fraction, penalty not negative."""
    if (
        min(tenant_requests, app_requests) < 1
        or min(tenant_seconds, app_seconds) <= 0
        or not 0 < burst < 1
        or penalty_seconds < 0
        or recovery_seconds <= 0
    ):
        raise ImproperlyConfigured(
            "TENANTATLAS_GRAPH_BUDGET_*: REQUESTS must be 1 or more, SECONDS and RECOVERY_SECONDS "
            "positive, BURST between 0 and 1 (exclusive), PENALTY_SECONDS 0 or more"
        )
