"""The overview's per-tenant table: one row per live connection, sortable, paged.

A page costs the same queries whatever the workspace holds: the count and the page of
connections (joined to their summary, current credential and sync and snapshot schedules, each
at most one row, and reading only the columns the table shows). The problem runs per connection
come from the caller, which shows their sum too.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.core.paginator import Page, Paginator
from django.db.models import Case, F, FilteredRelation, IntegerField, Q, Value, When
from django.db.models.functions import Coalesce
from django.utils import timezone

from tenantatlas.badges.catalog import credential_expiry_state
from tenantatlas.inventory.models import TenantSummary
from tenantatlas.overview.queries import (
    HEALTH_ORDER,
    SNAPSHOT,
    SYNC,
    compliance_share,
    compliant_share_expression,
)
from tenantatlas.providers.models import ProviderConnection, current_credential_relations
from tenantatlas.workspaces.models import Workspace

TENANTS_PER_PAGE = 50
UNSCHEDULED_FRESHNESS = dt.timedelta(days=1)
SCHEDULE_GRACE = dt.timedelta(minutes=30)  # a scheduled run may start late and take a while

_HEALTH_RANK = Case(
    *(When(health=health, then=Value(rank)) for rank, health in enumerate(HEALTH_ORDER)),
    default=Value(len(HEALTH_ORDER)),
    output_field=IntegerField(),
)
# sort key → the column it orders by; "-key" descends. Rows without the figure come last either
# way; ties fall back to the name. An unknown key sorts by health (the worst first).
SORTS = {
    "name": "display_name",
    "health": "health_rank",
    "share": "share",
    "noncompliant": "tenant_summary__noncompliant",
    "devices": "tenant_summary__total",
    "last_sync": "tenant_summary__last_sync_at",
    "last_snapshot": "tenant_summary__last_snapshot_at",
}
# What a row shows of a connection and its summary; the rest is never read.
COLUMNS = (
    "id",
    "display_name",
    "status",
    "health",
    *(
        f"tenant_summary__{column}"
        for column in (
            "id",
            "compliant",
            "noncompliant",
            "total",
            "stale",
            "last_sync_at",
            "last_snapshot_at",
        )
    ),
)
SORT_LABELS = {
    "name": "Connection",
    "health": "Health",
    "share": "Compliant",
    "noncompliant": "Not compliant",
    "devices": "Devices",
    "last_sync": "Last sync",
    "last_snapshot": "Last snapshot",
}


def ordering(sort: str) -> tuple[str, tuple[Any, ...]]:
    """The chosen sort (normalised) and its ORDER BY terms."""
    key = sort.removeprefix("-")
    if key not in SORTS:
        sort = key = "health"
    column = F(SORTS[key])
    first = column.desc(nulls_last=True) if sort.startswith("-") else column.asc(nulls_last=True)
    return sort, (first, F("display_name").asc(), F("id").asc())


@dataclass
class TenantRow:
    connection: ProviderConnection
    summary: TenantSummary | None
    share: float | None
    stale: int
    problems: int
    credential_state: str
    sync_overdue: bool
    snapshot_overdue: bool


def _overdue(when: dt.datetime | None, minutes: int | None, now: dt.datetime) -> bool:
    allowed = dt.timedelta(minutes=minutes) + SCHEDULE_GRACE if minutes else UNSCHEDULED_FRESHNESS
    return when is None or now - when > allowed


def _schedule(operation_type: str) -> FilteredRelation:
    # One per connection and operation (the schedule_one_per_operation constraint).
    return FilteredRelation(
        "schedules",
        condition=Q(schedules__operation_type=operation_type, schedules__enabled=True),
    )


def tenant_page(
    workspace: Workspace, *, sort: str, page_number: Any, problems: Mapping[int | None, int]
) -> tuple[str, Page[Any]]:
    sort, terms = ordering(sort)
    live = ProviderConnection.objects.for_workspace(workspace)
    connections = (
        live.select_related("tenant_summary")
        .annotate(
            health_rank=_HEALTH_RANK,
            share=compliant_share_expression(),
            # A partner app's connection signs in with the partner app's current credential.
            **current_credential_relations(),
            sync_schedule=_schedule(SYNC),
            snapshot_schedule=_schedule(SNAPSHOT),
        )
        .annotate(
            credential_id=Coalesce(F("live_credential__id"), F("partner_credential__id")),
            credential_expires_at=Coalesce(
                F("live_credential__expires_at"), F("partner_credential__expires_at")
            ),
            sync_minutes=F("sync_schedule__interval_minutes"),
            snapshot_minutes=F("snapshot_schedule__interval_minutes"),
        )
        .only(*COLUMNS)
        .order_by(*terms)
    )
    paginator = Paginator(connections, TENANTS_PER_PAGE)
    # Every join above reaches at most one row: counting the live connections alone (without
    # the joins) gives the same number, cheaper.
    paginator.count = live.count()
    page = paginator.get_page(page_number)
    now = timezone.now()
    page.object_list = [_row(conn, problems.get(conn.pk, 0), now) for conn in page.object_list]
    return sort, page


def _row(conn: Any, problems: int, now: dt.datetime) -> TenantRow:
    """A connection of the page query (with its annotations) as a row of the table."""
    summary: TenantSummary | None = getattr(conn, "tenant_summary", None)
    return TenantRow(
        connection=conn,
        summary=summary,
        share=compliance_share(summary.compliant, summary.total) if summary else None,
        stale=summary.stale if summary else 0,
        problems=problems,
        credential_state=credential_expiry_state(
            conn.credential_expires_at, has_credential=conn.credential_id is not None, now=now
        ),
        sync_overdue=_overdue(summary.last_sync_at if summary else None, conn.sync_minutes, now),
        snapshot_overdue=_overdue(
            summary.last_snapshot_at if summary else None, conn.snapshot_minutes, now
        ),
    )
