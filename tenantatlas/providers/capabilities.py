"""What a provider module can do. Microsoft implements the first three; the rest are declared
placeholders that report "not supported" cleanly until a module implements them."""

from __future__ import annotations

from collections.abc import Callable
from importlib import import_module
from typing import TYPE_CHECKING, Protocol

from tenantatlas.lib.reasons import ProviderError

if TYPE_CHECKING:
    from tenantatlas.operations.worker import RunContext, RunOutcome


class HealthCheck(Protocol):
    def health_check(self, ctx: RunContext) -> RunOutcome: ...


class InventoryCollector(Protocol):
    def inventory_sync(self, ctx: RunContext) -> RunOutcome: ...


class ComplianceSnapshotter(Protocol):
    def compliance_snapshot(self, ctx: RunContext) -> RunOutcome: ...


class BackupExporter(Protocol):
    """Future: export policy configuration as a restorable backup."""

    def backup_export(self, ctx: RunContext) -> RunOutcome: ...


class Remediator(Protocol):
    """Future: write operations (v1 is read-only, so nothing implements it)."""

    def remediate(self, ctx: RunContext) -> RunOutcome: ...


PROVIDER_MODULES: dict[str, str] = {"microsoft": "tenantatlas.providers.microsoft"}

INTERFACE_METHODS: dict[str, str] = {
    "HealthCheck": "health_check",
    "InventoryCollector": "inventory_sync",
    "ComplianceSnapshotter": "compliance_snapshot",
    "BackupExporter": "backup_export",
    "Remediator": "remediate",
}


def capability_handler(provider: str, interface: str) -> Callable[[RunContext], RunOutcome]:
    """The provider module's implementation of an interface, or an 'unsupported' error."""
    module = import_module(PROVIDER_MODULES[provider])
    method = getattr(module, INTERFACE_METHODS[interface], None)
    if method is None:
        raise ProviderError(
            "operation.unsupported",
            f"The {provider} provider does not support {interface} yet.",
        )
    return method
