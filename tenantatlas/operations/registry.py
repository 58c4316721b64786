"""One declaration per operation type. Unknown types are refused.

Time limits are configuration (settings.OPERATION_TIMEOUTS, TENANTATLAS_OPERATION_TIMEOUT_<TYPE>):
the RQ job timeout is derived from them so RQ never ends a run before its own limit does.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings

from tenantatlas.lib.errors import InvalidInput
from tenantatlas.workspaces.capabilities import PROVIDER_RUN


@dataclass(frozen=True)
class OperationType:
    key: str
    label: str
    capability: str
    interface: str  # the provider capability (providers/capabilities.py) that carries it out
    timeout_seconds: int  # from settings.OPERATION_TIMEOUTS
    action_label: str


OPERATIONS: dict[str, OperationType] = {
    op.key: op
    for op in (
        OperationType(
            key="provider.health_check",
            label="Connection check",
            capability=PROVIDER_RUN,
            interface="HealthCheck",
            timeout_seconds=settings.OPERATION_TIMEOUTS["provider.health_check"],
            action_label="Check connection",
        ),
        OperationType(
            key="inventory.sync",
            label="Inventory sync",
            capability=PROVIDER_RUN,
            interface="InventoryCollector",
            timeout_seconds=settings.OPERATION_TIMEOUTS["inventory.sync"],
            action_label="Inventory sync",
        ),
        OperationType(
            key="compliance.snapshot",
            label="Compliance snapshot",
            capability=PROVIDER_RUN,
            interface="ComplianceSnapshotter",
            timeout_seconds=settings.OPERATION_TIMEOUTS["compliance.snapshot"],
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
