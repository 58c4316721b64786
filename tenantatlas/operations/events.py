"""OperationRunCompleted: the only way terminal run news reaches people and other domains.

The run's terminal transitions (models.RunQuerySet) send it once their transaction commits.
Listeners: the requester's notification and the audit entry (OperationsConfig.ready()), the
connection's health (ProvidersConfig.ready()).
"""

from __future__ import annotations

import logging

from django.db import models
from django.dispatch import Signal

logger = logging.getLogger(__name__)

# sender=OperationRun, run=<OperationRun>
operation_run_completed = Signal()


def send_run_completed(run: models.Model) -> None:
    """Tell every listener; one that fails is logged, and the others still hear of the run."""
    for receiver, result in operation_run_completed.send_robust(sender=type(run), run=run):
        if isinstance(result, Exception):
            logger.error(
                "Listener %s failed for run %s: %s", receiver, run.pk, result, exc_info=result
            )
