"""The Graph app: the one path from TenantAtlas to Microsoft."""

from __future__ import annotations

from typing import Any

from django.apps import AppConfig
from django.core import checks


def check_contract_registry(**kwargs: Any) -> list[checks.CheckMessage]:
    """System check: every Graph contract declaration is sound (GET only, typed paths...)."""
    from tenantatlas.graph.contracts import validate_registry

    return [
        checks.Error(problem, id="graph.E001", obj="tenantatlas.graph.contracts")
        for problem in validate_registry()
    ]


class GraphConfig(AppConfig):
    name = "tenantatlas.graph"
    label = "graph"
    verbose_name = "Microsoft Graph access"

    def ready(self) -> None:
        from tenantatlas.graph.clouds import check_cloud_configuration

        checks.register(check_contract_registry, "graph")
        checks.register(check_cloud_configuration, "graph")
