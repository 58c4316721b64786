"""The change history: what inventory syncs found created, changed or removed. Database reads only."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import Query, Router

from tenantatlas.api.auth import principal
from tenantatlas.api.change_schemas import ChangePage, ChangeQuery
from tenantatlas.api.errors import COMMON_ERRORS
from tenantatlas.api.pagination import cursor_page
from tenantatlas.api.schemas import CursorParams
from tenantatlas.inventory.change_forms import (
    NEWEST_FIRST,
    SINCE_AFTER_UNTIL,
    ChangeFilters,
    workspace_changes,
)
from tenantatlas.lib.errors import InvalidInput
from tenantatlas.workspaces.capabilities import PROVIDER_VIEW

router = Router(tags=["changes"])


@router.get("/changes", response={200: ChangePage, **COMMON_ERRORS}, operation_id="list_changes")
def list_changes(
    request: HttpRequest, filters: Query[ChangeQuery], page: Query[CursorParams]
) -> Any:
    """Changes of the workspace's inventory, newest first (cursor pages), filtered like the
    Changes page; `item_id` gives one item's history, `run_id` what one sync found."""
    me = principal(request, PROVIDER_VIEW)
    if filters.since and filters.until and filters.since > filters.until:
        raise InvalidInput(SINCE_AFTER_UNTIL, field="until")
    chosen = ChangeFilters(**filters.dict())
    changes = chosen.apply(workspace_changes(me.workspace)).select_related("connection")
    return cursor_page(changes, NEWEST_FIRST, page.cursor, page.limit)
