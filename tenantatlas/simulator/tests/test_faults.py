"""Fault injection: throttling, 5xx, slowness and malformed JSON, counted per tenant."""

from __future__ import annotations

import email.utils
import json
import time

import pytest
import requests

from tenantatlas.simulator.scenarios import Faults, ServerErrorFault, ThrottleFault
from tenantatlas.simulator.tests.helpers import (
    FABRIKAM,
    demo_token,
    graph_get,
    new_tenant,
    token_for,
)

DEVICES = "/v1.0/deviceManagement/managedDevices"


def _throttled_tenant(simulator, **throttle):
    return simulator.add_tenant(new_tenant(faults=Faults(throttle=ThrottleFault(**throttle))))


def test_it_throttles_the_first_n_requests_then_recovers(simulator):
    tenant = _throttled_tenant(simulator, count=3, retry_after="2")
    token = token_for(simulator, tenant)
    statuses = [graph_get(simulator, token, DEVICES).status_code for _ in range(5)]
    assert statuses == [429, 429, 429, 200, 200]


def test_it_sends_graphs_throttling_body_and_retry_after(simulator):
    tenant = _throttled_tenant(simulator, count=1, retry_after="2.128")
    response = graph_get(simulator, token_for(simulator, tenant), DEVICES)
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "2.128"
    error = response.json()["error"]
    assert (error["code"], error["message"]) == ("TooManyRequests", "Please retry again later.")
    assert error["innerError"]["code"] == "429"
    assert error["innerError"]["status"] == "429"


def test_it_can_send_retry_after_as_an_http_date(simulator):
    tenant = _throttled_tenant(simulator, count=1, retry_after="http-date:30")
    response = graph_get(simulator, token_for(simulator, tenant), DEVICES)
    moment = email.utils.parsedate_to_datetime(response.headers["Retry-After"])
    assert 25 <= moment.timestamp() - time.time() <= 31


def test_it_can_throttle_without_retry_after(simulator):
    tenant = _throttled_tenant(simulator, count=1, retry_after=None)
    response = graph_get(simulator, token_for(simulator, tenant), DEVICES)
    assert response.status_code == 429
    assert "Retry-After" not in response.headers


def test_it_throttles_only_matching_paths(simulator):
    tenant = _throttled_tenant(simulator, count=5, paths=["/v1.0/deviceAppManagement"])
    token = token_for(simulator, tenant)
    assert graph_get(simulator, token, DEVICES).status_code == 200
    assert graph_get(simulator, token, "/v1.0/deviceAppManagement/mobileApps").status_code == 429
    assert simulator.remaining_faults(tenant.tenant_id) == (4, 0)


def test_it_counts_faults_per_tenant(simulator):
    throttled = _throttled_tenant(simulator, count=2)
    calm = simulator.add_tenant(new_tenant())
    assert graph_get(simulator, token_for(simulator, calm), DEVICES).status_code == 200
    assert graph_get(simulator, token_for(simulator, throttled), DEVICES).status_code == 429


def test_it_injects_server_errors(simulator):
    faults = Faults(server_errors=ServerErrorFault(count=2, status=503, retry_after="1"))
    tenant = simulator.add_tenant(new_tenant(faults=faults))
    token = token_for(simulator, tenant)
    first, second, third = (graph_get(simulator, token, DEVICES) for _ in range(3))
    assert (first.status_code, second.status_code, third.status_code) == (503, 503, 200)
    assert first.json()["error"]["code"] == "serviceNotAvailable"
    assert first.headers["Retry-After"] == "1"


def test_it_throttles_before_server_errors(simulator):
    faults = Faults(
        throttle=ThrottleFault(count=1), server_errors=ServerErrorFault(count=1, status=504)
    )
    tenant = simulator.add_tenant(new_tenant(faults=faults))
    token = token_for(simulator, tenant)
    assert [graph_get(simulator, token, DEVICES).status_code for _ in range(3)] == [429, 504, 200]


def test_it_can_answer_slowly(simulator):
    tenant = simulator.add_tenant(new_tenant(faults=Faults(slow_seconds=1.0, slow_paths=[DEVICES])))
    token = token_for(simulator, tenant)
    with pytest.raises(requests.Timeout):
        requests.get(
            f"{simulator.base_url}{DEVICES}",
            headers={"Authorization": f"Bearer {token}"},
            verify=simulator.ca_bundle,
            timeout=0.3,
        )
    started = time.monotonic()
    assert graph_get(simulator, token, "/v1.0/organization").status_code == 200
    assert time.monotonic() - started < 0.9


def test_it_can_answer_with_malformed_json(simulator):
    tenant = simulator.add_tenant(new_tenant(faults=Faults(malformed_json_paths=[DEVICES])))
    response = graph_get(simulator, token_for(simulator, tenant), DEVICES)
    assert response.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        json.loads(response.text)


def test_it_can_cut_off_only_the_first_n_answers(simulator):
    faults = Faults(malformed_json_paths=[DEVICES], malformed_json_count=2)
    tenant = simulator.add_tenant(new_tenant(faults=faults))
    token = token_for(simulator, tenant)
    assert simulator.remaining_malformed(tenant.tenant_id) == 2
    organization = graph_get(simulator, token, "/v1.0/organization")
    answers = [graph_get(simulator, token, DEVICES) for _ in range(3)]

    assert organization.json()["value"]  # other paths are not affected nor counted
    assert [a.status_code for a in answers] == [200, 200, 200]
    for cut_off in answers[:2]:
        with pytest.raises(json.JSONDecodeError):
            json.loads(cut_off.text)
    assert isinstance(answers[2].json()["value"], list)
    assert simulator.remaining_malformed(tenant.tenant_id) == 0


def test_it_rearms_fault_counters_on_reset(simulator):
    token = demo_token(simulator, FABRIKAM, "fabrikam-demo-secret")
    assert graph_get(simulator, token, DEVICES).status_code == 429
    assert simulator.remaining_faults(FABRIKAM) == (19, 2)
    simulator.reset()
    assert simulator.remaining_faults(FABRIKAM) == (20, 2)


def test_it_lets_organization_through_the_demo_throttle(simulator):
    token = demo_token(simulator, FABRIKAM, "fabrikam-demo-secret")
    assert graph_get(simulator, token, "/v1.0/organization").status_code == 200
