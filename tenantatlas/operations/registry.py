"""One declaration per operation type, and the provider capabilities that carry them out.

Unknown operation types are refused. Time limits are configuration (settings.OPERATION_TIMEOUTS,
TENANTATLAS_OPERATION_TIMEOUT_<TYPE>): the RQ job timeout is derived from them so RQ never ends a
run before its own limit does.

Provider apps register their implementations of the capabilities (``register_capability``, from
their AppConfig.ready()); the worker asks ``capability_handler`` for the one a run needs. A
capability no provider implements answers ``operation.unsupported``, it never crashes a run.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings

from tenantatlas.lib.errors import InvalidInput
from tenantatlas.lib.reasons import ProviderError
from tenantatlas.operations.handlers import Handler
from tenantatlas.workspaces.capabilities import PROVIDER_RUN

# Capabilities a provider module may implement (signatures in operations/handlers.py). Backup and
# remediation are declared for future modules: none implements them yet, so an operation that
# needs one ends as "not supported" (v1 is read-only).
CAPABILITIES: dict[str, str] = {
    "HealthCheck": "connection checks",
    "InventoryCollector": "inventory collection",
    "ComplianceSnapshotter": "compliance snapshots",
    "BackupExporter": "configuration backups",
    "Remediator": "remediation",
}


@dataclass(frozen=True)
class OperationType:
    key: str
    label: str
    capability: str
    interface: str  # the provider capability (a key of CAPABILITIES) that carries it out
    timeout_seconds: int  # from settings.OPERATION_TIMEOUTS
    action_label: str
    queue: str  # the task queue its runs wait in (settings.TASK_QUEUES)


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
            queue=settings.TASK_QUEUE_INTERACTIVE,
        ),
        OperationType(
            key="inventory.sync",
            label="Inventory sync",
            capability=PROVIDER_RUN,
            interface="InventoryCollector",
            timeout_seconds=settings.OPERATION_TIMEOUTS["inventory.sync"],
            action_label="Inventory sync",
            queue=settings.TASK_QUEUE_BULK,
        ),
        OperationType(
            key="compliance.snapshot",
            label="Compliance snapshot",
            capability=PROVIDER_RUN,
            interface="ComplianceSnapshotter",
            timeout_seconds=settings.OPERATION_TIMEOUTS["compliance.snapshot"],
            action_label="Compliance snapshot",
            queue=settings.TASK_QUEUE_INTERACTIVE,
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


_HANDLERS: dict[tuple[str, str], Handler] = {}


def register_capability(*, provider: str, interface: type, handler: Handler) -> None:
    """Declare ``handler`` as ``provider``'s implementation of ``interface`` (a Protocol of
    operations/handlers.py). Called once per capability from the provider app's ready()."""
    if interface.__name__ not in CAPABILITIES:
        raise ValueError(f"Unknown capability {interface.__name__!r}.")
    _HANDLERS[(provider, interface.__name__)] = handler


def capability_handler(provider: str, interface: str) -> Handler:
    """The provider's implementation of ``interface``; ``operation.unsupported`` if it has none."""
    try:
        return _HANDLERS[(provider, interface)]
    except KeyError:
        label = CAPABILITIES.get(interface, interface)
        raise ProviderError(
            "operation.unsupported", f"The {provider} provider does not support {label} yet."
        ) from None
