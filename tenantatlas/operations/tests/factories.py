"""Row factories for the read-side tests: plain ORM rows, no services, no network."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest
from django.utils import timezone

from tenantatlas.inventory.models import (
    ChangeType,
    ComplianceSnapshot,
    InventoryItem,
    InventoryKind,
    ItemChange,
)
from tenantatlas.inventory.stale import stale_device_rule
from tenantatlas.operations.models import OperationRun
from tenantatlas.testing import make_connection


def run_row(workspace: Any, connection: Any, **fields: Any) -> OperationRun:
    """An unsaved run; terminal unless told otherwise, with its own scope key."""
    fields.setdefault("operation_type", "inventory.sync")
    fields.setdefault("status", "succeeded")
    fields.setdefault("scope_key", f"test:{uuid.uuid4()}")
    fields.setdefault("requested_by_label", "alice")
    return OperationRun(workspace=workspace, connection=connection, **fields)


def make_run(workspace: Any, connection: Any, **fields: Any) -> OperationRun:
    created_at = fields.pop("created_at", None)
    run = run_row(workspace, connection, **fields)
    run.save()
    if created_at is not None:
        OperationRun.objects.filter(pk=run.pk).update(created_at=created_at)
        run.refresh_from_db()
    return run


def make_runs(
    workspace: Any, connection: Any, count: int, *, ties: int = 1, **fields: Any
) -> list[OperationRun]:
    """`count` runs, `ties` of them sharing each created_at (to exercise the id tie-break)."""
    runs = OperationRun.objects.bulk_create(
        [run_row(workspace, connection, **fields) for _ in range(count)]
    )
    base = timezone.now() - dt.timedelta(days=1)
    for i, run in enumerate(runs):
        run.created_at = base + dt.timedelta(seconds=i // ties)
    OperationRun.objects.bulk_update(runs, ["created_at"], batch_size=500)
    return runs


def item_row(workspace: Any, connection: Any, **fields: Any) -> InventoryItem:
    now = timezone.now()
    fields.setdefault("kind", "managed_device")
    fields.setdefault("external_id", str(uuid.uuid4()))
    fields.setdefault("display_name", f"DEVICE-{fields['external_id'][:8]}")
    fields.setdefault("first_seen_at", now)
    fields.setdefault("last_seen_at", now)
    fields.setdefault("raw", {"id": fields["external_id"], "deviceName": fields["display_name"]})
    # As a sync stores it: a device is stale when it was observed (now) without a recent check-in.
    is_device = fields["kind"] == InventoryKind.MANAGED_DEVICE
    fields.setdefault(
        "is_stale", is_device and stale_device_rule(now).is_stale(fields.get("last_sync_at"))
    )
    return InventoryItem(workspace=workspace, connection=connection, **fields)


def make_item(workspace: Any, connection: Any, **fields: Any) -> InventoryItem:
    item = item_row(workspace, connection, **fields)
    item.save()
    return item


def change_row(item: InventoryItem, **fields: Any) -> ItemChange:
    """An unsaved change of `item` (its workspace, connection, kind and name), "changed" with a
    one-setting diff unless told otherwise; `changes` is emptied for a creation or removal."""
    fields.setdefault("change_type", ChangeType.CHANGED)
    if fields["change_type"] == ChangeType.CHANGED:
        fields.setdefault("changes", [{"path": "displayName", "old": "Before", "new": "After"}])
    else:
        fields.setdefault("changes", [])
    fields.setdefault("detected_at", timezone.now())
    fields.setdefault("display_name", item.display_name)
    fields.setdefault("kind", item.kind)
    return ItemChange(
        workspace_id=item.workspace_id,
        connection_id=item.connection_id,
        item=item,
        **fields,
    )


def make_change(item: InventoryItem, **fields: Any) -> ItemChange:
    change = change_row(item, **fields)
    change.save()
    return change


def make_snapshot(workspace: Any, connection: Any, **fields: Any) -> ComplianceSnapshot:
    fields.setdefault("taken_at", timezone.now())
    states = (
        "compliant",
        "noncompliant",
        "in_grace_period",
        "conflict",
        "error",
        "unknown",
        "config_manager",
    )
    fields.setdefault("total", sum(fields.get(s, 0) for s in states))
    return ComplianceSnapshot.objects.create(workspace=workspace, connection=connection, **fields)


# Connection fixtures shared by the operations, inventory and notifications tests
# (each app's tests/conftest.py imports them).


@pytest.fixture
def contoso(acme: Any, alice: Any) -> Any:
    return make_connection(acme, alice, name="Contoso")


@pytest.fixture
def fabrikam(acme: Any, alice: Any) -> Any:
    return make_connection(
        acme, alice, name="Fabrikam", entra_tenant_id="22222222-3333-4444-5555-666666666666"
    )


@pytest.fixture
def initech(globex: Any, mallory: Any) -> Any:
    return make_connection(globex, mallory, name="Initech")
