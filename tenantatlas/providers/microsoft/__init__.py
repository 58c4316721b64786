"""The Microsoft provider module: health check, inventory sync and compliance snapshot over Graph.

ProvidersConfig.ready() registers CAPABILITIES in the operations registry.
"""

from __future__ import annotations

from tenantatlas.operations.handlers import (
    ComplianceSnapshotter,
    Handler,
    HealthCheck,
    InventoryCollector,
)
from tenantatlas.providers.microsoft.compliance import compliance_snapshot
from tenantatlas.providers.microsoft.health import health_check
from tenantatlas.providers.microsoft.inventory import inventory_sync

PROVIDER = "microsoft"

CAPABILITIES: tuple[tuple[type, Handler], ...] = (
    (HealthCheck, health_check),
    (InventoryCollector, inventory_sync),
    (ComplianceSnapshotter, compliance_snapshot),
)

__all__ = ["CAPABILITIES", "PROVIDER", "compliance_snapshot", "health_check", "inventory_sync"]
