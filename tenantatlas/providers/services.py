"""State changes of provider connections and credentials. Each writes its audit event."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from tenantatlas.audit.services import record_event
from tenantatlas.lib import dates
from tenantatlas.lib.errors import InvalidInput, Refused
from tenantatlas.lib.reasons import ProviderError
from tenantatlas.operations.models import OperationRun
from tenantatlas.providers.certificates import ParsedCertificate
from tenantatlas.providers.credentials import CredentialManager
from tenantatlas.providers.models import (
    ConnectionQuerySet,
    ConnectionStatus,
    CredentialKind,
    Health,
    ProviderConnection,
    ProviderCredential,
)
from tenantatlas.workspaces.models import Workspace


@dataclass(frozen=True)
class SecretInput:
    """A client secret as typed by the admin, with the expiry they entered."""

    client_id: str
    client_secret: str
    expires_at: dt.datetime | None = None


@dataclass(frozen=True)
class CertificateInput:
    client_id: str
    certificate: ParsedCertificate


CredentialInput = SecretInput | CertificateInput


def _lock_workspace(workspace: Workspace) -> None:
    """Serialise connection changes of one workspace (row lock; SQLite's IMMEDIATE lock)."""
    Workspace.objects.select_for_update().filter(pk=workspace.pk).first()


def _add_credential(
    connection: ProviderConnection, credential: CredentialInput, *, actor: Any, version: int
) -> ProviderCredential:
    manager = CredentialManager()
    if isinstance(credential, SecretInput):
        ciphertext, key_id = manager.seal({"client_secret": credential.client_secret})
        row = ProviderCredential(
            kind=CredentialKind.CLIENT_SECRET,
            client_id=credential.client_id,
            fingerprint=f"Secret set on {timezone.now():%Y-%m-%d}",
            expires_at=credential.expires_at,
        )
    else:
        cert = credential.certificate
        ciphertext, key_id = manager.seal(
            {"private_key_pem": cert.private_key_pem, "certificate_pem": cert.certificate_pem}
        )
        row = ProviderCredential(
            kind=CredentialKind.CERTIFICATE,
            client_id=credential.client_id,
            fingerprint=f"SHA-1 {cert.thumbprint_sha1}",
            thumbprint_sha1=cert.thumbprint_sha1,
            thumbprint_sha256=cert.thumbprint_sha256,
            certificate_subject=cert.subject,
            expires_at=dates.clamp(cert.not_after),
        )
    row.connection = connection
    row.version = version
    row.ciphertext = ciphertext
    row.key_id = key_id
    row.created_by = actor if getattr(actor, "is_authenticated", False) else None
    row.save()
    return row


def _check_unique_tenant(workspace: Workspace, entra_tenant_id: str, exclude: int | None) -> None:
    clash = ProviderConnection.objects.for_workspace(workspace).filter(
        entra_tenant_id=entra_tenant_id
    )
    if exclude is not None:
        clash = clash.exclude(pk=exclude)
    if clash.exists():
        raise InvalidInput(
            "This Entra tenant is already connected in this workspace.",
            code="duplicate_tenant",
            field="entra_tenant_id",
        )


@transaction.atomic
def create_connection(
    *,
    actor: Any,
    workspace: Workspace,
    display_name: str,
    entra_tenant_id: str,
    credential: CredentialInput,
    cloud: str = "global",
) -> ProviderConnection:
    _lock_workspace(workspace)
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
                is_default=is_first,
                created_by=actor if getattr(actor, "is_authenticated", False) else None,
            )
    except IntegrityError:
        raise InvalidInput(
            "This Entra tenant is already connected in this workspace.",
            code="duplicate_tenant",
            field="entra_tenant_id",
        ) from None
    row = _add_credential(connection, credential, actor=actor, version=1)
    record_event(
        workspace=workspace,
        actor=actor,
        action="connection.created",
        target=connection,
        metadata={
            "entra_tenant_id": entra_tenant_id,
            "cloud": cloud,
            "is_default": is_first,
            "credential": row.describe(),
        },
    )
    return connection


@transaction.atomic
def update_connection(
    *,
    actor: Any,
    connection: ProviderConnection,
    display_name: str,
    entra_tenant_id: str,
    cloud: str,
    client_id: str | None = None,
    credential: CredentialInput | None = None,
) -> ProviderConnection:
    """Edit names and ids; a new secret/certificate (if given) rotates the credential."""
    _lock_workspace(connection.workspace)
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
        _reset_health(connection)
    connection.save()
    current = connection.current_credential
    if (
        credential is None
        and current is not None
        and client_id
        and str(current.client_id) != client_id
    ):
        # A new client id alone re-seals the current secret material under the new app id.
        changes["client_id"] = {"from": str(current.client_id), "to": client_id}
        ProviderCredential.objects.filter(pk=current.pk).update(client_id=client_id)
        _reset_health(connection)
        connection.save()
    if changes:
        record_event(
            workspace=connection.workspace,
            actor=actor,
            action="connection.updated",
            target=connection,
            metadata={"changes": changes},
        )
    if credential is not None:
        _rotate(connection, credential, actor=actor)
    return connection


def _reset_health(connection: ProviderConnection) -> None:
    connection.health = Health.UNKNOWN
    connection.health_reason_code = ""
    connection.health_message = ""
    connection.health_checked_at = None


def _rotate(
    connection: ProviderConnection, credential: CredentialInput, *, actor: Any
) -> ProviderCredential:
    # Query the table, not `connection.credentials`: views prefetch only the current credential,
    # and a prefetched related manager would hide the history (and so the highest version).
    history = ProviderCredential.objects.filter(connection=connection)
    previous = history.filter(retired_at__isnull=True).first()
    if previous is not None:
        previous.retired_at = timezone.now()
        previous.save(update_fields=["retired_at"])
    last = history.aggregate(v=Max("version"))["v"] or 0
    row = _add_credential(connection, credential, actor=actor, version=last + 1)
    getattr(connection, "_prefetched_objects_cache", {}).pop("credentials", None)
    _reset_health(connection)
    connection.save()
    record_event(
        workspace=connection.workspace,
        actor=actor,
        action="credential.rotated",
        target=connection,
        metadata={
            "previous": previous.describe() if previous else None,
            "current": row.describe(),
        },
    )
    return row


@transaction.atomic
def rotate_credential(
    *, actor: Any, connection: ProviderConnection, credential: CredentialInput
) -> ProviderCredential:
    _lock_workspace(connection.workspace)
    return _rotate(connection, credential, actor=actor)


def _make_default(connection: ProviderConnection, *, actor: Any) -> None:
    ProviderConnection.objects.for_workspace(connection.workspace).filter(is_default=True).exclude(
        pk=connection.pk
    ).update(is_default=False)
    ProviderConnection.objects.filter(pk=connection.pk).update(is_default=True)
    connection.is_default = True
    record_event(
        workspace=connection.workspace,
        actor=actor,
        action="connection.default_set",
        target=connection,
    )


@transaction.atomic
def set_default_connection(*, actor: Any, connection: ProviderConnection) -> ProviderConnection:
    _lock_workspace(connection.workspace)
    connection.refresh_from_db()
    if connection.deleted_at is not None:
        raise Refused("This connection has been deleted.", code="deleted")
    if not connection.is_enabled:
        raise Refused(
            f"“{connection.display_name}” is disabled: enable it before making it the default.",
            code="connection_disabled",
        )
    if not connection.is_default:
        _make_default(connection, actor=actor)
    return connection


def enabled_successors(connection: ProviderConnection) -> ConnectionQuerySet:
    """The connections that may take over the default from this one: the other enabled ones."""
    return (
        ProviderConnection.objects.for_workspace(connection.workspace)
        .filter(status=ConnectionStatus.ENABLED)
        .exclude(pk=connection.pk)
    )


def _hand_over_default(
    connection: ProviderConnection, new_default: ProviderConnection | None, *, actor: Any, verb: str
) -> None:
    """A default goes away only with another enabled connection taking over in the same action;
    when no other connection is enabled, the workspace is left without a default."""
    if not connection.is_default:
        return
    successors = enabled_successors(connection)
    if new_default is not None and not successors.filter(pk=new_default.pk).exists():
        raise Refused("The new default must be another enabled connection of this workspace.")
    if new_default is None and successors.exists():
        raise Refused(
            f"This is the default connection: choose another default before you {verb} it.",
            code="default_required",
        )
    ProviderConnection.objects.filter(pk=connection.pk).update(is_default=False)
    connection.is_default = False
    if new_default is not None:
        _make_default(new_default, actor=actor)


@transaction.atomic
def set_connection_status(
    *,
    actor: Any,
    connection: ProviderConnection,
    enabled: bool,
    new_default: ProviderConnection | None = None,
) -> ProviderConnection:
    _lock_workspace(connection.workspace)
    connection.refresh_from_db()
    status = ConnectionStatus.ENABLED if enabled else ConnectionStatus.DISABLED
    if connection.status == status:
        return connection
    was_default = connection.is_default
    if not enabled:
        _hand_over_default(connection, new_default, actor=actor, verb="disable")
    connection.status = status
    connection.save(update_fields=["status", "is_default", "updated_at"])
    record_event(
        workspace=connection.workspace,
        actor=actor,
        action="connection.enabled" if enabled else "connection.disabled",
        target=connection,
        metadata={"was_default": True} if was_default else {},
    )
    live = ProviderConnection.objects.for_workspace(connection.workspace)
    if enabled and not live.filter(is_default=True).exists():
        # Nobody holds the default (every connection was disabled): nothing is taken from anyone.
        _make_default(connection, actor=actor)
    return connection


@transaction.atomic
def delete_connection(
    *, actor: Any, connection: ProviderConnection, new_default: ProviderConnection | None = None
) -> None:
    """Soft delete: runs, inventory and snapshots stay readable in history."""
    _lock_workspace(connection.workspace)
    connection.refresh_from_db()
    active = OperationRun.objects.filter(connection=connection).active().first()
    if active is not None:
        raise Refused(
            "An operation is still running on this connection: wait for it or cancel it first.",
            code="run_active",
            run_id=active.pk,
        )
    _hand_over_default(connection, new_default, actor=actor, verb="delete")
    connection.deleted_at = timezone.now()
    connection.is_default = False
    connection.save(update_fields=["deleted_at", "is_default", "updated_at"])
    ProviderCredential.objects.filter(connection=connection, retired_at__isnull=True).update(
        retired_at=connection.deleted_at
    )
    record_event(
        workspace=connection.workspace,
        actor=actor,
        action="connection.deleted",
        target=connection,
        metadata={"entra_tenant_id": str(connection.entra_tenant_id)},
    )


def rotate_encryption_keys(*, actor: Any = None, batch_size: int = 200) -> dict[str, int]:
    """Re-encrypt every credential with the primary key; unreadable rows are left untouched.

    Every workspace with credentials gets one ``credential.keys_rotated`` audit event per run.
    """
    manager = CredentialManager()
    counts = {"reencrypted": 0, "already_current": 0, "unreadable": 0}
    workspace_of = dict(
        ProviderCredential.objects.order_by("pk").values_list("pk", "connection__workspace_id")
    )
    tallies: dict[int, dict[str, int]] = {}
    ids = list(workspace_of)
    for start in range(0, len(ids), batch_size):
        with transaction.atomic():
            rows = ProviderCredential.objects.select_for_update().filter(
                pk__in=ids[start : start + batch_size]
            )
            for row in rows:
                try:
                    ciphertext, key_id = manager.reseal(row.ciphertext)
                    outcome = "already_current" if row.key_id == key_id else "reencrypted"
                except ProviderError:  # counted and reported, never overwritten
                    outcome = "unreadable"
                if outcome == "reencrypted":
                    ProviderCredential.objects.filter(pk=row.pk).update(
                        ciphertext=ciphertext, key_id=key_id
                    )
                counts[outcome] += 1
                tally = tallies.setdefault(workspace_of[row.pk], dict.fromkeys(counts, 0))
                tally[outcome] += 1
    _audit_key_rotation(tallies, primary_key_id=manager.primary_key_id, actor=actor)
    return counts


@transaction.atomic
def _audit_key_rotation(
    tallies: dict[int, dict[str, int]], *, primary_key_id: str, actor: Any
) -> None:
    for workspace in Workspace.objects.filter(pk__in=tallies).order_by("pk"):
        metadata = {**tallies[workspace.pk], "primary_key_id": primary_key_id}
        record_event(
            workspace=workspace, actor=actor, action="credential.keys_rotated", metadata=metadata
        )


@transaction.atomic
def record_health(
    *, connection: ProviderConnection, result: dict[str, Any], run: Any = None
) -> None:
    """Store a health check's outcome on the connection (called by the run-completed listener)."""
    connection = ProviderConnection.objects.select_for_update().get(pk=connection.pk)
    previous = connection.health
    connection.health = result.get("health", Health.UNKNOWN)
    connection.health_reason_code = result.get("reason_code", "") or ""
    connection.health_message = (result.get("message") or "")[:500]
    connection.health_checked_at = timezone.now()
    for field in ("granted", "missing", "extra"):
        if field in result:
            setattr(connection, f"{field}_permissions", list(result[field]))
    if result.get("tenant_name"):
        connection.entra_tenant_name = result["tenant_name"][:200]
    if result.get("default_domain"):
        connection.default_domain = result["default_domain"][:255]
    connection.save()
    if previous != connection.health:
        record_event(
            workspace=connection.workspace,
            actor=None,
            action="connection.health_changed",
            target=connection,
            metadata={
                "from": previous,
                "to": connection.health,
                "reason_code": connection.health_reason_code,
                "run_id": getattr(run, "pk", None),
            },
        )
