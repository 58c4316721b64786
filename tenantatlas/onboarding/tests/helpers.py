"""Onboardings and Microsoft's answers to them, for the onboarding tests."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

from django.urls import reverse

from tenantatlas.onboarding.models import Onboarding
from tenantatlas.onboarding.services import consent_url, start_onboarding
from tenantatlas.providers.tests.partner_apps import make_partner_app
from tenantatlas.workspaces.models import Workspace

CUSTOMER_TENANT = "4e4e4e4e-5f5f-4a6a-8b7b-9c9c9c9c9c9c"
OTHER_TENANT = "6a6a6a6a-7b7b-4c8c-9d9d-0e0e0e0e0e0e"


def start(
    workspace: Workspace, actor: Any, *, customer: str = "Northwind", hint: str = ""
) -> Onboarding:
    if not hasattr(workspace, "partner_app"):
        make_partner_app(workspace, actor)
    return start_onboarding(
        actor=actor, workspace=workspace, customer_name=customer, tenant_hint=hint
    )


def state_of(onboarding: Onboarding) -> str:
    return parse_qs(urlsplit(consent_url(onboarding)).query)["state"][0]


def callback_url(**params: str) -> str:
    from urllib.parse import urlencode

    return f"{reverse('onboarding_callback')}?{urlencode(params)}"


def approved(onboarding: Onboarding, tenant: str = CUSTOMER_TENANT) -> str:
    """Microsoft's success redirect (§8.3)."""
    return callback_url(
        tenant=tenant,
        scope="https://graph.microsoft.com/.default",
        admin_consent="True",
        state=state_of(onboarding),
    )


def refused(onboarding: Onboarding, error: str, description: str) -> str:
    return callback_url(error=error, error_description=description, state=state_of(onboarding))
