"""The providers app: connections, their credentials and the gateway to Microsoft."""

from __future__ import annotations

from django.apps import AppConfig
from django.core import checks


class ProvidersConfig(AppConfig):
    name = "tenantatlas.providers"
    label = "providers"
    verbose_name = "Provider connections"

    def ready(self) -> None:
        from tenantatlas.providers.checks import check_encryption_keys

        checks.register(check_encryption_keys, "providers")
