"""Provider connections: list, read, create, update, delete, default, enable/disable, rotate
(with overlap: verify or discard the new credential)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import Path, Query, Router, Status

from tenantatlas.api.auth import principal
from tenantatlas.api.errors import CHANGE_ERRORS, COMMON_ERRORS
from tenantatlas.api.schemas import (
    MAX_ID,
    CertificateCredentialIn,
    ConnectionCreateIn,
    ConnectionOut,
    ConnectionUpdateIn,
    CredentialIn,
    RotateCredentialIn,
    RotationOut,
    SecretCredentialIn,
)
from tenantatlas.graph.clouds import cloud_choices
from tenantatlas.lib.errors import InvalidInput
from tenantatlas.operations.models import Trigger
from tenantatlas.providers.credential_input import (
    CertificateExpired,
    CredentialInput,
    CredentialInputError,
    InputPart,
    certificate_input,
    secret_input,
)
from tenantatlas.providers.models import (
    ConnectionQuerySet,
    CredentialState,
    ProviderConnection,
    ProviderCredential,
)
from tenantatlas.providers.services import connections, credentials, defaults, rotation
from tenantatlas.workspaces.access import get_object_for_member
from tenantatlas.workspaces.capabilities import PROVIDER_MANAGE, PROVIDER_VIEW
from tenantatlas.workspaces.models import Membership

router = Router(tags=["connections"])

ConnectionId = Path(..., ge=1, le=MAX_ID, description="A connection id of the token's workspace.")
NewDefaultId = Query(
    None, ge=1, le=MAX_ID, description="Required when the default goes away while others remain."
)


def _connections() -> ConnectionQuerySet:
    return ProviderConnection.objects.with_current_credential()


def _get(member: Membership, pk: int) -> ProviderConnection:
    connection: ProviderConnection = get_object_for_member(_connections(), member, pk=pk)
    return connection


def _fresh(connection: ProviderConnection) -> ProviderConnection:
    fresh: ProviderConnection = _connections().get(pk=connection.pk)
    return fresh


def _new_default(member: Membership, pk: int | None) -> ProviderConnection | None:
    if pk is None:
        return None
    found = ProviderConnection.objects.for_workspace(member.workspace).filter(pk=pk).first()
    if found is None:
        raise InvalidInput(
            "new_default_id is not a connection of this workspace.", field="new_default_id"
        )
    return found


def _cloud(value: str) -> str:
    if value not in dict(cloud_choices()):
        names = ", ".join(name for name, _ in cloud_choices())
        raise InvalidInput(f"Unknown cloud {value!r}: use one of {names}.", field="cloud")
    return value


# Where a problem with each part of the credential is reported, as a JSON path of the request.
FIELD_OF: dict[InputPart, str] = {
    "client_secret": "credential.client_secret",
    "expires_at": "credential.expires_at",
    "certificate": "credential.certificate_pem",
    "private_key": "credential.private_key_pem",
    "accept_expired": "credential.certificate_pem",
}


def credential_input(data: SecretCredentialIn | CertificateCredentialIn) -> CredentialInput:
    """The service's credential input, checked by the same rules as the forms' uploads."""
    try:
        return _validated(data)
    except CertificateExpired as exc:
        raise InvalidInput(
            f"This certificate expired on {exc.not_after:%Y-%m-%d}; "
            "set accept_expired to save it anyway.",
            code="certificate_expired",
            field=FIELD_OF[exc.part],
        ) from None
    except CredentialInputError as exc:
        code = "invalid_certificate" if exc.part in {"certificate", "private_key"} else "invalid"
        raise InvalidInput(exc.message, code=code, field=FIELD_OF[exc.part]) from None


def _validated(data: SecretCredentialIn | CertificateCredentialIn) -> CredentialInput:
    if isinstance(data, SecretCredentialIn):
        return secret_input(
            client_id=str(data.client_id),
            client_secret=data.client_secret.get_secret_value(),
            expires_at=data.expires_at,
        )
    return certificate_input(
        client_id=str(data.client_id),
        certificate_pem=data.certificate_pem.get_secret_value().encode(),
        private_key_pem=(
            data.private_key_pem.get_secret_value().encode() if data.private_key_pem else None
        ),
        passphrase=data.key_passphrase.get_secret_value() if data.key_passphrase else "",
        accept_expired=data.accept_expired,
    )


@router.get(
    "/connections",
    response={200: list[ConnectionOut], **COMMON_ERRORS},
    operation_id="list_connections",
)
def list_connections(request: HttpRequest) -> Any:
    """Live connections of the workspace, default first."""
    me = principal(request, PROVIDER_VIEW)
    return _connections().for_workspace(me.workspace)


@router.get(
    "/connections/{connection_id}",
    response={200: ConnectionOut, **COMMON_ERRORS},
    operation_id="get_connection",
)
def get_connection(request: HttpRequest, connection_id: int = ConnectionId) -> Any:
    me = principal(request, PROVIDER_VIEW)
    return _get(me.member, connection_id)


@router.post(
    "/connections", response={201: ConnectionOut, **CHANGE_ERRORS}, operation_id="create_connection"
)
def create_connection(request: HttpRequest, payload: ConnectionCreateIn) -> Any:
    """Connect an Entra tenant. The first connection becomes the default."""
    me = principal(request, PROVIDER_MANAGE)
    connection = connections.create_connection(
        actor=me.user,
        workspace=me.workspace,
        display_name=payload.display_name,
        entra_tenant_id=str(payload.entra_tenant_id),
        cloud=_cloud(payload.cloud),
        credential=credential_input(payload.credential),
    )
    return Status(201, _fresh(connection))


@router.patch(
    "/connections/{connection_id}",
    response={200: ConnectionOut, **CHANGE_ERRORS},
    operation_id="update_connection",
)
def update_connection(
    request: HttpRequest, payload: ConnectionUpdateIn, connection_id: int = ConnectionId
) -> Any:
    """Rename, re-point or re-key a connection; a `credential` rotates the current one."""
    me = principal(request, PROVIDER_MANAGE)
    connection = _get(me.member, connection_id)
    credential: CredentialIn | None = payload.credential
    connections.update_connection(
        actor=me.user,
        connection=connection,
        display_name=payload.display_name or connection.display_name,
        entra_tenant_id=str(payload.entra_tenant_id or connection.entra_tenant_id),
        cloud=_cloud(payload.cloud) if payload.cloud is not None else connection.cloud,
        client_id=str(payload.client_id) if payload.client_id else None,
        credential=credential_input(credential) if credential is not None else None,
    )
    return _fresh(connection)


@router.delete(
    "/connections/{connection_id}",
    response={204: None, **CHANGE_ERRORS},
    operation_id="delete_connection",
)
def delete_connection(
    request: HttpRequest,
    connection_id: int = ConnectionId,
    new_default_id: int | None = NewDefaultId,
) -> Any:
    """Delete (its runs, inventory and snapshots stay readable). Refused while a run is active."""
    me = principal(request, PROVIDER_MANAGE)
    connection = _get(me.member, connection_id)
    connections.delete_connection(
        actor=me.user, connection=connection, new_default=_new_default(me.member, new_default_id)
    )
    return Status(204, None)


@router.post(
    "/connections/{connection_id}/default",
    response={200: ConnectionOut, **CHANGE_ERRORS},
    operation_id="set_default_connection",
)
def set_default_connection(request: HttpRequest, connection_id: int = ConnectionId) -> Any:
    me = principal(request, PROVIDER_MANAGE)
    connection = _get(me.member, connection_id)
    defaults.set_default_connection(actor=me.user, connection=connection)
    return _fresh(connection)


@router.post(
    "/connections/{connection_id}/enable",
    response={200: ConnectionOut, **CHANGE_ERRORS},
    operation_id="enable_connection",
)
def enable_connection(request: HttpRequest, connection_id: int = ConnectionId) -> Any:
    me = principal(request, PROVIDER_MANAGE)
    connection = _get(me.member, connection_id)
    connections.set_connection_status(actor=me.user, connection=connection, enabled=True)
    return _fresh(connection)


@router.post(
    "/connections/{connection_id}/disable",
    response={200: ConnectionOut, **CHANGE_ERRORS},
    operation_id="disable_connection",
)
def disable_connection(
    request: HttpRequest,
    connection_id: int = ConnectionId,
    new_default_id: int | None = NewDefaultId,
) -> Any:
    """Operations cannot start on a disabled connection."""
    me = principal(request, PROVIDER_MANAGE)
    connection = _get(me.member, connection_id)
    connections.set_connection_status(
        actor=me.user,
        connection=connection,
        enabled=False,
        new_default=_new_default(me.member, new_default_id),
    )
    return _fresh(connection)


@router.post(
    "/connections/{connection_id}/credential",
    response={200: RotationOut, 202: RotationOut, **CHANGE_ERRORS},
    operation_id="rotate_credential",
)
def rotate_credential(
    request: HttpRequest, payload: RotateCredentialIn, connection_id: int = ConnectionId
) -> Any:
    """Add a new credential beside the current one; a connection check signs in with it and
    only when it passes is the current one retired (202, `new_credential.state` "pending";
    follow `verification_run_id`). A disabled connection has nothing to verify it with: the
    credential replaces the current one at once (200)."""
    me = principal(request, PROVIDER_MANAGE)
    connection = _get(me.member, connection_id)
    proposal = rotation.rotate_credential(
        actor=me.user,
        connection=connection,
        credential=credential_input(payload.credential),
        trigger=Trigger.API,
    )
    return _rotation_answer(connection, proposal.credential, proposal.message)


def _rotation_answer(
    connection: ProviderConnection, credential: ProviderCredential, message: str
) -> Any:
    credential.refresh_from_db()
    code = 202 if credential.state == CredentialState.PENDING else 200
    body = {"connection": _fresh(connection), "new_credential": credential, "message": message}
    return Status(code, body)


@router.post(
    "/connections/{connection_id}/credential/verify",
    response={200: RotationOut, 202: RotationOut, **CHANGE_ERRORS},
    operation_id="verify_new_credential",
)
def verify_new_credential(request: HttpRequest, connection_id: int = ConnectionId) -> Any:
    """Start the check of the new credential waiting beside the current one (409 when there is
    none, or its check is already queued or running)."""
    me = principal(request, PROVIDER_MANAGE)
    connection = _get(me.member, connection_id)
    credentials.refuse_partner_connection(connection)
    proposal = rotation.verify_now(connection, actor=me.user, trigger=Trigger.API)
    return _rotation_answer(connection, proposal.credential, proposal.message)


@router.delete(
    "/connections/{connection_id}/credential/pending",
    response={200: RotationOut, **CHANGE_ERRORS},
    operation_id="discard_new_credential",
)
def discard_new_credential(request: HttpRequest, connection_id: int = ConnectionId) -> Any:
    """Set the new credential aside unused; the current one stays in use (409 without one)."""
    me = principal(request, PROVIDER_MANAGE)
    connection = _get(me.member, connection_id)
    credentials.refuse_partner_connection(connection)
    discarded = rotation.discard_pending(connection, actor=me.user)
    return _rotation_answer(connection, discarded, "New credential discarded.")
