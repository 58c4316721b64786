"""The providers app: connections, their credentials and the gateway to Microsoft.

It plugs into the run framework below it: when ready it registers the Microsoft module's
capabilities in the operations registry and subscribes the connection-health listener to
OperationRunCompleted.
"""

from __future__ import annotations

from django.apps import AppConfig
from django.core import checks


class ProvidersConfig(AppConfig):
    name = "tenantatlas.providers"
    label = "providers"
    verbose_name = "Provider connections"

    def ready(self) -> None:
        from tenantatlas.alerts.ticks import register_scan
        from tenantatlas.operations.events import on_run_ended, operation_run_completed
        from tenantatlas.operations.registry import register_capability
        from tenantatlas.providers import alert_events, listeners, microsoft
        from tenantatlas.providers.checks import check_encryption_keys
        from tenantatlas.providers.services import rotation

        checks.register(check_encryption_keys, "providers")
        for interface, handler in microsoft.CAPABILITIES:
            register_capability(provider=microsoft.PROVIDER, interface=interface, handler=handler)
        operation_run_completed.connect(
            listeners.update_connection_health, dispatch_uid="run-health"
        )
        on_run_ended(rotation.settle_verification)
        register_scan("credential-expiry", alert_events.scan_credential_expiry)
