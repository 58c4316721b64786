"""Change history against the simulator: no false changes, every true change exactly, and who
made it when the tenant's audit log says so ("unknown" otherwise)."""

from __future__ import annotations

import dataclasses
import uuid
from typing import Any

from tenantatlas.inventory.models import ItemChange
from tenantatlas.operations.tests.processes import run_once, sim_tenant
from tenantatlas.simulator.scenarios import Mutation
from tenantatlas.testing import make_sim_connection

SYNC = "inventory.sync"
ADMIN = "megan.bowen@contoso.onmicrosoft.com"
HISTORY_TENANT = "7d3c2b1a-0f9e-4d8c-b7a6-958473625140"


def _connection(
    sim: Any, acme: Any, alice: Any, tenant_id: str = "", **fields: Any
) -> tuple[Any, str]:
    tenant_id = tenant_id or str(uuid.uuid4())
    sim.add_tenant(sim_tenant(tenant_id, "history-secret", **fields))
    return make_sim_connection(acme, alice, tenant_id, "history-secret"), tenant_id


def _sync(conn: Any, alice: Any, capture: Any) -> Any:
    run = run_once(conn, alice, SYNC, capture)
    assert run.status == "succeeded", (run.reason_code, run.failure_message)
    return run


def test_ten_syncs_of_churn_and_reordering_record_no_change(
    sim, acme, alice, django_capture_on_commit_callbacks
):
    conn, tenant_id = _connection(sim, acme, alice, device_count=150, drift="churn")
    _sync(conn, alice, django_capture_on_commit_callbacks)  # the baseline

    for generation in range(1, 11):
        sim.set_generation(tenant_id, generation)
        run = _sync(conn, alice, django_capture_on_commit_callbacks)
        assert run.summary_counts["managed_device"]["seen"] == 150

    assert ItemChange.objects.count() == 0
    devices = conn.inventory_items.filter(kind="managed_device")
    assert len(set(devices.values_list("raw__lastSyncDateTime", flat=True))) > 1  # it did churn


MUTATIONS = [
    Mutation(
        1,
        "set",
        "deviceCompliancePolicies",
        0,
        "passwordMinimumLength",
        14,
        audit=True,
        actor=ADMIN,
    ),
    Mutation(1, "set", "managedDevices", 12, "complianceState", "noncompliant"),
    Mutation(1, "reorder", "deviceConfigurations", 0, "bluetoothAllowedServices"),
    Mutation(1, "churn", "managedDevices"),
    Mutation(
        2,
        "add",
        "deviceConfigurations",
        name="Windows - Update ring Pilot",
        audit=True,
        actor=ADMIN,
    ),
    Mutation(2, "rename", "mobileApps", 3, name="Company Portal (managed)"),
    Mutation(
        3, "remove", "configurationPolicies", 1, audit=True, actor="ops@contoso.onmicrosoft.com"
    ),
    Mutation(3, "set", "managedDevices", 4, "managedDeviceOwnerType", "personal"),
]
# (kind, change type, changed paths) each true mutation must leave; the reorder and the churn
# leave nothing.
EXPECTED = [
    ("compliance_policy", "changed", ["passwordMinimumLength"]),
    ("managed_device", "changed", ["complianceState"]),
    ("device_configuration", "created", []),
    ("mobile_app", "changed", ["displayName"]),
    ("configuration_policy", "removed", []),
    ("managed_device", "changed", ["managedDeviceOwnerType"]),
]


def test_declared_mutations_are_recorded_exactly_and_attributed_when_audited(
    sim, acme, alice, django_capture_on_commit_callbacks
):
    # A fixed tenant: its generated devices are the same on every run, so each declared value
    # differs from the one the device had (a "change" to the same value is no change).
    conn, tenant_id = _connection(
        sim, acme, alice, HISTORY_TENANT, device_count=60, drift="churn", mutations=MUTATIONS
    )
    _sync(conn, alice, django_capture_on_commit_callbacks)
    assert ItemChange.objects.count() == 0  # the first sync is the baseline

    for generation in (1, 2, 3):
        sim.set_generation(tenant_id, generation)
        _sync(conn, alice, django_capture_on_commit_callbacks)

    recorded = [
        (c.kind, c.change_type, [d["path"] for d in c.changes])
        for c in ItemChange.objects.order_by("detected_at", "kind", "id")
    ]
    assert sorted(recorded) == sorted(EXPECTED)
    policy = ItemChange.objects.get(kind="compliance_policy")
    assert policy.changes == [{"path": "passwordMinimumLength", "old": 8, "new": 14}]
    device = ItemChange.objects.get(kind="managed_device", changes__0__path="complianceState")
    assert device.changes[0]["new"] == "noncompliant"

    audited = {m.item_id: m for m in sim.mutations(tenant_id) if m.audit_event_id}
    for change in ItemChange.objects.select_related("item"):
        mutation = audited.get(change.item.external_id)
        if mutation is None:
            assert change.actor == "", change  # no event: honestly unknown
            continue
        assert change.actor == mutation.mutation.actor
        assert change.audit_event_id == mutation.audit_event_id
        assert change.activity_at == mutation.at
    assert ItemChange.objects.exclude(actor="").count() == 3


def test_a_first_sync_that_failed_half_way_is_no_baseline(
    sim, acme, alice, monkeypatch, django_capture_on_commit_callbacks
):
    """The next sync reads the rest of the tenant for the first time: nothing of it is "new"."""
    from tenantatlas.lib.reasons import ProviderError
    from tenantatlas.providers.microsoft import inventory as microsoft_inventory

    conn, _ = _connection(sim, acme, alice, device_count=1200)  # two pages of devices
    real_upsert = microsoft_inventory.upsert_page
    pages: list[str] = []

    def fail_on_the_second_device_page(seen_by, kind, items, counts, tracking=None):
        pages.append(kind)
        if kind == "managed_device" and pages.count(kind) == 2:
            raise ProviderError("graph.permission_denied", "Forbidden half-way.")
        real_upsert(seen_by, kind, items, counts, tracking)

    monkeypatch.setattr(microsoft_inventory, "upsert_page", fail_on_the_second_device_page)
    first = run_once(conn, alice, SYNC, django_capture_on_commit_callbacks)
    assert first.status == "partially_succeeded"
    stored = conn.inventory_items.filter(kind="managed_device").count()
    assert 0 < stored < 1200
    monkeypatch.setattr(microsoft_inventory, "upsert_page", real_upsert)

    _sync(conn, alice, django_capture_on_commit_callbacks)

    assert conn.inventory_items.filter(kind="managed_device").count() == 1200
    assert ItemChange.objects.count() == 0


def test_removals_are_written_in_bounded_chunks(
    sim, acme, alice, monkeypatch, django_capture_on_commit_callbacks
):
    from tenantatlas.inventory import services

    monkeypatch.setattr(services, "REMOVAL_CHUNK", 3)
    conn, tenant_id = _connection(sim, acme, alice, device_count=400, drift="none")
    _sync(conn, alice, django_capture_on_commit_callbacks)
    remove = [Mutation(1, "remove", "managedDevices", i) for i in range(8)]
    sim.add_tenant(dataclasses.replace(sim.get_tenant(tenant_id), mutations=remove, generation=1))

    run = _sync(conn, alice, django_capture_on_commit_callbacks)

    assert run.summary_counts["managed_device"]["removed"] == 8
    removed = ItemChange.objects.filter(change_type="removed", kind="managed_device")
    assert removed.count() == 8
    assert conn.inventory_items.filter(removed_at__isnull=False).count() == 8
