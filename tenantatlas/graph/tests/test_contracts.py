"""The contract registry: declarations, validation, and agreement with Microsoft's v1.0 schema."""

from __future__ import annotations

import dataclasses
import json
import re

import pytest
from django.core import checks

from tenantatlas.graph.contracts import (
    CONTRACTS,
    Contract,
    ContractError,
    ContractParameterError,
    UnregisteredContract,
    _build,
    get_contract,
    required_permissions,
    validate_registry,
)
from tenantatlas.simulator.schema import SCHEMA_PATH as SCHEMA

EXPECTED_KEYS = {
    "organization.get",
    "devices.list",
    "compliance_policies.list",
    "device_configurations.list",
    "configuration_policies.list",
    "mobile_apps.list",
    "audit_events.list",
    "compliance_summary.get",
    "device_overview.get",
}


def _sample(**changes: object) -> Contract:
    return dataclasses.replace(CONTRACTS["devices.list"], **changes)  # type: ignore[arg-type]


def test_it_registers_the_initial_contracts() -> None:
    assert set(CONTRACTS) == EXPECTED_KEYS
    assert all(contract.method == "GET" for contract in CONTRACTS.values())
    assert CONTRACTS["configuration_policies.list"].version == "beta"


def test_it_declares_least_privileged_permissions_first() -> None:
    perms = required_permissions()
    assert perms["devices.list"][0] == "DeviceManagementManagedDevices.Read.All"
    assert perms["organization.get"][0] == "Organization.Read.All"
    assert perms["mobile_apps.list"][0] == "DeviceManagementApps.Read.All"
    assert perms["audit_events.list"] == (
        "DeviceManagementApps.Read.All",
        "DeviceManagementApps.ReadWrite.All",
    )
    for key in ("compliance_policies.list", "device_configurations.list", "compliance_summary.get"):
        assert perms[key][0] == "DeviceManagementConfiguration.Read.All"
    assert "DeviceManagementServiceConfig.Read.All" in perms["device_overview.get"]
    assert required_permissions(["devices.list"]) == {"devices.list": perms["devices.list"]}


def test_the_audit_events_contract_adds_no_permission_to_ask_for() -> None:
    without = {key: p for key, p in required_permissions().items() if key != "audit_events.list"}
    assert {p[0] for p in without.values()} == {p[0] for p in required_permissions().values()}
    assert set().union(*without.values()) == set().union(*required_permissions().values())
    contract = CONTRACTS["audit_events.list"]
    query = contract.build_query(
        {
            "$filter": "activityDateTime gt 2026-01-01T00:00:00Z and category eq 'Compliance'",
            "$orderby": "activityDateTime desc",
        },
        page_size=100,
    )
    assert query["$top"] == "100"
    assert query["$select"].startswith("id,displayName,componentName")


def test_unknown_contract_is_refused() -> None:
    with pytest.raises(UnregisteredContract):
        get_contract("users.delete")
    with pytest.raises(UnregisteredContract):
        required_permissions(["users.list"])


@pytest.mark.parametrize(
    ("changes", "fragment"),
    [
        ({"method": "POST"}, "only GET"),
        ({"version": "v2"}, "version"),
        ({"path": "deviceManagement/x"}, "path must start"),
        ({"path": "/a/{id:uuid}"}, "unknown parameter type"),
        ({"path": "/a/b c"}, "malformed path segment"),
        ({"allowed_query": frozenset({"$select", "$top", "$apply"})}, "unknown query"),
        ({"permissions": ()}, "permissions"),
        ({"key": "Bad Key"}, "key must"),
        ({"description": ""}, "description"),
    ],
)
def test_malformed_declarations_are_rejected(changes: dict, fragment: str) -> None:
    bad = _sample(**changes)
    with pytest.raises(ContractError, match=fragment):
        _build([bad])
    assert any(fragment in problem for problem in validate_registry([bad]))


def test_duplicate_keys_are_rejected() -> None:
    with pytest.raises(ContractError, match="declared twice"):
        _build([_sample(), _sample()])


def test_system_check_reports_a_sound_registry() -> None:
    errors = [e for e in checks.run_checks(tags=["graph"]) if e.id == "graph.E001"]
    assert errors == []
    assert validate_registry() == []


def test_typed_path_parameters_are_validated_and_quoted() -> None:
    contract = _sample(path="/deviceManagement/deviceCompliancePolicies/{id:guid}/deviceStatuses")
    guid = "6F1C6B3E-0B6A-4C55-9E1E-2A7E0B7C2F11"
    assert contract.render_path({"id": guid}) == (
        f"/deviceManagement/deviceCompliancePolicies/{guid.lower()}/deviceStatuses"
    )
    with pytest.raises(ContractParameterError):
        contract.render_path({"id": "../../users"})
    with pytest.raises(ContractParameterError):
        contract.render_path({})
    with pytest.raises(ContractParameterError):
        CONTRACTS["devices.list"].render_path({"extra": 1})


def test_query_options_are_checked_and_default_select_applied() -> None:
    contract = CONTRACTS["devices.list"]
    query = contract.build_query({"$filter": "complianceState eq 'noncompliant'"}, page_size=999)
    assert query["$top"] == "999"
    assert query["$select"].startswith("id,deviceName")
    assert contract.build_query({"$select": "id"})["$select"] == "id"
    with pytest.raises(ContractParameterError, match=r"\$expand"):
        contract.build_query({"$expand": "users"})


def _navigate(schema: dict, path: str) -> str:
    """The entity type a v1.0 path addresses, following entity sets, singletons, navigation."""
    segments = path.strip("/").split("/")
    head = segments[0]
    type_name = schema["entity_sets"].get(head) or schema["singletons"].get(head)
    assert type_name, f"{head!r} is neither an entity set nor a singleton in v1.0"
    current = type_name.rsplit(".", 1)[-1]
    for segment in segments[1:]:
        if re.fullmatch(r"\{\w+:\w+\}", segment):
            continue  # a key into the collection: same entity type
        navigation = schema["types"][current]["navigation"]
        assert segment in navigation, f"{segment!r} is not a navigation property of {current}"
        current = re.sub(r"^Collection\((.*)\)$", r"\1", navigation[segment]).rsplit(".", 1)[-1]
    return current


def test_v1_paths_and_selects_exist_in_the_published_schema() -> None:
    assert SCHEMA.exists(), f"v1.0 schema subset missing at {SCHEMA}"
    schema = json.loads(SCHEMA.read_text())
    v1 = [c for c in CONTRACTS.values() if c.version == "v1.0"]
    assert len(v1) == 8
    for contract in v1:
        entity = _navigate(schema, contract.path)
        properties = schema["types"][entity]["properties"]
        for field in contract.select:
            assert field in properties, f"{contract.key}: {field} is not a v1.0 {entity} property"
