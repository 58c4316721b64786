"""The default connection of a workspace: at most one, handed over within the same action."""

from __future__ import annotations

from django.db import transaction

from tenantatlas.audit.services import record_event
from tenantatlas.lib.actors import Actor
from tenantatlas.lib.errors import Refused
from tenantatlas.providers.models import ConnectionQuerySet, ConnectionStatus, ProviderConnection
from tenantatlas.providers.services.locks import lock_workspace


def make_default(connection: ProviderConnection, *, actor: Actor) -> None:
    """Move the default to `connection` (inside the caller's transaction and workspace lock)."""
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
def set_default_connection(*, actor: Actor, connection: ProviderConnection) -> ProviderConnection:
    lock_workspace(connection.workspace)
    connection.refresh_from_db()
    if connection.deleted_at is not None:
        raise Refused("This connection has been deleted.", code="deleted")
    if not connection.is_enabled:
        raise Refused(
            f"“{connection.display_name}” is disabled: enable it before making it the default.",
            code="connection_disabled",
        )
    if not connection.is_default:
        make_default(connection, actor=actor)
    return connection


def enabled_successors(connection: ProviderConnection) -> ConnectionQuerySet[ProviderConnection]:
    """The connections that may take over the default from this one: the other enabled ones."""
    return (
        ProviderConnection.objects.for_workspace(connection.workspace)
        .filter(status=ConnectionStatus.ENABLED)
        .exclude(pk=connection.pk)
    )


def hand_over_default(
    connection: ProviderConnection,
    new_default: ProviderConnection | None,
    *,
    actor: Actor,
    verb: str,
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
        make_default(new_default, actor=actor)


def take_default_if_vacant(connection: ProviderConnection, *, actor: Actor) -> None:
    """Nobody holds the default (every connection was disabled): `connection` takes it, from no one."""
    live = ProviderConnection.objects.for_workspace(connection.workspace)
    if not live.filter(is_default=True).exists():
        make_default(connection, actor=actor)
