"""Graph endpoints: shapes, paging, $select, 401/403 and licensing."""

from __future__ import annotations

import json
import re
import time
import urllib.parse
import uuid

import jwt
import pytest
import requests
from cryptography.hazmat.primitives import serialization

from tenantatlas.simulator.certs import make_test_certificate
from tenantatlas.simulator.tests.helpers import (
    ALPINE,
    LITWARE,
    NORTHWIND,
    WOODGROVE,
    demo_token,
    graph_get,
    new_tenant,
    token_for,
)

CONTEXT = "https://graph.microsoft.com/v1.0/$metadata#"
COLLECTIONS = [
    ("/v1.0/organization", CONTEXT + "organization"),
    ("/v1.0/deviceManagement/managedDevices", CONTEXT + "deviceManagement/managedDevices"),
    (
        "/v1.0/deviceManagement/deviceCompliancePolicies",
        CONTEXT + "deviceManagement/deviceCompliancePolicies",
    ),
    (
        "/v1.0/deviceManagement/deviceConfigurations",
        CONTEXT + "deviceManagement/deviceConfigurations",
    ),
    (
        "/beta/deviceManagement/configurationPolicies",
        "https://graph.microsoft.com/beta/$metadata#deviceManagement/configurationPolicies",
    ),
    ("/v1.0/deviceAppManagement/mobileApps", CONTEXT + "deviceAppManagement/mobileApps"),
]
SINGLETONS = [
    "/v1.0/deviceManagement/deviceCompliancePolicyDeviceStateSummary",
    "/v1.0/deviceManagement/managedDeviceOverview",
]
INTUNE_PATHS = [path for path, _ in COLLECTIONS[1:]] + SINGLETONS


@pytest.fixture
def tenant(simulator):
    return simulator.add_tenant(new_tenant(device_count=2500))


@pytest.fixture
def token(simulator, tenant):
    return token_for(simulator, tenant)


@pytest.mark.parametrize(("path", "context"), COLLECTIONS)
def test_it_serves_collections_with_their_odata_context(simulator, token, path, context):
    response = graph_get(simulator, token, path)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["@odata.context"] == context
    assert isinstance(body["value"], list)
    assert body["value"]
    assert all("id" in item for item in body["value"])
    assert response.headers["request-id"]


@pytest.mark.parametrize("path", SINGLETONS)
def test_it_serves_singletons_as_bare_entities(simulator, token, path):
    body = graph_get(simulator, token, path).json()
    assert body["@odata.context"] == f"{CONTEXT}{path.removeprefix('/v1.0/')}/$entity"
    assert "value" not in body
    assert body["id"]


def test_it_gives_abstract_types_a_concrete_odata_type(simulator, token):
    for path in ("deviceManagement/deviceCompliancePolicies", "deviceAppManagement/mobileApps"):
        items = graph_get(simulator, token, f"/v1.0/{path}").json()["value"]
        assert all(item["@odata.type"].startswith("#microsoft.graph.") for item in items)
        assert len({item["@odata.type"] for item in items}) > 1


def test_it_pages_devices_with_a_full_next_link(simulator, tenant, token):
    first = graph_get(simulator, token, "/v1.0/deviceManagement/managedDevices").json()
    assert len(first["value"]) == 1000
    next_link = first["@odata.nextLink"]
    assert next_link.startswith(f"{simulator.base_url}/v1.0/deviceManagement/managedDevices?")
    assert "$skiptoken=" in next_link
    ids = [d["id"] for d in first["value"]]
    while next_link:
        page = graph_get(simulator, token, next_link).json()
        ids += [d["id"] for d in page["value"]]
        next_link = page.get("@odata.nextLink")
    assert len(ids) == len(set(ids)) == 2500


def test_it_respects_a_smaller_top_and_keeps_it_in_the_next_link(simulator, token):
    body = graph_get(
        simulator, token, "/v1.0/deviceManagement/managedDevices", **{"$top": "7"}
    ).json()
    assert len(body["value"]) == 7
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(body["@odata.nextLink"]).query)
    assert query["$top"] == ["7"]
    second = graph_get(simulator, token, body["@odata.nextLink"]).json()
    assert len(second["value"]) == 7
    assert second["value"][0]["id"] not in {d["id"] for d in body["value"]}


def test_it_clamps_an_oversized_top_to_the_page_maximum(simulator, token):
    body = graph_get(
        simulator, token, "/v1.0/deviceManagement/managedDevices", **{"$top": "5000"}
    ).json()
    assert len(body["value"]) == 1000


@pytest.mark.parametrize("top", ["0", "-1", "abc"])
def test_it_rejects_an_invalid_top(simulator, token, top):
    response = graph_get(simulator, token, "/v1.0/deviceManagement/managedDevices", **{"$top": top})
    assert (response.status_code, response.json()["error"]["code"]) == (400, "BadRequest")


def test_it_rejects_a_tampered_skiptoken(simulator, token):
    response = graph_get(
        simulator, token, "/v1.0/deviceManagement/managedDevices", **{"$skiptoken": "%%%"}
    )
    assert response.status_code == 400


def test_it_trims_properties_with_select(simulator, token):
    options = {"$select": "deviceName,complianceState", "$top": "3"}
    body = graph_get(simulator, token, "/v1.0/deviceManagement/managedDevices", **options).json()
    assert body["@odata.context"].endswith("managedDevices(deviceName,complianceState)")
    for item in body["value"]:
        assert set(item) == {"@odata.type", "id", "deviceName", "complianceState"}
    assert "%24select=deviceName%2CcomplianceState" in body["@odata.nextLink"] or (
        "$select=deviceName,complianceState" in body["@odata.nextLink"]
    )


def test_it_rejects_select_of_an_unknown_property(simulator, token):
    response = graph_get(
        simulator, token, "/v1.0/deviceManagement/managedDevices", **{"$select": "deviceType"}
    )
    assert response.status_code == 400
    assert "deviceType" in response.json()["error"]["message"]


def test_it_counts_when_asked_on_the_first_page_only(simulator, token):
    first = graph_get(
        simulator, token, "/v1.0/deviceManagement/managedDevices", **{"$count": "true"}
    ).json()
    assert first["@odata.count"] == 2500
    assert "@odata.count" not in graph_get(simulator, token, first["@odata.nextLink"]).json()


def test_it_refuses_filter_rather_than_ignoring_it(simulator, token):
    response = graph_get(
        simulator,
        token,
        "/v1.0/deviceManagement/managedDevices",
        **{"$filter": "complianceState eq 'noncompliant'"},
    )
    assert response.status_code == 400


def test_it_summaries_agree_with_the_device_population(simulator, token):
    states: dict[str, int] = {}
    systems: dict[str, int] = {}
    select = "$select=complianceState,operatingSystem"
    next_link = f"{simulator.base_url}/v1.0/deviceManagement/managedDevices?{select}"
    while next_link:
        page = graph_get(simulator, token, next_link).json()
        for device in page["value"]:
            states[device["complianceState"]] = states.get(device["complianceState"], 0) + 1
            systems[device["operatingSystem"]] = systems.get(device["operatingSystem"], 0) + 1
        next_link = page.get("@odata.nextLink")
    summary = graph_get(simulator, token, SINGLETONS[0]).json()
    assert summary["compliantDeviceCount"] == states["compliant"]
    assert summary["nonCompliantDeviceCount"] == states["noncompliant"]
    assert summary["inGracePeriodCount"] == states["inGracePeriod"]
    assert summary["configManagerCount"] == states["configManager"]
    assert summary["conflictDeviceCount"] == states.get("conflict", 0)
    assert summary["errorDeviceCount"] == states.get("error", 0)
    assert summary["unknownDeviceCount"] == states.get("unknown", 0)
    overview = graph_get(simulator, token, SINGLETONS[1]).json()
    assert overview["enrolledDeviceCount"] == 2500
    os_summary = overview["deviceOperatingSystemSummary"]
    assert os_summary["windowsCount"] == systems["Windows"]
    assert os_summary["iosCount"] == systems["iOS"]
    assert os_summary["androidCount"] == systems["Android"]
    assert os_summary["macOSCount"] == systems["macOS"]


def test_it_answers_401_without_a_token(simulator):
    response = graph_get(simulator, None, "/v1.0/organization")
    assert response.status_code == 401
    error = response.json()["error"]
    assert error["code"] == "InvalidAuthenticationToken"
    assert error["message"] == "Access token is empty."
    assert {"date", "request-id", "client-request-id"} <= error["innerError"].keys()
    assert response.headers["WWW-Authenticate"].startswith('Bearer realm=""')


def test_it_answers_401_for_a_token_signed_by_someone_else(simulator, tenant):
    key_pem, _ = make_test_certificate("attacker")
    key = serialization.load_pem_private_key(key_pem.encode(), password=None)
    now = int(time.time())
    claims = {
        "aud": "https://graph.microsoft.com",
        "tid": tenant.tenant_id,
        "nbf": now,
        "exp": now + 600,
        "roles": ["Organization.Read.All"],
    }
    forged = jwt.encode(claims, key, algorithm="RS256")  # type: ignore[arg-type]
    response = graph_get(simulator, forged, "/v1.0/organization")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "InvalidAuthenticationToken"


def test_it_answers_401_for_an_expired_token(simulator, tenant):
    key = serialization.load_pem_private_key(
        (simulator.state_dir / "signing-key.pem").read_bytes(), password=None
    )
    now = int(time.time())
    claims = {
        "aud": "https://graph.microsoft.com",
        "tid": tenant.tenant_id,
        "nbf": now - 7200,
        "exp": now - 3600,
        "roles": ["Organization.Read.All"],
    }
    expired = jwt.encode(claims, key, algorithm="RS256")  # type: ignore[arg-type]
    response = graph_get(simulator, expired, "/v1.0/organization")
    assert response.status_code == 401
    assert response.json()["error"]["message"] == "Access token has expired or is not yet valid."


def test_it_answers_401_for_garbage(simulator):
    response = graph_get(simulator, "not-a-jwt", "/v1.0/organization")
    assert response.status_code == 401
    assert "CompactToken" in response.json()["error"]["message"]


def test_it_answers_intune_403_listing_the_needed_scopes(simulator):
    token = demo_token(simulator, NORTHWIND, "northwind-demo-secret")
    response = graph_get(simulator, token, "/v1.0/deviceAppManagement/mobileApps")
    assert response.status_code == 403
    error = response.json()["error"]
    assert error["code"] == "Forbidden"
    inner = json.loads(error["message"])
    assert inner["_version"] == 3
    scopes = re.search(
        r"Application must have one of the following scopes:\s*(.+?)\s*-\s*Operation ID",
        inner["Message"],
    )
    assert scopes is not None
    assert scopes.group(1) == "DeviceManagementApps.Read.All, DeviceManagementApps.ReadWrite.All"
    assert graph_get(simulator, token, "/v1.0/deviceManagement/managedDevices").status_code == 200


def test_it_answers_directory_403_without_consent(simulator):
    token = demo_token(simulator, LITWARE, "litware-demo-secret")
    response = graph_get(simulator, token, "/v1.0/organization")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "Authorization_RequestDenied"
    assert (
        response.json()["error"]["message"] == "Insufficient privileges to complete the operation."
    )


@pytest.mark.parametrize("path", INTUNE_PATHS)
def test_it_answers_the_license_error_on_intune_endpoints_of_an_unlicensed_tenant(simulator, path):
    token = demo_token(simulator, WOODGROVE, "woodgrove-demo-secret")
    response = graph_get(simulator, token, path)
    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["code"], error["message"]) == (
        "BadRequest",
        "Request not applicable to target tenant.",
    )
    assert error["innerError"]["code"] == "AppLifecycle_2210"


def test_it_still_serves_organization_to_an_unlicensed_tenant(simulator):
    token = demo_token(simulator, WOODGROVE, "woodgrove-demo-secret")
    organization = graph_get(simulator, token, "/v1.0/organization").json()["value"][0]
    assert organization["id"] == WOODGROVE
    assert organization["displayName"] == "Woodgrove Bank"


def test_it_reports_the_organization_with_its_default_domain(simulator, tenant, token):
    organization = graph_get(simulator, token, "/v1.0/organization").json()["value"][0]
    assert organization["id"] == tenant.tenant_id
    default = [d for d in organization["verifiedDomains"] if d["isDefault"]]
    assert [d["name"] for d in default] == [tenant.default_domain]


def test_it_can_report_another_organization_id_for_a_tenant_mismatch(simulator):
    token = demo_token(simulator, ALPINE, "alpine-demo-secret")
    organization = graph_get(simulator, token, "/v1.0/organization").json()["value"][0]
    assert organization["id"] == "0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0"


def test_it_answers_unknown_segments_like_graph(simulator, token):
    response = graph_get(simulator, token, "/v1.0/deviceManagement/nothingHere")
    assert response.status_code == 400
    assert (
        response.json()["error"]["message"] == "Resource not found for the segment 'nothingHere'."
    )


def test_it_echoes_the_client_request_id(simulator, token):
    client_request_id = str(uuid.uuid4())
    response = graph_get(simulator, None, "/v1.0/organization")
    assert response.headers["client-request-id"] != client_request_id
    echoed = requests.get(
        f"{simulator.base_url}/v1.0/organization",
        headers={"Authorization": f"Bearer {token}", "client-request-id": client_request_id},
        verify=simulator.ca_bundle,
        timeout=10,
    )
    assert echoed.headers["client-request-id"] == client_request_id


def test_it_records_graph_requests(simulator, tenant, token):
    simulator.clear_requests()
    graph_get(simulator, token, "/v1.0/deviceManagement/managedDevices", **{"$top": "5"})
    [record] = simulator.requests
    assert (record.kind, record.path, record.status) == (
        "graph",
        "/v1.0/deviceManagement/managedDevices",
        200,
    )
    assert record.query == {"$top": "5"}
    assert record.tenant_id == tenant.tenant_id
    assert record.client_id == tenant.apps[0].client_id
