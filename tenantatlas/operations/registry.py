"""One declaration per operation type. Unknown types are refused."""

from __future__ import annotations

from dataclasses import dataclass

from tenantatlas.lib.errors import InvalidInput
from tenantatlas.workspaces.capabilities import PROVIDER_RUN


@dataclass(frozen=True)
class OperationType:
    key: str
    label: str
    capability: str
    interface: str  # the provider capability module that implements it
    handler: str  # dotted path of `handler(ctx: RunContext) -> RunOutcome`
    timeout_seconds: int
    action_label: str


OPERATIONS: dict[str, OperationType] = {
    op.key: op
    for op in (
        OperationType(
            key="provider.health_check",
            label="Connection check",
            capability=PROVIDER_RUN,
            interface="HealthCheck",
            handler="tenantatlas.operations.handlers.run_health_check",
            timeout_seconds=300,
            action_label="Check connection",
        ),
        OperationType(
            key="inventory.sync",
            label="Inventory sync",
            capability=PROVIDER_RUN,
            interface="InventoryCollector",
            handler="tenantatlas.operations.handlers.run_inventory_sync",
            timeout_seconds=3 * 3600,
            action_label="Inventory sync",
        ),
        OperationType(
            key="compliance.snapshot",
            label="Compliance snapshot",
            capability=PROVIDER_RUN,
            interface="ComplianceSnapshotter",
            handler="tenantatlas.operations.handlers.run_compliance_snapshot",
            timeout_seconds=3600,
            action_label="Compliance snapshot",
        ),
    )
}

OPERATION_LABELS: dict[str, str] = {key: op.label for key, op in OPERATIONS.items()}
OPERATION_ACTIONS: list[tuple[str, str]] = [
    (key, op.action_label) for key, op in OPERATIONS.items()
]


class UnknownOperation(InvalidInput):
    pass


def get_operation(key: str) -> OperationType:
    try:
        return OPERATIONS[key]
    except KeyError:
        raise UnknownOperation(
            f"Unknown operation type {key!r}.", code="unknown_operation", field="operation_type"
        ) from None
