"""OperationRunCompleted: the only way terminal run news reaches people and other domains.

Listeners (notifications, connection health, audit) are connected in OperationsConfig.ready().
"""

from __future__ import annotations

import logging

from django.db import transaction
from django.dispatch import Signal

from tenantatlas.operations.models import OperationRun

logger = logging.getLogger(__name__)

# sender=OperationRun, run=<OperationRun>
operation_run_completed = Signal()


def emit_run_completed(run_id: int) -> None:
    """Send the event after the finalizing transaction commits."""

    def send() -> None:
        run = OperationRun.objects.select_related("connection", "workspace", "requested_by").get(
            pk=run_id
        )
        for receiver, result in operation_run_completed.send_robust(sender=OperationRun, run=run):
            if isinstance(result, Exception):
                logger.error(
                    "Listener %s failed for run %s: %s", receiver, run_id, result, exc_info=result
                )

    transaction.on_commit(send)
