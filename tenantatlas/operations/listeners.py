"""Reactions to OperationRunCompleted: the requester's notification and the audit entry.

(Connection health is the providers app's listener: providers/listeners.py.)
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.urls import reverse

from tenantatlas.audit.services import record_event
from tenantatlas.lib.actors import RUN_COMPLETION
from tenantatlas.notifications.services import notify
from tenantatlas.operations.models import OperationRun
from tenantatlas.operations.notices import completion_notice


def notify_requester(sender: Any, run: OperationRun, **kwargs: Any) -> None:
    if run.requested_by_id is None:
        return
    title, body = completion_notice(run)
    notify(
        user=run.requested_by,
        workspace=run.workspace,
        kind=f"run.{run.status}",
        title=title,
        body=body,
        url=reverse("operations:run", kwargs={"slug": run.workspace.slug, "pk": run.pk}),
    )


def audit_completion(sender: Any, run: OperationRun, **kwargs: Any) -> None:
    with transaction.atomic():
        record_event(
            workspace=run.workspace,
            actor=RUN_COMPLETION,
            action="operation.finished",
            target=run,
            metadata={
                "operation_type": run.operation_type,
                "status": run.status,
                "reason_code": run.reason_code,
                "summary": run.summary_counts,
            },
        )
