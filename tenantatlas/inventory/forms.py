"""Inventory browser and compliance history filters (GET forms, usable without JavaScript)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.db.models import Q
from django.db.models.fields.json import KT

from tenantatlas.inventory.labels import platform_filter
from tenantatlas.inventory.models import ComplianceState, InventoryKind
from tenantatlas.inventory.stale import stale_device_rule
from tenantatlas.workspaces.filters import ConnectionChoiceField, history_connections
from tenantatlas.workspaces.models import Workspace

PLATFORM_SUGGESTIONS = ("Windows", "iOS", "iPadOS", "Android", "macOS", "Linux")  # devices


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
    # `stale=1`: devices not synced for COMPLIANCE_STALE_DAYS (the overview links to it).
    stale = forms.ChoiceField(required=False, choices=[("1", "Stale devices only")])

    def filter(self, items: Any) -> Any:
        """`items` (of one workspace) narrowed to the chosen kind and filters.

        A settings catalog policy's `platforms` and template family are annotated from `raw`
        (`graph_platforms`, `template_family`), so the list and the export never load `raw`.
        """
        kind = self.chosen_kind
        items = items.filter(kind=kind)
        if kind == InventoryKind.CONFIGURATION_POLICY:
            items = items.annotate(
                graph_platforms=KT("raw__platforms"),
                template_family=KT("raw__templateReference__templateFamily"),
            )
        if connection := self.value("connection"):
            items = items.filter(connection=connection)
        if q := self.value("q"):
            items = items.filter(Q(display_name__icontains=q) | Q(user_principal_name__icontains=q))
        if platform := self.value("platform"):
            items = items.filter(platform_filter(kind, platform))
        if state := self.value("compliance_state"):
            items = items.filter(compliance_state=state)
        if self.stale_only:
            items = items.filter(stale_device_rule().condition)
        if not self.value("include_removed"):
            items = items.filter(removed_at__isnull=True)
        return items

    @property
    def stale_only(self) -> bool:
        return self.value("stale") == "1"

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
