"""A small estate of connections with known figures, for the overview tests."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

from django.utils import timezone

from tenantatlas.inventory.models import InventoryItem
from tenantatlas.inventory.observed import SeenBy
from tenantatlas.inventory.summaries import record_sync_summary
from tenantatlas.operations.tests.factories import item_row, make_change, make_run
from tenantatlas.providers.models import ProviderConnection, ProviderCredential
from tenantatlas.testing import make_connection
from tenantatlas.workspaces.models import Workspace


@dataclass
class Tenant:
    name: str
    health: str = "healthy"
    reason: str = ""
    status: str = "enabled"
    devices: dict[str, int] | None = None  # complianceState → count
    stale: int = 0  # of those devices, how many last checked in a month ago
    expires_in_days: float | None = None


def add_tenant(workspace: Workspace, actor: Any, tenant: Tenant) -> ProviderConnection:
    conn = make_connection(workspace, actor, name=tenant.name, entra_tenant_id=str(uuid.uuid4()))
    ProviderConnection.objects.filter(pk=conn.pk).update(
        health=tenant.health, health_reason_code=tenant.reason, status=tenant.status
    )
    if tenant.expires_in_days is not None:
        ProviderCredential.objects.filter(connection=conn).update(
            expires_at=timezone.now() + dt.timedelta(days=tenant.expires_in_days)
        )
    if tenant.devices is not None:
        run = make_run(workspace, conn, finished_at=timezone.now())
        add_devices(conn, tenant.devices, stale=tenant.stale)
        record_sync_summary(SeenBy(workspace.pk, conn.pk, run.pk), status="succeeded")
    conn.refresh_from_db()
    return conn


def add_devices(conn: ProviderConnection, devices: dict[str, int], *, stale: int = 0) -> None:
    now = timezone.now()
    rows = []
    for state, count in devices.items():
        for _ in range(count):
            old = len(rows) < stale
            synced = now - dt.timedelta(days=30 if old else 1)
            rows.append(
                item_row(
                    conn.workspace, conn, compliance_state=state, last_sync_at=synced, is_stale=old
                )
            )
    InventoryItem.objects.bulk_create(rows, batch_size=1000)


ACME_ESTATE = [
    Tenant(
        "Alpha",
        devices={"compliant": 7, "noncompliant": 2, "inGracePeriod": 1},
        stale=3,
        expires_in_days=5,
    ),
    Tenant("Bravo", health="unhealthy", reason="auth.client_secret_expired", expires_in_days=-1),
    Tenant(
        "Charlie",
        health="degraded",
        reason="graph.permission_denied",
        devices={"compliant": 4},
        expires_in_days=45,
    ),
    Tenant("Delta", status="disabled"),
]


def seed_acme(acme: Workspace, alice: Any) -> dict[str, ProviderConnection]:
    """The acme estate plus its runs: two problems in the last day, two runs that are not."""
    conns = {t.name: add_tenant(acme, alice, t) for t in ACME_ESTATE}
    now = timezone.now()
    make_run(acme, conns["Alpha"], status="failed", finished_at=now - dt.timedelta(hours=2))
    make_run(
        acme,
        conns["Charlie"],
        status="partially_succeeded",
        finished_at=now - dt.timedelta(hours=3),
    )
    make_run(acme, conns["Alpha"], status="failed", finished_at=now - dt.timedelta(hours=30))
    make_run(acme, conns["Bravo"], status="succeeded", finished_at=now - dt.timedelta(hours=1))
    # Inventory changes: two changed and one created in the last day, one older.
    device = InventoryItem.objects.filter(connection=conns["Alpha"]).first()
    assert device is not None
    for change_type, hours in (("changed", 1), ("changed", 5), ("created", 2), ("removed", 30)):
        make_change(device, change_type=change_type, detected_at=now - dt.timedelta(hours=hours))
    return conns


def seed_globex(globex: Workspace, mallory: Any) -> ProviderConnection:
    """Another workspace's troubles: none of it may show or count in acme's figures."""
    conn = add_tenant(
        globex,
        mallory,
        Tenant(
            "Initech",
            health="unhealthy",
            reason="auth.consent_missing",
            devices={"noncompliant": 50},
            stale=50,
            expires_in_days=-3,
        ),
    )
    make_run(globex, conn, status="failed", finished_at=timezone.now())
    return conn
