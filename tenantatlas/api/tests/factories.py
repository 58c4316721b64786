"""Objects of every kind the API serves, for the isolation matrix and the fuzzer."""

from __future__ import annotations

import uuid
from typing import Any

from django.utils import timezone

from tenantatlas.inventory.models import (
    ChangeType,
    ComplianceSnapshot,
    InventoryItem,
    InventoryKind,
    ItemChange,
)
from tenantatlas.notifications.models import Notification
from tenantatlas.operations.models import OperationRun, RunStatus
from tenantatlas.testing import make_connection
from tenantatlas.workspaces.models import Workspace


def make_run(
    connection: Any, *, status: str = RunStatus.SUCCEEDED, operation_type: str = "inventory.sync"
) -> OperationRun:
    return OperationRun.objects.create(
        workspace=connection.workspace,
        connection=connection,
        operation_type=operation_type,
        scope_key=f"test:{uuid.uuid4()}",
        status=status,
        requested_by_label="test",
    )


def seed_workspace(workspace: Workspace, owner: Any) -> dict[str, Any]:
    """Two connections, runs, an inventory item and its change, a snapshot and notifications."""
    first = make_connection(
        workspace, owner, name=f"{workspace.slug} main", entra_tenant_id=str(uuid.uuid4())
    )
    second = make_connection(
        workspace, owner, name=f"{workspace.slug} branch", entra_tenant_id=str(uuid.uuid4())
    )
    runs = [
        make_run(first),
        make_run(second, status=RunStatus.QUEUED, operation_type="provider.health_check"),
    ]
    now = timezone.now()
    item = InventoryItem.objects.create(
        workspace=workspace,
        connection=first,
        kind=InventoryKind.MANAGED_DEVICE,
        external_id=str(uuid.uuid4()),
        display_name=f"{workspace.slug.upper()}-LAPTOP-1",
        platform="Windows",
        compliance_state="compliant",
        first_seen_at=now,
        last_seen_at=now,
    )
    change = ItemChange.objects.create(
        workspace=workspace,
        connection=first,
        item=item,
        run=runs[0],
        kind=item.kind,
        change_type=ChangeType.CHANGED,
        display_name=item.display_name,
        changes=[{"path": "osVersion", "old": "10.0.22621", "new": "10.0.22631"}],
        detected_at=now,
    )
    snapshot = ComplianceSnapshot.objects.create(
        workspace=workspace, connection=first, run=runs[0], taken_at=now, compliant=1, total=1
    )
    notifications = [
        Notification.objects.create(
            workspace=workspace, user=owner, kind="run.finished", title=f"Run {i}"
        )
        for i in range(2)
    ]
    return {
        "connection_ids": [first.pk, second.pk],
        "run_ids": [r.pk for r in runs],
        "notification_ids": [n.pk for n in notifications],
        "inventory_item_id": item.pk,
        "change_id": change.pk,
        "snapshot_id": snapshot.pk,
    }
