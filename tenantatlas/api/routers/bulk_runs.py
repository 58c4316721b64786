"""Bulk starts: one operation on every connection of the workspace, or on those a filter picks.

Each connection goes through the same start gate as ``POST /runs`` (its own transaction and audit
row); the answer is the summary: started, already running (deduplicated), busy (another operation
on that Entra tenant) and skipped (disabled, not permitted, or not started because the queue
refused a run), each with its count and up to 50 connections.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal

from django.http import HttpRequest
from ninja import Field, Router, Schema, Status

from tenantatlas.api.auth import principal
from tenantatlas.api.errors import CHANGE_ERRORS, error_body
from tenantatlas.api.schemas import ErrorDetail, OperationType, Text
from tenantatlas.lib.errors import InvalidInput
from tenantatlas.lib.reasons import get_reason
from tenantatlas.operations.bulk import BulkGroup, BulkStartSummary, start_on_connections
from tenantatlas.operations.models import Trigger
from tenantatlas.providers.filters import EXPIRY_CHOICES, HEALTH_CHOICES, ConnectionFilterForm
from tenantatlas.providers.models import ConnectionStatus, ProviderConnection
from tenantatlas.workspaces.capabilities import PROVIDER_RUN

router = Router(tags=["runs"])

if TYPE_CHECKING:
    type HealthName = str
    type StatusName = str
    type ExpiryName = str
else:  # the Connections list's own values (providers/filters.py)
    HealthName = Literal[tuple(value for value, _ in HEALTH_CHOICES if value)]
    StatusName = Literal[tuple(ConnectionStatus.values)]
    ExpiryName = Literal[tuple(value for value, _ in EXPIRY_CHOICES if value)]


class ConnectionFilterIn(Schema):
    """The Connections list's filter: the live connections it shows are the ones started on."""

    health: HealthName | None = None
    status: StatusName | None = None
    expiry: ExpiryName | None = Field(
        None, description="`expired`, expiring within `7`, `30` or `60` days, or `none` set."
    )
    q: Annotated[Text, Field(max_length=100)] | None = Field(
        None, description="Searches names, tenant ids and domains."
    )


class BulkStartIn(Schema):
    operation_type: OperationType
    filter: ConnectionFilterIn | None = Field(
        None, description="Without one: every live connection of the workspace."
    )


class BulkConnectionOut(Schema):
    connection_id: int
    connection_name: str
    run_id: int | None = Field(
        description="The new run, the one already running, or the one keeping the tenant busy."
    )
    reason: str = Field(
        description="Skipped: `connection_disabled`, `forbidden`, `queue.unavailable` or "
        "`deleted`. Busy: the active operation and its state. Otherwise empty."
    )


class BulkGroupOut(Schema):
    count: int
    connections: list[BulkConnectionOut] = Field(description="The first 50 of the group.")
    more: int = Field(description="Counted but not listed.")


class BulkStartOut(Schema):
    operation_type: str
    total: int
    started: BulkGroupOut
    deduplicated: BulkGroupOut
    busy: BulkGroupOut
    skipped: BulkGroupOut


class QueueStoppedDetail(ErrorDetail):
    summary: BulkStartOut = Field(description="What was started before the queue refused a run.")


class QueueStoppedOut(Schema):
    """503 `queue.unavailable`: the queue refused a run; the rest were not started."""

    error: QueueStoppedDetail


def _group(group: BulkGroup) -> dict[str, Any]:
    return {
        "count": group.count,
        "connections": [
            {
                "connection_id": item.connection_id,
                "connection_name": item.name,
                "run_id": item.run_id,
                "reason": item.reason,
            }
            for item in group.items
        ],
        "more": group.more,
    }


def _summary(summary: BulkStartSummary) -> dict[str, Any]:
    groups = {key: _group(group) for key, _, group in summary.groups()}
    return {"operation_type": summary.operation_type, "total": summary.total, **groups}


@router.post(
    "/runs/bulk",
    response={202: BulkStartOut, **CHANGE_ERRORS, 503: QueueStoppedOut},
    operation_id="start_operation_in_bulk",
)
def start_in_bulk(request: HttpRequest, payload: BulkStartIn) -> Any:
    """Start an operation on every live connection (or those `filter` picks), each through the
    start gate of `POST /runs`: **202** with the summary. **503** `queue.unavailable` (with the
    summary) when the queue refused a run: the rest were not started; try again later."""
    me = principal(request, PROVIDER_RUN)
    filters = payload.filter.model_dump(exclude_none=True) if payload.filter else {}
    form = ConnectionFilterForm(filters)
    if form.errors:  # the schema admits only the list's values; never widen to all connections
        raise InvalidInput(f"filter: {form.errors.as_text()}", field="filter")
    summary = start_on_connections(
        actor=me.user,
        member=me.member,
        operation_type=payload.operation_type,
        connections=form.apply(ProviderConnection.objects.for_workspace(me.workspace)),
        trigger=Trigger.API,
        filters=filters,
    )
    if summary.stopped:
        message = get_reason(summary.stopped).message
        return Status(503, error_body(summary.stopped, message, summary=_summary(summary)))
    return Status(202, _summary(summary))
