"""Every demo tenant of the simulator ends each operation in its documented status and reason.

Also the inventory guarantees: a failed or partial sync keeps what was last observed, and a
complete sync marks what disappeared as removed, with exact seen/created/updated/removed counts.
"""

from __future__ import annotations

import dataclasses

import pytest

from tenantatlas.inventory.models import ComplianceSnapshot, InventoryItem
from tenantatlas.operations.tests.processes import ALL_ROLES, run_once, sim_tenant
from tenantatlas.simulator.data import effective_device_count, is_renamed_device, is_renamed_item
from tenantatlas.simulator.scenarios import DEMO_SCENARIOS, Faults, load_scenarios
from tenantatlas.testing import DEMO_CLIENT_ID, make_sim_connection

# The tenants that register the demo app (with a secret of their own); the partner app's tenants
# of the onboarding demo (issue 14) are connected through admin consent instead.
DEMO = {
    tenant.display_name: tenant
    for tenant in load_scenarios(DEMO_SCENARIOS)
    if any(app.client_id == DEMO_CLIENT_ID for app in tenant.apps)
}
HEALTH, SYNC, SNAPSHOT = "provider.health_check", "inventory.sync", "compliance.snapshot"

# tenant → operation → (run status, reason code, connection health afterwards or None = not asserted)
EXPECTED: dict[str, dict[str, tuple[str, str, str | None]]] = {
    "Contoso Ltd": {
        HEALTH: ("succeeded", "", "healthy"),
        SYNC: ("succeeded", "", None),
        SNAPSHOT: ("succeeded", "", None),
    },
    "Fabrikam Inc": {HEALTH: ("succeeded", "", "healthy")},  # throttling: see its own test
    "Northwind Traders": {
        HEALTH: ("partially_succeeded", "graph.permission_denied", "degraded"),
        SYNC: ("partially_succeeded", "graph.permission_denied", None),
        SNAPSHOT: ("succeeded", "", None),
    },
    "Tailspin Toys": {
        HEALTH: ("failed", "auth.client_secret_expired", "unhealthy"),
        SYNC: ("failed", "auth.client_secret_expired", "unhealthy"),
        SNAPSHOT: ("failed", "auth.client_secret_expired", "unhealthy"),
    },
    "Woodgrove Bank": {
        HEALTH: ("partially_succeeded", "graph.license_missing", "degraded"),
        SYNC: ("failed", "graph.license_missing", "unknown"),
        SNAPSHOT: ("failed", "graph.license_missing", "unknown"),
    },
    "Litware Inc": {
        HEALTH: ("failed", "auth.consent_missing", "unhealthy"),
        SYNC: ("failed", "auth.consent_missing", "unhealthy"),
        SNAPSHOT: ("failed", "auth.consent_missing", "unhealthy"),
    },
    "Adatum Corporation": {
        HEALTH: ("failed", "auth.app_disabled", "unhealthy"),
        SYNC: ("failed", "auth.app_disabled", "unhealthy"),
        SNAPSHOT: ("failed", "auth.app_disabled", "unhealthy"),
    },
    "Proseware Inc": {
        HEALTH: ("failed", "auth.blocked_by_policy", "unhealthy"),
        SYNC: ("failed", "auth.blocked_by_policy", "unhealthy"),
        SNAPSHOT: ("failed", "auth.blocked_by_policy", "unhealthy"),
    },
    "Alpine Ski House": {
        HEALTH: ("failed", "provider.tenant_mismatch", "unhealthy"),
        # Every operation compares /organization before it stores anything.
        SYNC: ("failed", "provider.tenant_mismatch", "unhealthy"),
        SNAPSHOT: ("failed", "provider.tenant_mismatch", "unhealthy"),
    },
    "Relecloud": {HEALTH: ("succeeded", "", "healthy")},  # 120,000 devices: test_large_tenant_sync
}
CASES = [(tenant, op) for tenant, ops in EXPECTED.items() for op in ops]


def secret_of(tenant) -> str:
    return tenant.apps[0].secrets[0].value


def items(conn) -> dict[tuple[str, str], tuple[str, str, object]]:
    return {
        (kind, external_id): (content_hash, last_seen_run, removed_at)
        for kind, external_id, content_hash, last_seen_run, removed_at in InventoryItem.objects.filter(
            connection=conn
        ).values_list("kind", "external_id", "content_hash", "last_seen_run", "removed_at")
    }


def test_it_has_an_expectation_for_every_demo_tenant():
    assert set(EXPECTED) == set(DEMO)
    assert all(HEALTH in ops for ops in EXPECTED.values())


@pytest.mark.parametrize(
    ("tenant_name", "operation_type"), CASES, ids=[f"{t}-{o}" for t, o in CASES]
)
def test_it_ends_each_demo_scenario_as_documented(
    sim, acme, alice, tenant_name, operation_type, django_capture_on_commit_callbacks
):
    tenant = DEMO[tenant_name]
    conn = make_sim_connection(acme, alice, tenant.tenant_id, secret_of(tenant), name=tenant_name)
    run = run_once(conn, alice, operation_type, django_capture_on_commit_callbacks)
    status, reason_code, health = EXPECTED[tenant_name][operation_type]
    assert (run.status, run.reason_code) == (status, reason_code), run.failure_message
    conn.refresh_from_db()
    if health is not None:
        assert conn.health == health
    if status == "failed":
        assert run.failure_message
    if operation_type == HEALTH and status != "failed":
        assert conn.entra_tenant_name == tenant.display_name
        assert conn.default_domain == tenant.default_domain
    if operation_type == SYNC and status != "failed":
        devices = effective_device_count(tenant)
        assert run.summary_counts["managed_device"] == {
            "seen": devices,
            "created": devices,
            "updated": 0,
            "removed": 0,
        }
        assert (
            conn.inventory_items.filter(kind="managed_device", removed_at__isnull=True).count()
            == devices
        )
    if operation_type == SNAPSHOT and status == "succeeded":
        snapshot = ComplianceSnapshot.objects.get(run=run)
        assert snapshot.total == effective_device_count(tenant)
        summary = snapshot.tenant_summary
        assert (snapshot.compliant, snapshot.noncompliant, snapshot.in_grace_period) == (
            summary["compliantDeviceCount"],
            summary["nonCompliantDeviceCount"],
            summary["inGracePeriodCount"],
        )
        assert (snapshot.conflict, snapshot.error, snapshot.unknown, snapshot.config_manager) == (
            summary["conflictDeviceCount"],
            summary["errorDeviceCount"],
            summary["unknownDeviceCount"],
            summary["configManagerCount"],
        )


def test_it_marks_the_missing_permission_on_the_connection_and_the_forbidden_kind(
    sim, acme, alice, django_capture_on_commit_callbacks
):
    tenant = DEMO["Northwind Traders"]
    conn = make_sim_connection(acme, alice, tenant.tenant_id, secret_of(tenant))
    run_once(conn, alice, HEALTH, django_capture_on_commit_callbacks)
    conn.refresh_from_db()
    assert conn.missing_permissions == ["DeviceManagementApps.Read.All"]
    sync = run_once(conn, alice, SYNC, django_capture_on_commit_callbacks)
    assert sync.summary_counts["mobile_app"]["error"] == "graph.permission_denied"
    assert "DeviceManagementApps.Read.All" in sync.summary_counts["mobile_app"]["message"]
    assert not conn.inventory_items.filter(kind="mobile_app").exists()
    assert (
        conn.inventory_items.filter(kind="compliance_policy").count()
        == tenant.compliance_policy_count
    )


def test_it_spends_the_throttled_tenants_retry_budget_then_recovers(
    sim, acme, alice, settings, django_capture_on_commit_callbacks
):
    tenant = DEMO["Fabrikam Inc"]
    conn = make_sim_connection(acme, alice, tenant.tenant_id, secret_of(tenant))
    assert sim.remaining_faults(tenant.tenant_id) == (20, 2)

    health = run_once(conn, alice, HEALTH, django_capture_on_commit_callbacks)
    assert health.status == "succeeded"
    # /organization is never throttled; the single Intune probe meets one 429 and does not retry.
    assert health.context["health"]["intune"] == "not_checked"
    assert sim.remaining_faults(tenant.tenant_id) == (19, 2)

    # Three attempts per request: two waits of exactly the fractional Retry-After (1.5 s).
    settings.GRAPH_MAX_ATTEMPTS = 3
    snapshot = run_once(conn, alice, SNAPSHOT, django_capture_on_commit_callbacks)
    assert (snapshot.status, snapshot.reason_code) == ("failed", "graph.throttled")
    details = snapshot.context["failure_details"]
    assert (details["attempts"], details["wait_seconds"]) == (3, 3.0)
    assert sim.remaining_faults(tenant.tenant_id) == (16, 2)

    # A total budget smaller than one Retry-After: every request gives up at once, none waits.
    settings.GRAPH_MAX_ATTEMPTS = 6
    settings.GRAPH_MAX_TOTAL_WAIT = 1.0
    sync = run_once(conn, alice, SYNC, django_capture_on_commit_callbacks)
    assert (sync.status, sync.reason_code) == ("failed", "graph.throttled")
    assert sim.remaining_faults(tenant.tenant_id) == (10, 2)  # overview + five kinds, one try each
    assert not conn.inventory_items.exists()

    # Later, with the tenant's throttling nearly over, the default budget gets through.
    settings.GRAPH_MAX_TOTAL_WAIT = 120.0
    calmer = dataclasses.replace(
        tenant.faults, throttle=dataclasses.replace(tenant.faults.throttle, count=2)
    )
    sim.add_tenant(dataclasses.replace(tenant, faults=calmer))
    sync = run_once(conn, alice, SYNC, django_capture_on_commit_callbacks)
    assert (sync.status, sync.reason_code) == ("succeeded", "")
    assert sim.remaining_faults(tenant.tenant_id) == (0, 0)
    graph = sync.context["graph"]
    assert graph["retries"] == 4
    overview = graph["by_contract"]["device_overview.get"]
    assert overview["attempts"] == 5
    assert overview["wait_seconds"] >= 3.0  # both 1.5 s Retry-Afters honoured, then backoff
    assert conn.inventory_items.filter(kind="managed_device").count() == tenant.device_count


FLAKY = "7d9f1b3c-5e7a-4c9b-8d1f-3a5c7e9b1d2f"


@pytest.mark.parametrize(
    "breakage",
    ["changed secret", "no intune licence", "apps forbidden"],
)
def test_it_keeps_the_last_observed_inventory_when_a_sync_fails(
    sim, acme, alice, breakage, django_capture_on_commit_callbacks
):
    tenant = sim.add_tenant(sim_tenant(FLAKY, "flaky-secret", device_count=120, seed=21))
    conn = make_sim_connection(acme, alice, FLAKY, "flaky-secret")
    first = run_once(conn, alice, SYNC, django_capture_on_commit_callbacks)
    assert first.status == "succeeded"
    before = items(conn)
    assert len(before) == 120 + 6 + 8 + 5 + 12

    if breakage == "changed secret":
        sim.add_tenant(sim_tenant(FLAKY, "rotated-elsewhere", device_count=120, seed=21))
        expected = ("failed", "auth.invalid_client_secret")
    elif breakage == "no intune licence":
        sim.add_tenant(dataclasses.replace(tenant, intune_licensed=False))
        expected = ("failed", "graph.license_missing")
    else:
        roles = [r for r in ALL_ROLES if r != "DeviceManagementApps.Read.All"]
        sim.add_tenant(sim_tenant(FLAKY, "flaky-secret", device_count=120, seed=21, roles=roles))
        expected = ("partially_succeeded", "graph.permission_denied")

    second = run_once(conn, alice, SYNC, django_capture_on_commit_callbacks)
    assert (second.status, second.reason_code) == expected
    after = items(conn)
    assert set(after) == set(before)
    assert all(removed_at is None for _, _, removed_at in after.values())
    for key, (content_hash, last_seen_run, _) in after.items():
        assert content_hash == before[key][0]
        if breakage == "apps forbidden" and key[0] != "mobile_app":
            assert last_seen_run == second.pk  # the readable kinds were refreshed
        else:
            assert last_seen_run == first.pk  # untouched: kept as last observed


DEVICES = "/v1.0/deviceManagement/managedDevices"
APPS = "/v1.0/deviceAppManagement/mobileApps"


def test_it_retries_a_page_cut_off_in_transit_instead_of_losing_the_kind(
    sim, acme, alice, django_capture_on_commit_callbacks
):
    faults = Faults(malformed_json_paths=[DEVICES], malformed_json_count=2)
    sim.add_tenant(sim_tenant(FLAKY, "flaky-secret", device_count=120, seed=23, faults=faults))
    conn = make_sim_connection(acme, alice, FLAKY, "flaky-secret")

    sync = run_once(conn, alice, SYNC, django_capture_on_commit_callbacks)

    assert (sync.status, sync.reason_code) == ("succeeded", ""), sync.summary_counts
    assert sim.remaining_malformed(FLAKY) == 0
    assert sync.context["graph"]["by_contract"]["devices.list"]["attempts"] == 3
    assert conn.inventory_items.filter(kind="managed_device").count() == 120


def test_it_ends_only_the_kind_whose_page_stays_malformed(
    sim, acme, alice, settings, django_capture_on_commit_callbacks
):
    settings.GRAPH_MAX_ATTEMPTS = 2
    faults = Faults(malformed_json_paths=[APPS])
    sim.add_tenant(sim_tenant(FLAKY, "flaky-secret", device_count=120, seed=23, faults=faults))
    conn = make_sim_connection(acme, alice, FLAKY, "flaky-secret")

    sync = run_once(conn, alice, SYNC, django_capture_on_commit_callbacks)

    assert (sync.status, sync.reason_code) == ("partially_succeeded", "graph.invalid_response")
    assert sync.summary_counts["mobile_app"]["error"] == "graph.invalid_response"
    assert sync.context["graph"]["by_contract"]["mobile_apps.list"]["attempts"] == 2
    assert not conn.inventory_items.filter(kind="mobile_app").exists()
    assert conn.inventory_items.filter(kind="managed_device").count() == 120


def test_it_marks_vanished_items_removed_and_counts_changes(
    sim, acme, alice, django_capture_on_commit_callbacks
):
    tenant = sim.add_tenant(sim_tenant(FLAKY, "flaky-secret", device_count=400, seed=22))
    conn = make_sim_connection(acme, alice, FLAKY, "flaky-secret")
    first = run_once(conn, alice, SYNC, django_capture_on_commit_callbacks)
    assert first.summary_counts["managed_device"] == {
        "seen": 400,
        "created": 400,
        "updated": 0,
        "removed": 0,
    }

    unchanged = run_once(conn, alice, SYNC, django_capture_on_commit_callbacks)
    for kind, counts in unchanged.summary_counts.items():
        assert (counts["created"], counts["updated"], counts["removed"]) == (0, 0, 0), kind

    mutated = dataclasses.replace(tenant, generation=2)
    sim.add_tenant(mutated)
    second = run_once(conn, alice, SYNC, django_capture_on_commit_callbacks)
    assert second.status == "succeeded"
    remaining = effective_device_count(mutated)
    assert remaining == 392
    renamed = sum(is_renamed_device(i, 2) for i in range(remaining))
    assert second.summary_counts["managed_device"] == {
        "seen": remaining,
        "created": 0,
        "updated": renamed,
        "removed": 400 - remaining,
        "changes": renamed + 400 - remaining,  # each rename and each removal, once
    }
    for kind, count in (
        ("compliance_policy", tenant.compliance_policy_count),
        ("device_configuration", tenant.configuration_count),
        ("configuration_policy", tenant.configuration_policy_count),
        ("mobile_app", tenant.app_count),
    ):
        changed = sum(is_renamed_item(i, 2) for i in range(count))
        assert second.summary_counts[kind] == {
            "seen": count,
            "created": 0,
            "updated": changed,
            "removed": 0,
            **({"changes": changed} if changed else {}),
        }, kind
    gone = conn.inventory_items.filter(kind="managed_device", removed_at__isnull=False)
    assert gone.count() == 8
    assert set(gone.values_list("last_seen_run", flat=True)) == {unchanged.pk}

    # The devices come back: restored (removed_at cleared) and counted as updated.
    sim.add_tenant(tenant)
    third = run_once(conn, alice, SYNC, django_capture_on_commit_callbacks)
    assert third.summary_counts["managed_device"] == {
        "seen": 400,
        "created": 0,
        "updated": 8 + renamed,
        "removed": 0,
        "changes": 8 + renamed,  # the renames undone, and the 8 back as created
    }
    assert not conn.inventory_items.filter(removed_at__isnull=False).exists()
