"""Partner apps and their connections for tests of any app (onboarding, the matrix, canaries)."""

from __future__ import annotations

from typing import Any

from tenantatlas.lib.actors import Actor
from tenantatlas.providers.credential_input import SecretInput
from tenantatlas.providers.models import PartnerApp, ProviderConnection
from tenantatlas.providers.services.connections import create_connection
from tenantatlas.providers.services.partner_apps import create_partner_app
from tenantatlas.testing import KNOWN_SECRET
from tenantatlas.workspaces.models import Workspace

PARTNER_CLIENT_ID = "7c7c7c7c-1d1d-4e4e-8f8f-909090909090"


def make_partner_app(
    workspace: Workspace,
    actor: Actor,
    *,
    client_id: str = PARTNER_CLIENT_ID,
    secret: str = KNOWN_SECRET,
    cloud: str = "global",
    name: str = "Acme MSP partner app",
) -> PartnerApp:
    return create_partner_app(
        actor=actor,
        workspace=workspace,
        display_name=name,
        client_id=client_id,
        cloud=cloud,
        credential=SecretInput(client_id=client_id, client_secret=secret),
    )


def make_partner_connection(
    partner_app: PartnerApp, actor: Actor, tenant_id: str, name: str = ""
) -> Any:
    connection: ProviderConnection = create_connection(
        actor=actor,
        workspace=partner_app.workspace,
        display_name=name or f"Customer {tenant_id[:8]}",
        entra_tenant_id=tenant_id,
        partner_app=partner_app,
    )
    return connection
