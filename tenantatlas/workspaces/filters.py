"""The connection filter of history pages (Monitoring, inventory, compliance).

A workspace's connections are reached through their relation to it (`workspace.connections`), so
the pages below providers can filter by connection without importing it.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.db.models import F, QuerySet

from tenantatlas.workspaces.models import Workspace


class ConnectionChoiceField(forms.ModelChoiceField):
    """Connections of one workspace, deleted ones included (their history stays readable).

    The form sets the choices per request: `field.queryset = history_connections(workspace)`.
    """

    def __init__(self, queryset: Any = None, **kwargs: Any) -> None:
        super().__init__(queryset, **kwargs)

    def label_from_instance(self, obj: Any) -> str:
        return f"{obj.display_name} (deleted)" if obj.deleted_at else obj.display_name


def history_connections(workspace: Workspace) -> QuerySet[Any]:
    """Every connection the workspace ever had, live ones first."""
    return workspace.connections.order_by(
        F("deleted_at").asc(nulls_first=True), "display_name", "id"
    )
