"""Operations and their runs: start (202 new, 200 deduplicated, 409 scope busy), cancel, read."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import Path, Query, Router, Status

from tenantatlas.api.auth import principal
from tenantatlas.api.errors import CHANGE_ERRORS, COMMON_ERRORS
from tenantatlas.api.pagination import NEWEST_FIRST, cursor_page
from tenantatlas.api.schemas import (
    MAX_ID,
    CursorParams,
    ErrorOut,
    RunFilters,
    RunOut,
    RunPage,
    ScopeBusyOut,
    StartOperationIn,
)
from tenantatlas.operations.models import OperationRun, Trigger
from tenantatlas.operations.services import cancel_run, start_operation
from tenantatlas.providers.models import ProviderConnection
from tenantatlas.workspaces.access import get_object_for_member
from tenantatlas.workspaces.capabilities import PROVIDER_RUN, PROVIDER_VIEW

router = Router(tags=["runs"])

RunId = Path(..., ge=1, le=MAX_ID, description="A run id of the token's workspace.")


def _runs() -> Any:
    return OperationRun.objects.select_related("connection")


@router.post(
    "/runs",
    # 503 `queue.unavailable`: the queue did not take the run (it was failed; try again)
    response={200: RunOut, 202: RunOut, **CHANGE_ERRORS, 409: ScopeBusyOut, 503: ErrorOut},
    operation_id="start_operation",
)
def start(request: HttpRequest, payload: StartOperationIn) -> Any:
    """Start an operation on a connection: **202** with the new queued run; **200** with the
    active run when the same operation is already queued or running; **409** `scope_busy` with the
    active run when another operation is queued or running on the same Entra tenant, or
    `connection_disabled` when the connection is disabled."""
    me = principal(request, PROVIDER_RUN)
    connection = get_object_for_member(
        ProviderConnection.objects, me.member, pk=payload.connection_id
    )
    result = start_operation(
        actor=me.user,
        member=me.member,
        connection=connection,
        operation_type=payload.operation_type,
        trigger=Trigger.API,
    )
    run = _runs().get(pk=result.run.pk)
    return Status(202 if result.created else 200, run)


@router.get("/runs", response={200: RunPage, **COMMON_ERRORS}, operation_id="list_runs")
def list_runs(request: HttpRequest, filters: Query[RunFilters], page: Query[CursorParams]) -> Any:
    """Runs of the workspace, newest first (cursor pages)."""
    me = principal(request, PROVIDER_VIEW)
    runs = OperationRun.objects.for_workspace(me.workspace).select_related("connection")
    if filters.status:
        runs = runs.filter(status=filters.status)
    if filters.operation_type:
        runs = runs.filter(operation_type=filters.operation_type)
    if filters.connection_id:
        runs = runs.filter(connection_id=filters.connection_id)
    return cursor_page(runs, NEWEST_FIRST, page.cursor, page.limit)


@router.get("/runs/{run_id}", response={200: RunOut, **COMMON_ERRORS}, operation_id="get_run")
def get_run(request: HttpRequest, run_id: int = RunId) -> Any:
    me = principal(request, PROVIDER_VIEW)
    return get_object_for_member(_runs(), me.member, pk=run_id)


@router.post(
    "/runs/{run_id}/cancel", response={200: RunOut, **CHANGE_ERRORS}, operation_id="cancel_run"
)
def cancel(request: HttpRequest, run_id: int = RunId) -> Any:
    """A queued run ends at once; a running run stops at its next page boundary."""
    me = principal(request, PROVIDER_RUN)
    run = get_object_for_member(_runs(), me.member, pk=run_id)
    cancel_run(actor=me.user, member=me.member, run=run)
    return _runs().get(pk=run.pk)
