"""OperationRunCompleted: the only way terminal run news reaches people and other domains.

The run's terminal transitions (models.RunQuerySet) send it once their transaction commits.
Listeners: the requester's notification and the audit entry (OperationsConfig.ready()), the
connection's health (ProvidersConfig.ready()). The run-ended hooks are called inside that
transaction, for what must commit with the run's end: the alert event of a failed run.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.db import models, transaction
from django.dispatch import Signal

logger = logging.getLogger(__name__)

# sender=OperationRun, run=<OperationRun>
operation_run_completed = Signal()
# Called with the run id INSIDE the terminal move's transaction, so what a hook writes (an
# alert event: the outbox) commits with the run's end or not at all (on_run_ended()).
_run_ended_hooks: list[Callable[[int], None]] = []


def on_run_ended(hook: Callable[[int], None]) -> None:
    """Register ``hook(run_id)`` for every terminal move (once per hook)."""
    if hook not in _run_ended_hooks:
        _run_ended_hooks.append(hook)


def send_run_ended(run_id: int) -> None:
    """Call the in-transaction hooks; each runs in a savepoint, and one that fails is logged
    and rolled back alone: the run still ends."""
    for hook in _run_ended_hooks:
        try:
            with transaction.atomic():
                hook(run_id)
        except Exception:
            logger.exception("Run-ended hook %s failed for run %s", hook, run_id)


def send_run_completed(run: models.Model) -> None:
    """Tell every listener; one that fails is logged, and the others still hear of the run."""
    for receiver, result in operation_run_completed.send_robust(sender=type(run), run=run):
        if isinstance(result, Exception):
            logger.error(
                "Listener %s failed for run %s: %s", receiver, run.pk, result, exc_info=result
            )
