"""Every v1.0 payload uses real properties, EDM types and enum values of Microsoft's schema.

The schema extract is committed with the simulator (``tenantatlas/simulator/schema/``, source
and licence in its README); a missing file fails the test rather than skipping it, so CI cannot
silently lose this check.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Any

import pytest

from tenantatlas.simulator.scenarios import Mutation
from tenantatlas.simulator.schema import SCHEMA_PATH
from tenantatlas.simulator.tests.helpers import graph_get, new_tenant, token_for

V1_PATHS = [
    "/v1.0/organization",
    "/v1.0/deviceManagement/managedDevices",
    "/v1.0/deviceManagement/deviceCompliancePolicies",
    "/v1.0/deviceManagement/deviceConfigurations",
    "/v1.0/deviceAppManagement/mobileApps",
    "/v1.0/deviceManagement/deviceCompliancePolicyDeviceStateSummary",
    "/v1.0/deviceManagement/managedDeviceOverview",
    "/v1.0/deviceManagement/auditEvents",
]
ADMIN = "megan.bowen@fourthcoffee.com"
# One audited mutation of every kind and collection, so auditEvents has something to check.
AUDITED = [
    Mutation(1, "set", "deviceCompliancePolicies", 0, path="passwordMinimumLength", value=14,
             audit=True, actor=ADMIN),
    Mutation(1, "rename", "deviceConfigurations", 0, name="Windows - Restrictions", audit=True,
             actor=ADMIN),
    Mutation(1, "add", "configurationPolicies", name="Edge - Baseline", audit=True, actor=ADMIN),
    Mutation(1, "remove", "mobileApps", 3, audit=True, actor=ADMIN),
    Mutation(1, "set", "managedDevices", 4, path="userPrincipalName",
             value="adele.vance@fourthcoffee.com", audit=True, actor=ADMIN),
    Mutation(1, "set", "managedDevices", 5, path="managedDeviceOwnerType", value="personal",
             audit=True, actor=ADMIN),
]  # fmt: skip


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    path = SCHEMA_PATH
    assert path.is_file(), f"Graph schema extract missing: {path}"
    return json.loads(path.read_text())


def _unwrap(type_ref: str) -> tuple[bool, str]:
    if type_ref.startswith("Collection(") and type_ref.endswith(")"):
        return True, type_ref[len("Collection(") : -1]
    return False, type_ref


def _resource_type(schema: dict[str, Any], path: str) -> str:
    """The entity type a v1.0 path returns, resolved through the schema itself."""
    segments = path.removeprefix("/v1.0/").split("/")
    if len(segments) == 1:
        return schema["entity_sets"][segments[0]].removeprefix("microsoft.graph.")
    root = schema["singletons"][segments[0]].removeprefix("microsoft.graph.")
    navigation = schema["types"][root]["navigation"]
    assert segments[1] in navigation, f"{path}: not a navigation property of {root}"
    return _unwrap(navigation[segments[1]])[1].removeprefix("graph.")


def _check_value(schema: dict[str, Any], type_ref: str, value: Any, where: str) -> None:
    collection, inner = _unwrap(type_ref)
    if collection:
        assert isinstance(value, list), f"{where}: expected a collection"
        for i, element in enumerate(value):
            _check_value(schema, inner, element, f"{where}[{i}]")
        return
    if inner == "Edm.String":
        assert isinstance(value, str), f"{where}: expected a string"
    elif inner == "Edm.Boolean":
        assert isinstance(value, bool), f"{where}: expected a boolean"
    elif inner in ("Edm.Int32", "Edm.Int64"):
        assert isinstance(value, int), f"{where}: expected an integer"
        assert not isinstance(value, bool), f"{where}: expected an integer"
        if inner == "Edm.Int32":
            assert -(2**31) <= value < 2**31, f"{where}: out of Int32 range"
    elif inner == "Edm.Guid":
        uuid.UUID(value)
    elif inner == "Edm.DateTimeOffset":
        assert isinstance(value, str), f"{where}: expected a date-time string"
        assert value.endswith("Z"), f"{where}: expected UTC"
        assert dt.datetime.fromisoformat(value).tzinfo is not None
    elif inner.startswith("graph.") and inner[6:] in schema["enums"]:
        assert value in schema["enums"][inner[6:]], f"{where}: {value!r} not in {inner}"
    elif inner.startswith("graph.") and inner[6:] in schema["types"]:
        assert isinstance(value, dict), f"{where}: expected a {inner} object"
        _check_entity(schema, inner[6:], value, where)
    else:
        pytest.fail(f"{where}: type {inner} is not in the schema extract; do not emit it")


def _check_entity(schema: dict[str, Any], type_name: str, item: dict[str, Any], where: str) -> None:
    spec = schema["types"][type_name]
    odata_type = item.get("@odata.type")
    if spec["abstract"]:
        assert odata_type, f"{where}: abstract {type_name} needs a concrete @odata.type"
    if odata_type:
        concrete = odata_type.removeprefix("#microsoft.graph.")
        assert concrete == type_name or concrete in spec["derived_types"], where
        assert not (spec["abstract"] and concrete == type_name), where
        # A derived type in the extract brings its own properties (inherited ones included).
        spec = schema["types"].get(concrete, spec)
    for key, value in item.items():
        if key.startswith("@odata."):
            continue
        assert key in spec["properties"], f"{where}: {key} is not a property of {type_name}"
        prop = spec["properties"][key]
        if value is None:
            assert prop["nullable"], f"{where}.{key}: null in a non-nullable property"
        else:
            _check_value(schema, prop["type"], value, f"{where}.{key}")


def _all_items(simulator, token: str, path: str) -> list[dict[str, Any]]:
    body = graph_get(simulator, token, path).json()
    if "value" not in body:
        return [body]
    items = list(body["value"])
    while "@odata.nextLink" in body:
        body = graph_get(simulator, token, body["@odata.nextLink"]).json()
        items += body["value"]
    return items


@pytest.mark.parametrize("path", V1_PATHS)
def test_it_emits_only_schema_properties_types_and_enums(simulator, schema, path):
    tenant = simulator.add_tenant(
        new_tenant(
            device_count=2000,
            compliance_policy_count=16,
            configuration_count=20,
            app_count=24,
            default_domain="fourthcoffee.com",
            generation=1,
            mutations=AUDITED,
        )
    )
    token = token_for(simulator, tenant)
    type_name = _resource_type(schema, path)
    items = _all_items(simulator, token, path)
    assert items
    for i, item in enumerate(items):
        _check_entity(schema, type_name, item, f"{path}[{i}]")


def test_it_uses_every_compliance_state_of_the_schema(simulator, schema):
    tenant = simulator.add_tenant(new_tenant(device_count=3000))
    token = token_for(simulator, tenant)
    devices = _all_items(
        simulator, token, "/v1.0/deviceManagement/managedDevices?$select=complianceState"
    )
    assert {d["complianceState"] for d in devices} == set(schema["enums"]["complianceState"])


def test_it_fails_loudly_on_a_made_up_property(schema):
    with pytest.raises(AssertionError):
        _check_entity(schema, "managedDevice", {"id": "x", "deviceType": "windowsRT"}, "probe")
    with pytest.raises(AssertionError):
        _check_entity(schema, "managedDevice", {"complianceState": "nonCompliant"}, "probe")
    windows = {"@odata.type": "#microsoft.graph.windows10CompliancePolicy"}
    with pytest.raises(AssertionError):
        _check_entity(schema, "deviceCompliancePolicy", {**windows, "passcodeRequired": True}, "p")


def test_it_emits_derived_type_settings_and_every_audit_event_property(simulator, schema):
    tenant = simulator.add_tenant(new_tenant(generation=1, mutations=AUDITED))
    token = token_for(simulator, tenant)
    policies = _all_items(simulator, token, "/v1.0/deviceManagement/deviceCompliancePolicies")
    windows = [p for p in policies if p["@odata.type"].endswith("windows10CompliancePolicy")]
    assert windows
    assert "passwordMinimumLength" in windows[0]
    events = _all_items(simulator, token, "/v1.0/deviceManagement/auditEvents")
    assert len(events) == len(AUDITED)
    first = events[0]
    for name, emitted in (
        ("auditEvent", first),
        ("auditActor", first["actor"]),
        ("auditResource", first["resources"][0]),
        ("auditProperty", first["resources"][0]["modifiedProperties"][0]),
    ):
        assert set(emitted) == set(schema["types"][name]["properties"]), name
