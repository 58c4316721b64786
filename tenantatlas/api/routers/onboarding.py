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
from tenantatlas.onboarding.models import Onboarding
from tenantatlas.onboarding.services import (
    cancel_onboarding,
    consent_url,
    renew_onboarding_link,
    start_onboarding,
)
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
