"""The Microsoft provider module: health check, inventory sync and compliance snapshot over Graph."""

from tenantatlas.providers.microsoft.compliance import compliance_snapshot
from tenantatlas.providers.microsoft.health import health_check
from tenantatlas.providers.microsoft.inventory import inventory_sync

__all__ = ["compliance_snapshot", "health_check", "inventory_sync"]
