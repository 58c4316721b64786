"""Connections of a workspace: create, edit, enable or disable, delete."""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from tenantatlas.audit.services import record_event
from tenantatlas.lib.actors import Actor, user_or_none
from tenantatlas.lib.errors import InvalidInput, Refused
from tenantatlas.operations.models import OperationRun
from tenantatlas.providers.credential_input import CredentialInput
from tenantatlas.providers.models import (
    ConnectionStatus,
    CredentialState,
    PartnerApp,
    ProviderConnection,
    ProviderCredential,
)
from tenantatlas.providers.services.credentials import add_credential, refuse_partner_connection
from tenantatlas.providers.services.defaults import hand_over_default, take_default_if_vacant
from tenantatlas.providers.services.health import reset_health
from tenantatlas.providers.services.locks import lock_workspace
from tenantatlas.providers.services.rotation import rotate
from tenantatlas.workspaces.models import Workspace


def _duplicate_tenant() -> InvalidInput:
    return InvalidInput(
        "This Entra tenant is already connected in this workspace.",
        code="duplicate_tenant",
        field="entra_tenant_id",
    )


def _check_unique_tenant(workspace: Workspace, entra_tenant_id: str, exclude: int | None) -> None:
    clash = ProviderConnection.objects.for_workspace(workspace).filter(
        entra_tenant_id=entra_tenant_id
    )
    if exclude is not None:
        clash = clash.exclude(pk=exclude)
    if clash.exists():
        raise _duplicate_tenant()


@transaction.atomic
def create_connection(
    *,
    actor: Actor,
    workspace: Workspace,
    display_name: str,
    entra_tenant_id: str,
    credential: CredentialInput | None = None,
    cloud: str = "global",
    partner_app: PartnerApp | None = None,
) -> ProviderConnection:
    """A connection with its own credential, or one of the partner app (which signs in with the
    partner app's credential and lives in its cloud)."""
    if (credential is None) == (partner_app is None):
        raise ValueError("a connection has either its own credential or the partner app's")
    if partner_app is not None:
        if partner_app.workspace_id != workspace.pk:
            raise ValueError("the partner app belongs to another workspace")
        cloud = partner_app.cloud
    lock_workspace(workspace)
    _check_unique_tenant(workspace, entra_tenant_id, exclude=None)
    # The first connection, or the first since every other one was disabled, is the default.
    live = ProviderConnection.objects.for_workspace(workspace)
    is_first = not live.filter(is_default=True).exists()
    try:
        with transaction.atomic():
            connection = ProviderConnection.objects.create(
                workspace=workspace,
                display_name=display_name,
                entra_tenant_id=entra_tenant_id,
                cloud=cloud,
                partner_app=partner_app,
                is_default=is_first,
                created_by=user_or_none(actor),
            )
    except IntegrityError:
        raise _duplicate_tenant() from None
    metadata: dict[str, Any] = {
        "entra_tenant_id": entra_tenant_id,
        "cloud": cloud,
        "is_default": is_first,
    }
    if credential is not None:
        metadata["credential"] = add_credential(
            connection, credential, actor=actor, version=1
        ).describe()
    else:
        assert partner_app is not None
        metadata["partner_app_id"] = partner_app.pk
    record_event(
        workspace=workspace,
        actor=actor,
        action="connection.created",
        target=connection,
        metadata=metadata,
    )
    return connection


@transaction.atomic
def update_connection(
    *,
    actor: Actor,
    connection: ProviderConnection,
    display_name: str,
    entra_tenant_id: str,
    cloud: str,
    client_id: str | None = None,
    credential: CredentialInput | None = None,
) -> ProviderConnection:
    """Edit names and ids; a new secret/certificate (if given) rotates the credential."""
    lock_workspace(connection.workspace)
    if credential is not None:
        refuse_partner_connection(connection)
    _check_unique_tenant(connection.workspace, entra_tenant_id, exclude=connection.pk)
    changes: dict[str, Any] = {}
    for field, value in (
        ("display_name", display_name),
        ("entra_tenant_id", entra_tenant_id),
        ("cloud", cloud),
    ):
        if str(getattr(connection, field)) != str(value):
            changes[field] = {"from": str(getattr(connection, field)), "to": str(value)}
            setattr(connection, field, value)
    if "entra_tenant_id" in changes or "cloud" in changes:
        reset_health(connection)
    connection.save()
    if credential is None and client_id:
        _change_client_id(connection, client_id, changes)
    if changes:
        record_event(
            workspace=connection.workspace,
            actor=actor,
            action="connection.updated",
            target=connection,
            metadata={"changes": changes},
        )
    if credential is not None:
        rotate(connection, credential, actor=actor)
    return connection


def _change_client_id(
    connection: ProviderConnection, client_id: str, changes: dict[str, Any]
) -> None:
    """A new client id alone keeps the current secret material under the new app id."""
    if connection.partner_app_id is not None:
        return  # the partner app's client id is changed on its own page
    current = connection.current_credential
    if current is None or str(current.client_id) == client_id:
        return
    changes["client_id"] = {"from": str(current.client_id), "to": client_id}
    ProviderCredential.objects.filter(pk=current.pk).update(client_id=client_id)
    reset_health(connection)
    connection.save()


@transaction.atomic
def set_connection_status(
    *,
    actor: Actor,
    connection: ProviderConnection,
    enabled: bool,
    new_default: ProviderConnection | None = None,
) -> ProviderConnection:
    lock_workspace(connection.workspace)
    connection.refresh_from_db()
    status = ConnectionStatus.ENABLED if enabled else ConnectionStatus.DISABLED
    if connection.status == status:
        return connection
    was_default = connection.is_default
    if not enabled:
        hand_over_default(connection, new_default, actor=actor, verb="disable")
    connection.status = status
    connection.save(update_fields=["status", "is_default", "updated_at"])
    record_event(
        workspace=connection.workspace,
        actor=actor,
        action="connection.enabled" if enabled else "connection.disabled",
        target=connection,
        metadata={"was_default": True} if was_default else {},
    )
    if enabled:
        take_default_if_vacant(connection, actor=actor)
    return connection


@transaction.atomic
def delete_connection(
    *, actor: Actor, connection: ProviderConnection, new_default: ProviderConnection | None = None
) -> None:
    """Soft delete: runs, inventory and snapshots stay readable in history."""
    lock_workspace(connection.workspace)
    connection.refresh_from_db()
    active = OperationRun.objects.filter(connection=connection).active().first()
    if active is not None:
        raise Refused(
            "An operation is still running on this connection: wait for it or cancel it first.",
            code="run_active",
            run_id=active.pk,
        )
    hand_over_default(connection, new_default, actor=actor, verb="delete")
    connection.deleted_at = timezone.now()
    connection.is_default = False
    connection.save(update_fields=["deleted_at", "is_default", "updated_at"])
    ProviderCredential.objects.filter(connection=connection).current().update(
        state=CredentialState.RETIRED, retired_at=connection.deleted_at
    )
    ProviderCredential.objects.filter(connection=connection).pending().update(
        state=CredentialState.REJECTED,
        retired_at=connection.deleted_at,
        rejected_reason_code="rotation.withdrawn",
    )
    record_event(
        workspace=connection.workspace,
        actor=actor,
        action="connection.deleted",
        target=connection,
        metadata={"entra_tenant_id": str(connection.entra_tenant_id)},
    )
