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
    interface: str  # the provider capability (providers/capabilities.py) that carries it out
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
            timeout_seconds=300,
            action_label="Check connection",
        ),
        OperationType(
            key="inventory.sync",
            label="Inventory sync",
            capability=PROVIDER_RUN,
            interface="InventoryCollector",
            timeout_seconds=3 * 3600,
            action_label="Inventory sync",
        ),
        OperationType(
            key="compliance.snapshot",
            label="Compliance snapshot",
            capability=PROVIDER_RUN,
            interface="ComplianceSnapshotter",
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
