"""The workspace's partner app: one multi-tenant app registration whose credential every
connection onboarded through it shares, so one rotation serves all of them."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from tenantatlas.audit.services import record_event
from tenantatlas.lib.actors import Actor, user_or_none
from tenantatlas.lib.errors import InvalidInput
from tenantatlas.providers.credential_input import (
    CertificateInput,
    CredentialInput,
    SecretInput,
)
from tenantatlas.providers.models import (
    CredentialState,
    PartnerApp,
    ProviderCredential,
)
from tenantatlas.providers.services.credentials import add_credential
from tenantatlas.providers.services.health import forget_partner_app_health
from tenantatlas.providers.services.locks import lock_workspace
from tenantatlas.providers.services.rotation import rotate
from tenantatlas.workspaces.models import Workspace


def _with_client_id(credential: CredentialInput, client_id: str) -> CredentialInput:
    """The credential under the partner app's client id (one app, one id)."""
    if isinstance(credential, SecretInput):
        return SecretInput(client_id, credential.client_secret, credential.expires_at)
    assert isinstance(credential, CertificateInput)
    return CertificateInput(client_id, credential.certificate)


@transaction.atomic
def create_partner_app(
    *,
    actor: Actor,
    workspace: Workspace,
    display_name: str,
    client_id: str,
    cloud: str,
    credential: CredentialInput,
) -> PartnerApp:
    lock_workspace(workspace)
    if PartnerApp.objects.filter(workspace=workspace).exists():
        raise InvalidInput("This workspace already has a partner app.", code="partner_app_exists")
    partner_app = PartnerApp.objects.create(
        workspace=workspace,
        display_name=display_name,
        client_id=client_id,
        cloud=cloud,
        created_by=user_or_none(actor),
    )
    row = add_credential(
        partner_app, _with_client_id(credential, client_id), actor=actor, version=1
    )
    record_event(
        workspace=workspace,
        actor=actor,
        action="partner_app.created",
        target=partner_app,
        metadata={"client_id": client_id, "cloud": cloud, "credential": row.describe()},
    )
    return partner_app


@transaction.atomic
def update_partner_app(
    *,
    actor: Actor,
    partner_app: PartnerApp,
    display_name: str,
    client_id: str,
    cloud: str,
    credential: CredentialInput | None = None,
) -> PartnerApp:
    """Edit the app; a new secret or certificate (if given) rotates the credential once for all
    its connections, with overlap (services/rotation.py). The cloud cannot change while
    connections use the app."""
    lock_workspace(partner_app.workspace)
    partner_app = PartnerApp.objects.get(pk=partner_app.pk)
    if cloud != partner_app.cloud and partner_app.connections.filter(deleted_at=None).exists():
        raise InvalidInput(
            "The cloud cannot change while connections use this partner app.",
            code="partner_app_in_use",
            field="cloud",
        )
    changes: dict[str, Any] = {}
    for field, value in (
        ("display_name", display_name),
        ("client_id", client_id),
        ("cloud", cloud),
    ):
        if str(getattr(partner_app, field)) != str(value):
            changes[field] = {"from": str(getattr(partner_app, field)), "to": str(value)}
            setattr(partner_app, field, value)
    partner_app.save()
    if "client_id" in changes and credential is None:
        ProviderCredential.objects.filter(
            partner_app=partner_app,
            state__in=[CredentialState.CURRENT, CredentialState.PENDING],
        ).update(client_id=client_id)
    if "client_id" in changes:
        forget_partner_app_health(partner_app)
    if changes:
        record_event(
            workspace=partner_app.workspace,
            actor=actor,
            action="partner_app.updated",
            target=partner_app,
            metadata={"changes": changes},
        )
    if credential is not None:
        # Once for all its connections, verified by a check on one of them first.
        rotate(partner_app, _with_client_id(credential, str(partner_app.client_id)), actor=actor)
    return partner_app
