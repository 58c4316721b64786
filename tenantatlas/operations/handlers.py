"""What a handler works with: the types the worker and the provider modules share.

A handler is one capability of a provider module (HealthCheck, InventoryCollector,
ComplianceSnapshotter): it receives a RunContext and returns a RunOutcome. Everything else is the
worker's: claiming, heartbeat, time limit, what an exception means, the completion event.
Provider modules import this module, never the worker; the worker finds a handler through
``operations.registry``, where a provider app registers its implementations when it is ready.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol

if TYPE_CHECKING:
    from tenantatlas.lib.sanitize import Redactor
    from tenantatlas.operations.models import OperationRun

# The statuses a handler may end its run with (values of models.RunStatus). A failure the handler
# can explain is better raised as a ProviderError; a health check that found the connection
# unhealthy returns FAILED together with what it found.
OutcomeStatus = Literal["succeeded", "partially_succeeded", "failed"]
SUCCEEDED: OutcomeStatus = "succeeded"
PARTIALLY_SUCCEEDED: OutcomeStatus = "partially_succeeded"
FAILED: OutcomeStatus = "failed"


@dataclass(frozen=True)
class RunOutcome:
    """How a handler's work ended: status, counts for the run page, facts kept in the context."""

    status: OutcomeStatus = SUCCEEDED
    summary_counts: dict[str, Any] = field(default_factory=dict)
    context: dict[str, Any] = field(default_factory=dict)
    reason_code: str = ""
    message: str = ""


class RunStopped(Exception):
    """Raised by ``check_stop()`` when the run was cancelled or ran out of time: let it pass."""

    def __init__(self, reason_code: str, message: str) -> None:
        super().__init__(message)
        self.reason_code = reason_code
        self.message = message


class RunHandedBack(Exception):
    """Raised by ``check_stop()`` when this worker is stopping: another worker takes the run."""


class RunContext(Protocol):
    """What a handler may touch: its run (with its connection), progress, cooperative stop and
    the redactor every secret it handles is registered with."""

    @property
    def run(self) -> OperationRun: ...

    @property
    def redactor(self) -> Redactor: ...

    def progress(self, done: int, total: int | None = None, *, force: bool = False) -> None:
        """Record progress (written at most twice a second unless forced)."""

    def check_stop(self) -> None:
        """Call at page boundaries: raises RunStopped or RunHandedBack."""


Handler = Callable[[RunContext], RunOutcome]


class HealthCheck(Protocol):
    """Can the connection authenticate, with which permissions, against the right tenant?"""

    def __call__(self, ctx: RunContext, /) -> RunOutcome: ...


class InventoryCollector(Protocol):
    """Read every inventory kind of the tenant and store what was observed."""

    def __call__(self, ctx: RunContext, /) -> RunOutcome: ...


class ComplianceSnapshotter(Protocol):
    """Count the tenant's devices by compliance state at this moment."""

    def __call__(self, ctx: RunContext, /) -> RunOutcome: ...
