"""Writing audit events. Callers are service functions, inside their own transaction."""

from __future__ import annotations

from typing import Any

from django.db import models

from tenantatlas.audit.models import AuditEvent
from tenantatlas.lib import request_context
from tenantatlas.lib.actors import Actor, actor_label, user_or_none
from tenantatlas.lib.sanitize import sanitize, sanitize_data
from tenantatlas.workspaces.models import Workspace


def record_event(
    *,
    workspace: Workspace,
    actor: Actor | None,
    action: str,
    target: models.Model | None = None,
    metadata: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one audit event; metadata is sanitized, the request context fills ip/request id.

    ``actor=None`` is recorded as the system, like a SystemActor: the gateway and the run
    framework still pass it until they name their SystemActor.
    """
    context = request_context.current()
    if context.api_token_id is not None:
        metadata = {**(metadata or {}), "api_token_id": context.api_token_id}
    return AuditEvent.objects.create(
        workspace=workspace,
        actor=user_or_none(actor),
        actor_label=actor_label(actor),
        action=action,
        target_type=(target._meta.model_name or "") if target is not None else "",
        target_id=str(target.pk) if target is not None else "",
        target_label=sanitize(str(target), limit=200) if target is not None else "",
        metadata=sanitize_data(metadata or {}),
        ip=context.ip,
        request_id=context.request_id or "",
        via=context.via,
    )
