"""A connection's health: recorded from a finished check, cleared when what it checked changes."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from tenantatlas.audit.services import record_event
from tenantatlas.lib.actors import RUN_COMPLETION
from tenantatlas.operations.models import OperationRun
from tenantatlas.providers.alert_events import health_changed
from tenantatlas.providers.health_result import HealthResult
from tenantatlas.providers.models import Health, PartnerApp, ProviderConnection


def forget_partner_app_health(partner_app: PartnerApp) -> int:
    """Its connections' last checks tested another app id or credential: forget them."""
    return ProviderConnection.objects.filter(partner_app=partner_app).update(
        health=Health.UNKNOWN, health_reason_code="", health_message="", health_checked_at=None
    )


def reset_health(connection: ProviderConnection) -> None:
    """Forget the last check (unsaved): the tenant, cloud or credential it checked has changed."""
    connection.health = Health.UNKNOWN
    connection.health_reason_code = ""
    connection.health_message = ""
    connection.health_checked_at = None


@transaction.atomic
def record_health(
    *, connection: ProviderConnection, result: HealthResult, run: OperationRun | None = None
) -> None:
    """Store a health check's outcome on the connection (called by the run-completed listener)."""
    connection = ProviderConnection.objects.select_for_update().get(pk=connection.pk)
    previous = connection.health
    connection.health = result.health
    connection.health_reason_code = result.reason_code
    connection.health_message = result.message[:500]
    connection.health_checked_at = timezone.now()
    if result.granted is not None:
        connection.granted_permissions = list(result.granted)
    if result.missing is not None:
        connection.missing_permissions = list(result.missing)
    if result.extra is not None:
        connection.extra_permissions = list(result.extra)
    if result.tenant_name:
        connection.entra_tenant_name = result.tenant_name[:200]
    if result.default_domain:
        connection.default_domain = result.default_domain[:255]
    connection.save()
    if previous != connection.health:
        health_changed(connection, previous)
        record_event(
            workspace=connection.workspace,
            actor=RUN_COMPLETION,
            action="connection.health_changed",
            target=connection,
            metadata={
                "from": previous,
                "to": connection.health,
                "reason_code": connection.health_reason_code,
                "run_id": run.pk if run is not None else None,
            },
        )
