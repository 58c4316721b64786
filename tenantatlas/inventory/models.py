"""Last observed inventory of a connection's Entra tenant, and compliance snapshots over time."""

from __future__ import annotations

import datetime as dt

from django.db import models
from django.db.models import Q

from tenantatlas.workspaces.models import Workspace, WorkspaceScopedQuerySet


class InventoryKind(models.TextChoices):
    MANAGED_DEVICE = "managed_device", "Managed devices"
    COMPLIANCE_POLICY = "compliance_policy", "Compliance policies"
    DEVICE_CONFIGURATION = "device_configuration", "Device configurations"
    CONFIGURATION_POLICY = "configuration_policy", "Settings catalog policies"
    MOBILE_APP = "mobile_app", "Mobile apps"


class ComplianceState(models.TextChoices):
    """Graph's `complianceState` enum, spelled exactly as Graph spells it."""

    COMPLIANT = "compliant", "Compliant"
    NONCOMPLIANT = "noncompliant", "Not compliant"
    IN_GRACE_PERIOD = "inGracePeriod", "In grace period"
    CONFLICT = "conflict", "Conflict"
    ERROR = "error", "Error"
    UNKNOWN = "unknown", "Unknown"
    CONFIG_MANAGER = "configManager", "Config Manager"  # as Graph documents the state


class InventoryItem(models.Model):
    """One object seen in an Entra tenant (device, policy, app) as last observed."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    connection = models.ForeignKey(
        "providers.ProviderConnection", on_delete=models.CASCADE, related_name="inventory_items"
    )
    kind = models.CharField(max_length=30, choices=InventoryKind.choices)
    external_id = models.CharField(max_length=64)
    display_name = models.CharField(max_length=300, blank=True)
    platform = models.CharField(max_length=60, blank=True)
    os_version = models.CharField(max_length=60, blank=True)
    compliance_state = models.CharField(max_length=20, blank=True)
    user_principal_name = models.CharField(max_length=300, blank=True)
    last_sync_at = models.DateTimeField(null=True, blank=True)
    # A managed device that, when the sync observed it, had not checked in for the stale period
    # (inventory/stale.py); like every other field, as last observed.
    is_stale = models.BooleanField(default=False)
    odata_type = models.CharField(max_length=120, blank=True)
    raw = models.JSONField(default=dict)
    content_hash = models.CharField(max_length=40, blank=True)
    first_seen_at = models.DateTimeField()
    last_seen_at = models.DateTimeField()
    last_seen_run = models.ForeignKey(
        "operations.OperationRun",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    removed_at = models.DateTimeField(null=True, blank=True)

    objects = WorkspaceScopedQuerySet.as_manager()

    class Meta:
        ordering = ["display_name", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["connection", "kind", "external_id"], name="inventory_unique_item"
            )
        ]
        indexes = [
            models.Index(fields=["workspace", "kind", "display_name"], name="inv_ws_kind_name"),
            models.Index(fields=["connection", "kind", "removed_at"], name="inv_conn_kind_removed"),
            models.Index(fields=["connection", "kind", "last_seen_run"], name="inv_conn_kind_run"),
            # The stale devices of a workspace or a connection (the devices list's stale filter).
            models.Index(
                fields=["workspace", "kind", "connection"],
                condition=Q(removed_at__isnull=True, is_stale=True),
                name="inv_stale_devices",
            ),
        ]

    def __str__(self) -> str:
        return self.display_name or self.external_id


class ComplianceCounts(models.Model):
    """Device counts by Graph's complianceState: the columns a snapshot and a summary share."""

    compliant = models.PositiveIntegerField(default=0)
    noncompliant = models.PositiveIntegerField(default=0)
    in_grace_period = models.PositiveIntegerField(default=0)
    conflict = models.PositiveIntegerField(default=0)
    error = models.PositiveIntegerField(default=0)
    unknown = models.PositiveIntegerField(default=0)
    config_manager = models.PositiveIntegerField(default=0)
    total = models.PositiveIntegerField(default=0)

    class Meta:
        abstract = True


# Graph's complianceState value → the column that counts it.
STATE_COLUMNS = {
    ComplianceState.COMPLIANT: "compliant",
    ComplianceState.NONCOMPLIANT: "noncompliant",
    ComplianceState.IN_GRACE_PERIOD: "in_grace_period",
    ComplianceState.CONFLICT: "conflict",
    ComplianceState.ERROR: "error",
    ComplianceState.UNKNOWN: "unknown",
    ComplianceState.CONFIG_MANAGER: "config_manager",
}


class ComplianceSnapshot(ComplianceCounts):
    """Device counts by compliance state at one moment, forming a trend."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    connection = models.ForeignKey(
        "providers.ProviderConnection",
        on_delete=models.CASCADE,
        related_name="compliance_snapshots",
    )
    run = models.OneToOneField(
        "operations.OperationRun",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="snapshot",
    )
    taken_at = models.DateTimeField()
    stale = models.PositiveIntegerField(default=0)
    stale_after_days = models.PositiveIntegerField(default=7)
    tenant_summary = models.JSONField(default=dict, blank=True)

    objects = WorkspaceScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-taken_at", "-id"]
        indexes = [models.Index(fields=["connection", "-taken_at"], name="snap_conn_taken")]

    def __str__(self) -> str:
        return f"Snapshot of {self.connection_id} at {self.taken_at:%Y-%m-%d %H:%M}"


class TenantSummary(ComplianceCounts):
    """Per connection, what the overview shows, precomputed when a sync or snapshot finishes.

    The compliance counts are the connection's managed devices as the last inventory sync left
    them (so they match the device list they link to); the freshness fields say when the last
    sync and snapshot that produced data finished.
    """

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    connection = models.OneToOneField(
        "providers.ProviderConnection", on_delete=models.CASCADE, related_name="tenant_summary"
    )
    stale = models.PositiveIntegerField(default=0)  # of the devices, stale when observed
    last_sync_at = models.DateTimeField(null=True, blank=True)
    last_sync_status = models.CharField(max_length=30, blank=True)
    last_sync_run = models.ForeignKey(
        "operations.OperationRun",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    last_snapshot = models.ForeignKey(
        "ComplianceSnapshot", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    last_snapshot_at = models.DateTimeField(null=True, blank=True)
    # Kinds a sync has read completely at least once: their change history has a baseline.
    baselined_kinds = models.JSONField(default=list, blank=True)

    objects = WorkspaceScopedQuerySet.as_manager()

    class Meta:
        indexes = [models.Index(fields=["workspace"], name="summary_ws")]

    def __str__(self) -> str:
        return f"Summary of connection {self.connection_id}"


class ComplianceTrendDay(ComplianceCounts):
    """The workspace's devices by compliance state on one (UTC) day: the latest snapshot of
    every connection summed, rewritten by each snapshot of that day."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    stale = models.PositiveIntegerField(default=0)
    connections = models.PositiveIntegerField(default=0)
    updated_at = models.DateTimeField()

    objects = WorkspaceScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-day"]
        constraints = [
            models.UniqueConstraint(fields=["workspace", "day"], name="trend_one_row_per_day")
        ]

    def __str__(self) -> str:
        return f"Compliance of workspace {self.workspace_id} on {self.day}"

    @property
    def taken_at(self) -> dt.datetime:
        """When the day's figures were last rewritten (the trend chart's time axis)."""
        return self.updated_at


class ChangeType(models.TextChoices):
    CREATED = "created", "Created"
    CHANGED = "changed", "Changed"
    REMOVED = "removed", "Removed"


class ItemChange(models.Model):
    """What one sync found different about one item since its previous observation.

    Stored as a diff (`changes`: [{path, old, new}], empty for a creation or removal), never as
    a copy. Who made it comes from the tenant's audit log when an event matches the item and the
    window between the two observations; `actor` stays empty ("unknown") otherwise.
    """

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    connection = models.ForeignKey(
        "providers.ProviderConnection", on_delete=models.CASCADE, related_name="item_changes"
    )
    item = models.ForeignKey(InventoryItem, on_delete=models.CASCADE, related_name="changes")
    run = models.ForeignKey(
        "operations.OperationRun",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    kind = models.CharField(max_length=30, choices=InventoryKind.choices)
    change_type = models.CharField(max_length=10, choices=ChangeType.choices)
    display_name = models.CharField(max_length=300, blank=True)  # as of the change
    changes = models.JSONField(default=list, blank=True)
    detected_at = models.DateTimeField()
    previous_seen_at = models.DateTimeField(null=True, blank=True)  # the window's start
    actor = models.CharField(max_length=300, blank=True)  # UPN or app name; "" = unknown
    actor_type = models.CharField(max_length=40, blank=True)
    activity = models.CharField(max_length=200, blank=True)
    activity_at = models.DateTimeField(null=True, blank=True)
    audit_event_id = models.CharField(max_length=64, blank=True)

    objects = WorkspaceScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-detected_at", "-id"]
        indexes = [
            models.Index(fields=["workspace", "-detected_at", "-id"], name="change_ws_detected"),
            models.Index(fields=["connection", "-detected_at", "-id"], name="change_conn_detected"),
            models.Index(fields=["item", "-detected_at", "-id"], name="change_item_detected"),
            models.Index(fields=["run"], name="change_run"),
            models.Index(fields=["detected_at"], name="change_detected"),  # retention
        ]

    def __str__(self) -> str:
        return f"{self.get_change_type_display()} {self.display_name or self.item_id}"

    @property
    def attributed(self) -> bool:
        return bool(self.actor)
