"""The overview's precomputed rows: a sync recounts the connection's devices exactly as its list
shows them, a snapshot becomes the connection's latest and rewrites today's workspace trend."""

from __future__ import annotations

import uuid

from django.db.models import Count
from django.utils import timezone

from tenantatlas.inventory.models import (
    STATE_COLUMNS,
    ComplianceSnapshot,
    ComplianceTrendDay,
    InventoryItem,
    TenantSummary,
)
from tenantatlas.inventory.stale import stale_device_rule
from tenantatlas.operations.tests.processes import run_once, sim_tenant
from tenantatlas.testing import make_sim_connection

SYNC, SNAPSHOT = "inventory.sync", "compliance.snapshot"


def _tenant(sim, devices: int, **fields):
    tenant_id = str(uuid.uuid4())
    secret = f"secret-{tenant_id[:8]}"
    sim.add_tenant(sim_tenant(tenant_id, secret, device_count=devices, **fields))
    return tenant_id, secret


def test_it_counts_the_devices_a_sync_left_by_compliance_state(
    sim, acme, alice, django_capture_on_commit_callbacks
):
    tenant_id, secret = _tenant(sim, 37)
    conn = make_sim_connection(acme, alice, tenant_id, secret)
    run = run_once(conn, alice, SYNC, django_capture_on_commit_callbacks)
    assert run.status == "succeeded"

    summary = TenantSummary.objects.get(connection=conn)
    listed = dict(
        InventoryItem.objects.filter(connection=conn, kind="managed_device", removed_at=None)
        .values_list("compliance_state")
        .annotate(n=Count("id"))
        .order_by()
    )
    assert summary.total == 37 == sum(listed.values())
    stale = InventoryItem.objects.filter(stale_device_rule().condition, connection=conn).count()
    assert summary.stale == stale
    for state, n in listed.items():
        assert getattr(summary, STATE_COLUMNS[state]) == n
    assert (summary.last_sync_run_id, summary.last_sync_status) == (run.pk, "succeeded")
    assert summary.last_sync_at is not None
    assert summary.workspace_id == acme.pk


def test_it_sums_every_connections_latest_snapshot_into_todays_trend(
    sim, acme, alice, django_capture_on_commit_callbacks
):
    connections = []
    for devices in (20, 45):
        tenant_id, secret = _tenant(sim, devices)
        connections.append(make_sim_connection(acme, alice, tenant_id, secret))
    for conn in connections:
        assert run_once(conn, alice, SNAPSHOT, django_capture_on_commit_callbacks).status == (
            "succeeded"
        )
    # A second snapshot of the first connection replaces its share; it is not added twice.
    run_once(connections[0], alice, SNAPSHOT, django_capture_on_commit_callbacks)

    day = ComplianceTrendDay.objects.get(workspace=acme, day=timezone.now().date())
    latest = [ComplianceSnapshot.objects.filter(connection=c).first() for c in connections]
    assert day.total == 65 == sum(s.total for s in latest)
    assert day.connections == 2
    for column in [*STATE_COLUMNS.values(), "stale"]:
        assert getattr(day, column) == sum(getattr(s, column) for s in latest), column
    summary = TenantSummary.objects.get(connection=connections[0])
    assert summary.last_snapshot == latest[0]
    assert summary.last_snapshot_at == latest[0].taken_at


def test_the_sync_and_the_snapshot_agree_on_the_stale_devices(
    sim, acme, alice, django_capture_on_commit_callbacks
):
    conn = make_sim_connection(acme, alice, *_tenant(sim, 300))
    run_once(conn, alice, SYNC, django_capture_on_commit_callbacks)
    run_once(conn, alice, SNAPSHOT, django_capture_on_commit_callbacks)

    summary = TenantSummary.objects.get(connection=conn)
    snapshot = ComplianceSnapshot.objects.get(connection=conn)
    stored = InventoryItem.objects.filter(stale_device_rule().condition, connection=conn)
    assert summary.stale == snapshot.stale == stored.count()
    assert 0 < summary.stale < 300


def test_it_leaves_a_deleted_connection_out_of_the_trend(
    sim, acme, alice, django_capture_on_commit_callbacks
):
    kept, dropped = [make_sim_connection(acme, alice, *_tenant(sim, n)) for n in (10, 30)]
    run_once(dropped, alice, SNAPSHOT, django_capture_on_commit_callbacks)
    dropped.deleted_at = timezone.now()
    dropped.save(update_fields=["deleted_at"])
    run_once(kept, alice, SNAPSHOT, django_capture_on_commit_callbacks)
    day = ComplianceTrendDay.objects.get(workspace=acme)
    assert (day.total, day.connections) == (10, 1)
