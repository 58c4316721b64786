"""The partner app (read) and onboardings by admin consent: list, start, renew, cancel.

A consent link is returned only to tokens holding provider.manage, as on the Onboarding page.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal
from uuid import UUID

from django.http import Http404, HttpRequest
from ninja import Field, Path, Query, Router, Schema, Status
from pydantic import StringConstraints

from tenantatlas.api.auth import principal
from tenantatlas.api.errors import CHANGE_ERRORS, COMMON_ERRORS
from tenantatlas.api.pagination import NEWEST_FIRST, cursor_page
from tenantatlas.api.schemas import MAX_ID, CredentialOut, CursorParams, Name, Page
from tenantatlas.lib.errors import Refused
from tenantatlas.onboarding.bulk import MAX_ROWS, add_connections_in_bulk
from tenantatlas.onboarding.models import Onboarding
from tenantatlas.onboarding.services import (
    HEALTH_CHECK,
    cancel_onboarding,
    consent_url,
    renew_onboarding_link,
    start_onboarding,
)
from tenantatlas.operations.bulk import start_on_connections
from tenantatlas.operations.models import Trigger
from tenantatlas.providers.models import PartnerApp
from tenantatlas.workspaces.access import get_object_for_member
from tenantatlas.workspaces.capabilities import PROVIDER_MANAGE, PROVIDER_VIEW, can
from tenantatlas.workspaces.models import Membership

router = Router(tags=["onboarding"])

OnboardingId = Path(..., ge=1, le=MAX_ID, description="An onboarding id of the token's workspace.")


class PartnerAppOut(Schema):
    id: int
    display_name: str
    client_id: UUID
    cloud: str
    credential: CredentialOut | None
    connection_count: int
    created_at: dt.datetime
    updated_at: dt.datetime

    @staticmethod
    def resolve_credential(obj: Any) -> Any:
        return obj.current_credential

    @staticmethod
    def resolve_connection_count(obj: Any) -> int:
        return int(obj.connections.filter(deleted_at=None).count())


class OnboardingOut(Schema):
    id: int
    customer_name: str
    tenant_hint: str
    status: Literal["pending", "completed", "declined", "failed", "cancelled", "expired"]
    reason_code: str
    reason_message: str
    expires_at: dt.datetime
    entra_tenant_id: UUID | None
    connection_id: int | None
    consent_url: str | None = Field(
        description="The link for the customer's administrator: open onboardings, and only for "
        "tokens with provider.manage."
    )
    created_at: dt.datetime
    finished_at: dt.datetime | None


class OnboardingPage(Page):
    items: list[OnboardingOut]


class OnboardingIn(Schema):
    customer_name: Name
    tenant_hint: Annotated[str, StringConstraints(strip_whitespace=True, max_length=255)] = Field(
        "", description="The customer's tenant id or a verified domain (optional)."
    )


def _out(onboarding: Onboarding, member: Membership) -> dict[str, Any]:
    link = consent_url(onboarding) if onboarding.is_open and can(member, PROVIDER_MANAGE) else None
    facts = {
        name: getattr(onboarding, name)
        for name in OnboardingOut.model_fields
        if name not in ("status", "consent_url")
    }
    return {**facts, "status": onboarding.shown_status, "consent_url": link}


@router.get(
    "/partner-app", response={200: PartnerAppOut, **COMMON_ERRORS}, operation_id="get_partner_app"
)
def get_partner_app(request: HttpRequest) -> Any:
    """The workspace's partner app; 404 when it has none. Its secret is never returned."""
    me = principal(request, PROVIDER_VIEW)
    partner_app = PartnerApp.objects.for_workspace(me.workspace).first()
    if partner_app is None:
        raise Http404("This workspace has no partner app.")
    return partner_app


@router.get(
    "/onboardings", response={200: OnboardingPage, **COMMON_ERRORS}, operation_id="list_onboardings"
)
def list_onboardings(request: HttpRequest, page: Query[CursorParams]) -> Any:
    me = principal(request, PROVIDER_VIEW)
    found = cursor_page(
        Onboarding.objects.for_workspace(me.workspace).select_related("partner_app"),
        NEWEST_FIRST,
        page.cursor,
        page.limit,
    )
    return {**found, "items": [_out(o, me.member) for o in found["items"]]}


@router.post(
    "/onboardings", response={201: OnboardingOut, **CHANGE_ERRORS}, operation_id="start_onboarding"
)
def create_onboarding(request: HttpRequest, payload: OnboardingIn) -> Any:
    """Make a consent link for a customer (the workspace needs its partner app)."""
    me = principal(request, PROVIDER_MANAGE)
    onboarding = start_onboarding(
        actor=me.user,
        workspace=me.workspace,
        customer_name=payload.customer_name,
        tenant_hint=payload.tenant_hint,
    )
    return Status(201, _out(onboarding, me.member))


def _get(member: Membership, pk: int) -> Onboarding:
    found: Onboarding = get_object_for_member(Onboarding.objects, member, pk=pk)
    return found


@router.post(
    "/onboardings/{onboarding_id}/renew",
    response={200: OnboardingOut, **CHANGE_ERRORS},
    operation_id="renew_onboarding_link",
)
def renew_link(request: HttpRequest, onboarding_id: int = OnboardingId) -> Any:
    """A new link and expiry; the old link stops working."""
    me = principal(request, PROVIDER_MANAGE)
    onboarding = renew_onboarding_link(actor=me.user, onboarding=_get(me.member, onboarding_id))
    return _out(onboarding, me.member)


@router.post(
    "/onboardings/{onboarding_id}/cancel",
    response={200: OnboardingOut, **CHANGE_ERRORS},
    operation_id="cancel_onboarding",
)
def cancel(request: HttpRequest, onboarding_id: int = OnboardingId) -> Any:
    me = principal(request, PROVIDER_MANAGE)
    onboarding = cancel_onboarding(actor=me.user, onboarding=_get(me.member, onboarding_id))
    return _out(onboarding, me.member)


class BulkAddIn(Schema):
    entries: list[Annotated[str, StringConstraints(max_length=400)]] = Field(
        ...,
        min_length=1,
        max_length=MAX_ROWS,
        description="One tenant id each, optionally followed by a comma and the customer's name.",
    )
    check: bool = Field(False, description="Start a connection check on each connection created.")


class BulkRowError(Schema):
    code: str
    message: str


class BulkRowOut(Schema):
    line: int = Field(description="The entry's position in the list, from 1.")
    entry: str
    tenant_id: UUID | None
    name: str
    connection_id: int | None
    error: BulkRowError | None


class BulkAddOut(Schema):
    created: int
    failed: int
    rows: list[BulkRowOut]
    check: dict[str, int] | None = Field(
        description="With check: how many checks started, were already running, busy, skipped."
    )


@router.post(
    "/partner-app/bulk-add",
    response={200: BulkAddOut, **CHANGE_ERRORS},
    operation_id="bulk_add_partner_connections",
)
def bulk_add(request: HttpRequest, payload: BulkAddIn) -> Any:
    """Connections of the partner app for many tenants: every entry is created or answered with
    its own error (docs/onboarding.md, "Bulk add"); with ``check``, their checks start."""
    me = principal(request, PROVIDER_MANAGE)
    partner_app = PartnerApp.objects.for_workspace(me.workspace).first()
    if partner_app is None:
        raise Refused("Set up the workspace's partner app first.", code="partner_app_missing")
    text = "\n".join(" ".join(entry.splitlines()) or "#" for entry in payload.entries)
    result = add_connections_in_bulk(
        actor=me.user, workspace=me.workspace, partner_app=partner_app, text=text
    )
    summary = None
    if payload.check and result.created:
        summary = start_on_connections(
            actor=me.user,
            member=me.member,
            operation_type=HEALTH_CHECK,
            connections=me.workspace.connections.filter(pk__in=[c.pk for c in result.created]),
            trigger=Trigger.API,
        ).counts()
    rows = [
        {
            "line": row.line,
            "entry": row.entry,
            "tenant_id": row.tenant_id or None,
            "name": row.name,
            "connection_id": row.connection.pk if row.connection else None,
            "error": {"code": row.error_code, "message": row.error} if row.error_code else None,
        }
        for row in result.rows
    ]
    counts = result.counts()
    return {
        "created": counts["created"],
        "failed": counts["failed"],
        "rows": rows,
        "check": summary,
    }
