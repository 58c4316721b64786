"""GET /v1.0/deviceManagement/auditEvents: Microsoft's shape, filters, paging, permission,
licence and faults; one event exactly per audited mutation, timed between two reads."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from tenantatlas.simulator.scenarios import Faults, Mutation, ThrottleFault
from tenantatlas.simulator.tests.helpers import graph_get, new_tenant, token_for

PATH = "/v1.0/deviceManagement/auditEvents"
MEGAN, ADELE = "megan.bowen@contoso.com", "adele.vance@contoso.com"
MUTATIONS = [
    Mutation(1, "set", "deviceCompliancePolicies", 0, path="passwordMinimumLength", value=14,
             audit=True, actor=MEGAN),
    Mutation(1, "set", "managedDevices", 2, path="osVersion", value="18.2"),  # no event
    Mutation(1, "add", "deviceConfigurations", name="Windows - Kiosk", audit=True, actor=ADELE),
    Mutation(2, "remove", "mobileApps", 4, audit=True, actor=MEGAN),
    Mutation(2, "reorder", "configurationPolicies", 2, path="roleScopeTagIds"),  # no event
    Mutation(2, "rename", "deviceCompliancePolicies", 0, name="Windows - Strict", audit=True,
             actor=ADELE),
]  # fmt: skip


def _tenant(simulator, **fields: Any):
    values: dict[str, Any] = {"drift": "none", "mutations": MUTATIONS, **fields}
    scenario = simulator.add_tenant(new_tenant(**values))
    return scenario, token_for(simulator, scenario)


def _events(simulator, token: str, **params: str) -> list[dict[str, Any]]:
    response = graph_get(simulator, token, PATH, **params)
    assert response.status_code == 200, response.text
    return list(response.json()["value"])


def test_it_serves_one_event_per_audited_mutation_in_microsofts_shape(simulator):
    tenant, token = _tenant(simulator, generation=1)
    body = graph_get(simulator, token, PATH).json()
    assert body["@odata.context"] == (
        "https://graph.microsoft.com/v1.0/$metadata#deviceManagement/auditEvents"
    )
    patch, create = body["value"]
    applied = {m.position: m for m in simulator.mutations(tenant.tenant_id)}
    assert patch["id"] == applied[0].audit_event_id
    assert applied[1].audit_event_id is None
    assert patch["activityType"] == patch["displayName"] == "Patch DeviceCompliancePolicy"
    assert (patch["activityOperationType"], patch["activityResult"]) == ("Patch", "Success")
    assert (patch["category"], patch["componentName"]) == ("Compliance", "DeviceCompliance")
    actor = patch["actor"]
    assert (actor["type"], actor["auditActorType"]) == ("ItPro", "ItPro")
    assert actor["applicationDisplayName"] == "Microsoft Intune portal extension"
    assert actor["userPrincipalName"] == MEGAN
    [resource] = patch["resources"]
    assert resource["resourceId"] == applied[0].item_id
    assert resource["type"] == resource["auditResourceType"] == "DeviceCompliancePolicy"
    assert resource["modifiedProperties"] == [
        {"displayName": "PasswordMinimumLength", "oldValue": "8", "newValue": "14"}
    ]
    assert (create["activityOperationType"], create["category"]) == (
        "Create",
        "DeviceConfiguration",
    )
    assert create["resources"][0]["displayName"] == "Windows - Kiosk"
    assert create["resources"][0]["resourceId"] == applied[2].item_id
    assert create["actor"]["userPrincipalName"] == ADELE


def test_events_follow_the_generation_and_fall_between_two_reads(simulator):
    tenant, token = _tenant(simulator, generation=1)
    first = _events(simulator, token)
    read_before = simulator.requests[-1].at
    simulator.set_generation(tenant.tenant_id, 2)
    later = _events(simulator, token)
    read_after = simulator.requests[-1].at
    assert [e["id"] for e in later[:2]] == [e["id"] for e in first]
    new = later[2:]
    assert [e["activityOperationType"] for e in new] == ["Delete", "Patch"]
    assert new[0]["resources"][0]["modifiedProperties"] == []
    assert new[1]["resources"][0]["modifiedProperties"] == [
        {"displayName": "DisplayName", "oldValue": "Windows 10/11 - Baseline compliance",
         "newValue": "Windows - Strict"}
    ]  # fmt: skip
    for event in new:
        moment = dt.datetime.fromisoformat(event["activityDateTime"])
        assert read_before < moment < read_after
    audited = [m for m in simulator.mutations(tenant.tenant_id) if m.audit_event_id]
    assert [m.audit_event_id for m in audited] == [e["id"] for e in later]
    assert [m.position for m in simulator.mutations(tenant.tenant_id)] == list(range(6))


def test_it_filters_by_time_category_and_resource_and_orders(simulator):
    tenant, token = _tenant(simulator, generation=2)
    events = _events(simulator, token)
    times = [e["activityDateTime"] for e in events]
    assert times == sorted(times)
    assert len(_events(simulator, token, **{"$filter": f"activityDateTime gt {times[1]}"})) == 2
    assert len(_events(simulator, token, **{"$filter": f"activityDateTime ge {times[1]}"})) == 3
    assert len(_events(simulator, token, **{"$filter": f"activityDateTime lt {times[1]}"})) == 1
    assert len(_events(simulator, token, **{"$filter": f"activityDateTime le {times[1]}"})) == 2
    compliance = _events(
        simulator, token,
        **{"$filter": "activityDateTime gt 2026-01-01T00:00:00Z and category eq 'Compliance'"},
    )  # fmt: skip
    assert [e["id"] for e in compliance] == [events[0]["id"], events[3]["id"]]
    policy = simulator.mutations(tenant.tenant_id)[0].item_id
    about = _events(simulator, token, **{"$filter": f"resources/any(s:s/resourceId eq '{policy}')"})
    assert [e["activityOperationType"] for e in about] == ["Patch", "Patch"]
    newest = _events(simulator, token, **{"$orderby": "activityDateTime desc"})
    assert [e["id"] for e in newest] == [e["id"] for e in reversed(events)]


def test_it_pages_with_top_and_next_link_keeping_the_query(simulator):
    _, token = _tenant(simulator, generation=2)
    params = {"$filter": "activityDateTime gt 2020-01-01T00:00:00Z", "$top": "3",
              "$orderby": "activityDateTime desc", "$select": "id,activityDateTime,category"}  # fmt: skip
    body = graph_get(simulator, token, PATH, **params).json()
    assert len(body["value"]) == 3
    assert set(body["value"][0]) == {"id", "activityDateTime", "category"}
    rest = graph_get(simulator, token, body["@odata.nextLink"]).json()
    assert len(rest["value"]) == 1
    assert "@odata.nextLink" not in rest
    assert rest["value"][0]["activityDateTime"] < body["value"][-1]["activityDateTime"]


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("$filter", "activityDateTime gt '2026-01-01T00:00:00Z'"),
        ("$filter", "componentName eq 'DeviceCompliance'"),
        ("$filter", "category eq 'Compliance' or category eq 'Application'"),
        ("$orderby", "category"),
        ("$select", "noSuchProperty"),
    ],
)
def test_an_unsupported_query_is_graphs_400(simulator, option: str, value: str):
    _, token = _tenant(simulator, generation=1)
    response = graph_get(simulator, token, PATH, **{option: value})
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "BadRequest"
    assert error["message"]
    assert "request-id" in error["innerError"]


def test_it_needs_device_management_apps_read(simulator):
    _, token = _tenant(simulator, roles=["DeviceManagementConfiguration.Read.All"])
    response = graph_get(simulator, token, PATH)
    assert response.status_code == 403
    error = response.json()["error"]
    assert error["code"] == "Forbidden"
    assert "DeviceManagementApps.Read.All" in error["message"]


def test_an_unlicensed_tenant_gets_the_intune_licence_error(simulator):
    _, token = _tenant(simulator, intune_licensed=False)
    response = graph_get(simulator, token, PATH)
    assert response.status_code == 400
    assert response.json()["error"]["innerError"]["code"] == "AppLifecycle_2210"


def test_throttling_applies_to_audit_events(simulator):
    faults = Faults(throttle=ThrottleFault(count=1, retry_after="2", paths=[PATH]))
    _, token = _tenant(simulator, faults=faults, generation=1)
    throttled = graph_get(simulator, token, PATH)
    assert throttled.status_code == 429
    assert throttled.headers["Retry-After"] == "2"
    assert graph_get(simulator, token, PATH).status_code == 200
