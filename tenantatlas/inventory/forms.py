"""Inventory browser and compliance history filters (GET forms, usable without JavaScript)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.db.models import Q

from tenantatlas.inventory.models import ComplianceState, InventoryKind
from tenantatlas.workspaces.filters import ConnectionChoiceField, history_connections
from tenantatlas.workspaces.models import Workspace

PLATFORM_SUGGESTIONS = ("Windows", "iOS", "iPadOS", "Android", "macOS", "Linux")


class _WorkspaceConnectionForm(forms.Form):
    connection = ConnectionChoiceField(required=False, empty_label="All connections")

    def __init__(self, *args: Any, workspace: Workspace, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["connection"].queryset = history_connections(workspace)  # type: ignore[attr-defined]

    def value(self, name: str) -> Any:
        """A cleaned value, or None when absent or invalid (invalid filters are ignored)."""
        self.is_valid()
        return getattr(self, "cleaned_data", {}).get(name) or None


class InventoryFilterForm(_WorkspaceConnectionForm):
    kind = forms.ChoiceField(required=False, choices=InventoryKind.choices)
    q = forms.CharField(required=False, max_length=200, label="Search")
    platform = forms.CharField(required=False, max_length=60, label="Platform / OS")
    compliance_state = forms.ChoiceField(
        required=False, label="Compliance", choices=[("", "Any state"), *ComplianceState.choices]
    )
    include_removed = forms.BooleanField(required=False, label="Include removed")

    def filter(self, items: Any) -> Any:
        items = items.filter(kind=self.chosen_kind)
        if connection := self.value("connection"):
            items = items.filter(connection=connection)
        if q := self.value("q"):
            items = items.filter(Q(display_name__icontains=q) | Q(user_principal_name__icontains=q))
        if platform := self.value("platform"):
            items = items.filter(platform__iexact=platform)
        if state := self.value("compliance_state"):
            items = items.filter(compliance_state=state)
        if not self.value("include_removed"):
            items = items.filter(removed_at__isnull=True)
        return items

    @property
    def chosen_kind(self) -> str:
        return self.value("kind") or InventoryKind.MANAGED_DEVICE


class ComplianceConnectionForm(_WorkspaceConnectionForm):
    """History is per connection: there is no "all connections" choice."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["connection"].empty_label = None  # type: ignore[attr-defined]

    def chosen(self) -> Any:
        """The chosen connection, else the workspace default, else the first one."""
        chosen = self.value("connection")
        if chosen is not None:
            return chosen
        connections = list(self.fields["connection"].queryset)  # type: ignore[attr-defined]
        live = [c for c in connections if c.deleted_at is None] or connections
        fallback = next((c for c in live if c.is_default), live[0] if live else None)
        if fallback is not None and not self.is_bound:
            self.initial["connection"] = fallback.pk
        return fallback
