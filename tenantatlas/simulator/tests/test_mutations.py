"""Declared mutations by epoch: each kind changes exactly what it declares between two generations,
churn-only generations move only volatile fields and array order, and bad declarations fail."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from tenantatlas.simulator.data import TenantData
from tenantatlas.simulator.item_settings import SET_LIKE_ARRAYS
from tenantatlas.simulator.mutations import VOLATILE_DEVICE_FIELDS, graph_time
from tenantatlas.simulator.scenarios import (
    DEMO_SCENARIOS,
    Mutation,
    ScenarioError,
    TenantScenario,
    load_scenarios,
)
from tenantatlas.simulator.tests.helpers import CONTOSO, new_tenant

ANCHOR = dt.datetime(2026, 11, 1, 12, 0, tzinfo=dt.UTC)
TIMELINE = [ANCHOR + dt.timedelta(hours=h) for h in range(12)]
COLLECTIONS = {
    "deviceCompliancePolicies": TenantData.compliance_policies,
    "deviceConfigurations": TenantData.device_configurations,
    "configurationPolicies": TenantData.configuration_policies,
    "mobileApps": TenantData.mobile_apps,
}
ADMIN = "megan.bowen@contoso.com"


def state(scenario: TenantScenario, generation: int) -> dict[str, dict[str, dict[str, Any]]]:
    data = TenantData(dataclasses.replace(scenario, generation=generation), ANCHOR, TIMELINE)
    items = {name: {i["id"]: i for i in build(data)} for name, build in COLLECTIONS.items()}
    items["managedDevices"] = {d["id"]: d for d in data.devices(0, data.device_total)}
    return items


def differences(before: dict[str, Any], after: dict[str, Any]) -> set[tuple[str, str, str]]:
    """(collection, item id, property) for every property that differs; '+'/'-' for items."""
    found = set()
    for collection, old_items in before.items():
        new_items = after[collection]
        found |= {(collection, i, "-") for i in old_items.keys() - new_items.keys()}
        found |= {(collection, i, "+") for i in new_items.keys() - old_items.keys()}
        for item_id in old_items.keys() & new_items.keys():
            old, new = old_items[item_id], new_items[item_id]
            found |= {(collection, item_id, k) for k in old.keys() | new.keys()
                      if old.get(k) != new.get(k)}  # fmt: skip
    return found


def tenant(*mutations: Mutation, **fields: Any) -> TenantScenario:
    values: dict[str, Any] = {
        "tenant_id": "7d3f9b2e-1c4a-4e6b-9a8d-2f5c7e9b1a3d",
        "device_count": 40,
        "drift": "none",
        "mutations": list(mutations),
    }
    return new_tenant(**{**values, **fields})


def plain_device() -> int:
    """A compliant, company-owned, encrypted, managed device of ``tenant()``."""
    data = TenantData(tenant(), ANCHOR)
    return next(
        i for i in range(40)
        if (d := data.device(i))["complianceState"] == "compliant"
        and d["managedDeviceOwnerType"] == "company" and d["isEncrypted"]
    )  # fmt: skip


def ids(scenario: TenantScenario, collection: str, generation: int = 0) -> list[str]:
    return list(state(scenario, generation)[collection])


def test_a_setting_change_bumps_version_and_modified_time_of_a_compliance_policy():
    scenario = tenant(
        Mutation(1, "set", "deviceCompliancePolicies", 0, path="passwordMinimumLength", value=14)
    )
    before, after = state(scenario, 0), state(scenario, 1)
    policy = ids(scenario, "deviceCompliancePolicies")[0]
    assert differences(before, after) == {
        ("deviceCompliancePolicies", policy, key)
        for key in ("passwordMinimumLength", "version", "lastModifiedDateTime")
    }
    old, new = before["deviceCompliancePolicies"][policy], after["deviceCompliancePolicies"][policy]
    assert (old["passwordMinimumLength"], new["passwordMinimumLength"]) == (8, 14)
    assert new["version"] == old["version"] + 1
    assert new["lastModifiedDateTime"] == graph_time(TIMELINE[1] + dt.timedelta(microseconds=1))


def test_apps_and_settings_catalog_policies_get_a_new_modified_time_only():
    scenario = tenant(
        Mutation(2, "set", "mobileApps", 1, path="isFeatured", value=True),
        Mutation(2, "set", "configurationPolicies", 0, path="templateReference.templateFamily",
                 value="endpointSecurityFirewall"),
    )  # fmt: skip
    app, policy = ids(scenario, "mobileApps")[1], ids(scenario, "configurationPolicies")[0]
    assert differences(state(scenario, 1), state(scenario, 2)) == {
        ("mobileApps", app, "isFeatured"),
        ("mobileApps", app, "lastModifiedDateTime"),
        ("configurationPolicies", policy, "templateReference"),
        ("configurationPolicies", policy, "lastModifiedDateTime"),
    }


def test_add_remove_and_rename_change_only_their_item():
    scenario = tenant(
        Mutation(1, "add", "deviceConfigurations", name="Windows - Kiosk"),
        Mutation(1, "remove", "mobileApps", 2),
        Mutation(1, "rename", "deviceCompliancePolicies", 3, name="macOS - Strict"),
        Mutation(1, "add", "managedDevices"),
        Mutation(1, "remove", "managedDevices", 7),
    )
    before, after = state(scenario, 0), state(scenario, 1)
    [added] = after["deviceConfigurations"].keys() - before["deviceConfigurations"].keys()
    [device] = after["managedDevices"].keys() - before["managedDevices"].keys()
    app, renamed = ids(scenario, "mobileApps")[2], ids(scenario, "deviceCompliancePolicies")[3]
    gone = ids(scenario, "managedDevices")[7]
    assert differences(before, after) == {
        ("deviceConfigurations", added, "+"),
        ("managedDevices", device, "+"),
        ("mobileApps", app, "-"),
        ("managedDevices", gone, "-"),
        *{("deviceCompliancePolicies", renamed, k)
          for k in ("displayName", "version", "lastModifiedDateTime")},
    }  # fmt: skip
    new = after["deviceConfigurations"][added]
    assert new["displayName"] == "Windows - Kiosk"
    assert new["createdDateTime"] == new["lastModifiedDateTime"]
    assert after["deviceCompliancePolicies"][renamed]["displayName"] == "macOS - Strict"
    assert TenantData(dataclasses.replace(scenario, generation=1), ANCHOR).device_total == 40


def test_a_reorder_changes_the_order_of_one_array_and_nothing_else():
    scenario = tenant(Mutation(3, "reorder", "configurationPolicies", 2, path="roleScopeTagIds"))
    policy = ids(scenario, "configurationPolicies")[2]
    before, after = state(scenario, 2), state(scenario, 3)
    assert differences(before, after) == {("configurationPolicies", policy, "roleScopeTagIds")}
    old = before["configurationPolicies"][policy]["roleScopeTagIds"]
    new = after["configurationPolicies"][policy]["roleScopeTagIds"]
    assert old != new
    assert sorted(old) == sorted(new)


@pytest.mark.parametrize(
    ("path", "value", "changed"),
    [
        ("complianceState", "noncompliant", {"complianceState"}),
        ("osVersion", "10.0.26100.3000", {"osVersion"}),
        ("managedDeviceOwnerType", "personal", {"managedDeviceOwnerType"}),
        ("isEncrypted", False, {"isEncrypted"}),
        ("managementState", "retirePending", {"managementState"}),
        ("userPrincipalName", "joni.sherman@contoso.com",
         {"userPrincipalName", "emailAddress", "userDisplayName", "userId"}),
    ],
)  # fmt: skip
def test_a_device_tracked_field_changes_alone(path: str, value: Any, changed: set[str]):
    index = plain_device()
    scenario = tenant(Mutation(1, "set", "managedDevices", index, path=path, value=value))
    device = ids(scenario, "managedDevices")[index]
    before, after = state(scenario, 0), state(scenario, 1)
    assert before["managedDevices"][device][path] != value
    assert differences(before, after) == {("managedDevices", device, key) for key in changed}
    assert after["managedDevices"][device][path] == value


def test_a_compliance_change_moves_the_summary_with_the_device_list():
    scenario = tenant(Mutation(1, "set", "managedDevices", plain_device(),
                               path="complianceState", value="noncompliant"))  # fmt: skip
    old = TenantData(scenario, ANCHOR).compliance_summary()
    new = TenantData(dataclasses.replace(scenario, generation=1), ANCHOR).compliance_summary()
    assert new["nonCompliantDeviceCount"] == old["nonCompliantDeviceCount"] + 1
    assert new["compliantDeviceCount"] == old["compliantDeviceCount"] - 1
    devices = state(scenario, 1)["managedDevices"].values()
    noncompliant = sum(d["complianceState"] == "noncompliant" for d in devices)
    assert noncompliant == new["nonCompliantDeviceCount"]


def test_churn_of_one_device_moves_only_its_volatile_fields():
    scenario = tenant(Mutation(1, "churn", "managedDevices", 5))
    device = ids(scenario, "managedDevices")[5]
    changed = differences(state(scenario, 0), state(scenario, 1))
    assert changed
    assert changed <= {("managedDevices", device, f) for f in VOLATILE_DEVICE_FIELDS}


def test_ten_churn_only_generations_change_only_volatile_fields_and_array_order():
    scenario = new_tenant(device_count=200, drift="churn")
    previous = state(scenario, 0)
    for generation in range(1, 11):
        current = state(scenario, generation)
        changed = differences(previous, current)
        assert {key for _, _, key in changed} <= {*VOLATILE_DEVICE_FIELDS, *SET_LIKE_ARRAYS}
        assert any(key in SET_LIKE_ARRAYS for _, _, key in changed)
        assert any(key == "lastSyncDateTime" for _, _, key in changed)
        for collection, item_id, key in changed:
            if key in SET_LIKE_ARRAYS:
                old, new = previous[collection][item_id][key], current[collection][item_id][key]
                assert sorted(old) == sorted(new)
        previous = current


def test_churn_keeps_recent_devices_recent_and_stale_ones_stale():
    scenario = new_tenant(device_count=400, drift="churn")
    cutoff = ANCHOR - dt.timedelta(days=7)

    def stale(generation: int) -> set[str]:
        devices = state(scenario, generation)["managedDevices"].values()
        return {
            d["id"] for d in devices if dt.datetime.fromisoformat(d["lastSyncDateTime"]) < cutoff
        }

    assert stale(0) == stale(7)
    assert stale(0)


@pytest.mark.parametrize(
    ("mutation", "fragment"),
    [
        (Mutation(1, "set", "deviceCompliancePolicies", 0, path="noSuchSetting", value=1), "no"),
        (Mutation(1, "set", "deviceCompliancePolicies", 0, path="version", value=9), "maintains"),
        (Mutation(1, "rename", "mobileApps", 99, name="x"), "no item"),
        (Mutation(1, "reorder", "mobileApps", 0, path="displayName"), "not an array"),
        (Mutation(1, "churn", "managedDevices", audit=True, actor=ADMIN), "no admin action"),
        (Mutation(1, "set", "managedDevices", 0, path="complianceState", value="error",
                  audit=True, actor=ADMIN), "without an admin action"),
        (Mutation(1, "set", "managedDevices", 0, path="complianceState", value="bad"), "value"),
        (Mutation(1, "set", "managedDevices", 0, path="deviceName", value="x"), "one of"),
        (Mutation(1, "rename", "mobileApps", 0, name="x", audit=True), "actor"),
        (Mutation(1, "move", "mobileApps", 0), "unknown kind"),
    ],
)  # fmt: skip
def test_it_refuses_what_it_cannot_simulate(simulator, mutation: Mutation, fragment: str):
    with pytest.raises(ScenarioError, match=fragment):
        simulator.add_tenant(tenant(mutation))


def test_it_refuses_decreasing_epochs_and_unknown_drifts(simulator):
    with pytest.raises(ScenarioError, match="epochs"):
        simulator.add_tenant(tenant(Mutation(2, "churn"), Mutation(1, "churn")))
    with pytest.raises(ScenarioError, match="drift"):
        simulator.add_tenant(tenant(drift="sometimes"))


def test_it_reads_mutations_from_toml(tmp_path: Path):
    path = tmp_path / "tenants.toml"
    path.write_text(
        """
[[tenants]]
tenant_id = "11111111-2222-4333-8444-555555555555"
display_name = "T"
default_domain = "t.onmicrosoft.com"
drift = "churn"

  [[tenants.mutations]]
  epoch = 1
  kind = "set"
  collection = "deviceCompliancePolicies"
  index = 0
  path = "passwordMinimumLength"
  value = 14
  audit = true
  actor = "admin@t.onmicrosoft.com"
"""
    )
    [scenario] = load_scenarios(path)
    assert scenario.drift == "churn"
    assert scenario.mutations == [
        Mutation(1, "set", "deviceCompliancePolicies", 0, "passwordMinimumLength", 14,
                 audit=True, actor="admin@t.onmicrosoft.com"),
    ]  # fmt: skip


def test_the_demo_gives_contoso_a_history_over_three_generations(simulator):
    [contoso] = [t for t in load_scenarios(DEMO_SCENARIOS) if t.tenant_id == CONTOSO]
    epochs = {m.epoch for m in contoso.mutations}
    assert epochs == {1, 2, 3}
    assert any(m.audit for m in contoso.mutations)
    assert not all(m.audit for m in contoso.mutations)
    simulator.set_generation(CONTOSO, 3)
    applied = simulator.mutations(CONTOSO)
    assert len(applied) == len(contoso.mutations)
    assert len(simulator.audit_events(CONTOSO)) == sum(m.audit for m in contoso.mutations)
