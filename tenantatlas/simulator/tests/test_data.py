"""Deterministic generated content and the generation mutation knob."""

from __future__ import annotations

import dataclasses
import datetime as dt

from tenantatlas.simulator.data import (
    STALE_AFTER_DAYS,
    TenantData,
    effective_device_count,
    removed_per_generation,
)
from tenantatlas.simulator.tests.helpers import graph_get, new_tenant, token_for

ANCHOR = dt.datetime(2026, 11, 1, 12, 0, tzinfo=dt.UTC)


def test_it_generates_the_same_device_on_every_call():
    data = TenantData(new_tenant(tenant_id="11111111-2222-4333-8444-555555555555"), ANCHOR)
    assert data.device(17) == data.device(17)
    assert data.device(17) == next(data.devices(17, 1))
    assert data.device(17)["id"] != data.device(18)["id"]


def test_it_depends_on_tenant_and_seed():
    tenant = new_tenant(tenant_id="11111111-2222-4333-8444-555555555555")
    other_seed = dataclasses.replace(tenant, seed=99)
    assert (
        TenantData(tenant, ANCHOR).device(0)["id"] != TenantData(other_seed, ANCHOR).device(0)["id"]
    )


def test_it_serves_identical_pages_on_repeated_requests(simulator):
    tenant = simulator.add_tenant(new_tenant(device_count=300))
    token = token_for(simulator, tenant)
    first = graph_get(simulator, token, "/v1.0/deviceManagement/managedDevices").json()["value"]
    second = graph_get(simulator, token, "/v1.0/deviceManagement/managedDevices").json()["value"]
    assert first == second


def test_it_includes_stale_devices_and_every_common_state():
    data = TenantData(new_tenant(device_count=4000), ANCHOR)
    devices = list(data.devices(0, 4000))
    cutoff = ANCHOR - dt.timedelta(days=STALE_AFTER_DAYS)
    stale = [d for d in devices if dt.datetime.fromisoformat(d["lastSyncDateTime"]) < cutoff]
    assert 0.04 < len(stale) / len(devices) < 0.15
    assert len(stale) == data.counts()["stale"]
    states = {d["complianceState"] for d in devices}
    assert states == {
        "compliant",
        "noncompliant",
        "inGracePeriod",
        "unknown",
        "conflict",
        "error",
        "configManager",
    }
    assert {d["operatingSystem"] for d in devices} == {"Windows", "iOS", "Android", "macOS"}


def test_it_builds_slim_devices_that_match_full_ones():
    data = TenantData(new_tenant(), ANCHOR)
    select = ["complianceState", "lastSyncDateTime"]
    slim = next(data.devices(5, 1, select))
    full = data.device(5)
    assert {key: full[key] for key in slim} == slim


def test_it_removes_and_renames_devices_per_generation():
    tenant = new_tenant(device_count=1000)
    before = TenantData(tenant, ANCHOR)
    after = TenantData(dataclasses.replace(tenant, generation=1), ANCHOR)
    assert removed_per_generation(1000) == 10
    assert effective_device_count(dataclasses.replace(tenant, generation=1)) == 990
    old = {d["id"]: d for d in before.devices(0, 1000)}
    new = {d["id"]: d for d in after.devices(0, 1000)}
    assert len(set(old) - set(new)) == 10
    assert not set(new) - set(old)
    renamed = [i for i in new if new[i]["deviceName"] != old[i]["deviceName"]]
    assert len(renamed) == 50  # every 20th of the 990 remaining devices
    assert all(new[i]["deviceName"].endswith("-v1") for i in renamed)


def test_it_renames_some_policies_and_apps_per_generation():
    tenant = new_tenant(app_count=12, compliance_policy_count=8)
    before = TenantData(tenant, ANCHOR)
    after = TenantData(dataclasses.replace(tenant, generation=2), ANCHOR)
    old_apps = {a["id"]: a["displayName"] for a in before.mobile_apps()}
    new_apps = {a["id"]: a["displayName"] for a in after.mobile_apps()}
    assert old_apps.keys() == new_apps.keys()
    assert sum(old_apps[i] != new_apps[i] for i in old_apps) == 3
    old_policies = {p["id"]: p for p in before.compliance_policies()}
    changed = [p for p in after.compliance_policies() if p != old_policies[p["id"]]]
    assert len(changed) == 2
    assert all(p["displayName"].endswith("(v2)") for p in changed)


def test_it_keeps_summaries_in_line_with_the_generation():
    tenant = dataclasses.replace(new_tenant(device_count=500), generation=3)
    data = TenantData(tenant, ANCHOR)
    summary = data.compliance_summary()
    counted = sum(v for k, v in summary.items() if k.endswith("Count"))
    assert counted == 485 == data.device_overview()["enrolledDeviceCount"]
