"""The simulator's own control endpoint over HTTPS: another process moves a tenant to a generation
entered at a given moment, and the mutations and audit events of that epoch happened then."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import requests

from tenantatlas.simulator.mutations import graph_time
from tenantatlas.simulator.scenarios import Mutation
from tenantatlas.simulator.server import SimulatorServer
from tenantatlas.simulator.tests.helpers import graph_get, new_tenant, token_for

ADMIN = "megan.bowen@contoso.com"
MUTATIONS = [
    Mutation(1, "set", "deviceCompliancePolicies", 0, path="passwordMinimumLength", value=14,
             audit=True, actor=ADMIN),
    Mutation(2, "rename", "mobileApps", 1, name="Company Portal (managed)", audit=True,
             actor=ADMIN),
]  # fmt: skip
TICK = dt.timedelta(microseconds=1)


def _move(
    simulator: SimulatorServer, tenant_id: str, payload: Any = None, **kwargs: Any
) -> requests.Response:
    return requests.post(
        f"{simulator.base_url}/_simulator/tenants/{tenant_id}/generation",
        json=payload,
        verify=str(simulator.ca_bundle),
        timeout=10,
        **kwargs,
    )


def _ago(**delta: float) -> dt.datetime:
    return dt.datetime.now(dt.UTC) - dt.timedelta(**delta)


def test_it_moves_a_tenant_into_a_generation_entered_at_the_given_moment(simulator):
    tenant = simulator.add_tenant(new_tenant(drift="none", mutations=MUTATIONS))
    started, entered = _ago(days=3), _ago(days=2)
    # It entered generation 0 when it was added (now): first it starts earlier.
    assert _move(
        simulator, tenant.tenant_id, {"generation": 0, "entered_at": started.isoformat()}
    ).ok

    response = _move(
        simulator, tenant.tenant_id, {"generation": 1, "entered_at": entered.isoformat()}
    )

    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["tenant_id"], body["generation"]) == (tenant.tenant_id, 1)
    assert [dt.datetime.fromisoformat(m) for m in body["timeline"]] == [started, entered]
    assert simulator.get_tenant(tenant.tenant_id).generation == 1
    token = token_for(simulator, tenant)
    [event] = graph_get(simulator, token, "/v1.0/deviceManagement/auditEvents").json()["value"]
    assert event["activityDateTime"] == graph_time(entered + TICK)
    policies = graph_get(simulator, token, "/v1.0/deviceManagement/deviceCompliancePolicies")
    policy = policies.json()["value"][0]
    assert (policy["passwordMinimumLength"], policy["lastModifiedDateTime"]) == (
        14,
        graph_time(entered + TICK),
    )
    control = [r for r in simulator.requests if r.path.startswith("/_simulator/")]
    assert [(r.kind, r.method, r.tenant_id, r.status) for r in control] == [
        ("control", "POST", tenant.tenant_id, 200)
    ] * 2


def test_it_replays_a_history_epoch_by_epoch_and_keeps_the_earlier_times(simulator):
    tenant = simulator.add_tenant(new_tenant(drift="none", mutations=MUTATIONS))
    moments = [_ago(days=3), _ago(days=2), _ago(days=1)]
    for generation, moment in enumerate(moments):  # generation 0 is entered again, earlier
        payload = {"generation": generation, "entered_at": moment.isoformat()}
        assert _move(simulator, tenant.tenant_id, payload).status_code == 200

    assert simulator.timeline(tenant.tenant_id) == moments
    events = simulator.audit_events(tenant.tenant_id)
    assert [e["activityDateTime"] for e in events] == [
        graph_time(moments[1] + TICK),
        graph_time(moments[2] + TICK),
    ]


def test_it_enters_the_generation_now_without_a_moment(simulator):
    tenant = simulator.add_tenant(new_tenant(drift="none", mutations=MUTATIONS))
    before = dt.datetime.now(dt.UTC)

    response = _move(simulator, tenant.tenant_id.upper(), {"generation": 2})

    assert response.status_code == 200, response.text
    first, *entered = simulator.timeline(tenant.tenant_id)
    assert first < before
    assert len(entered) == 2
    assert all(before <= moment <= dt.datetime.now(dt.UTC) for moment in entered)


@pytest.mark.parametrize(
    ("payload", "fragment"),
    [
        ({"generation": 1, "entered_at": "FUTURE"}, "is in the future"),
        ({"generation": 2, "entered_at": "BEFORE_GENERATION_0"}, "earlier than generation 0"),
        ({"generation": 1, "entered_at": "2026-01-01T09:00:00"}, "needs a UTC offset"),
        ({"generation": 1, "entered_at": "yesterday"}, "is not an ISO 8601 date and time"),
        ({"generation": -1}, "generation must be 0 or more"),
        ({"generation": "1"}, "generation must be a whole number"),
        ({"generation": True}, "generation must be a whole number"),
        ({"epoch": 1}, "expected a JSON object"),
        ([1], "expected a JSON object"),
    ],
)
def test_it_refuses_a_move_it_cannot_make_and_keeps_the_tenant_where_it_was(
    simulator, payload: Any, fragment: str
):
    tenant = simulator.add_tenant(new_tenant(drift="none", mutations=MUTATIONS))
    timeline = simulator.timeline(tenant.tenant_id)
    moments = {
        "FUTURE": (dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5)).isoformat(),
        "BEFORE_GENERATION_0": (timeline[0] - dt.timedelta(seconds=1)).isoformat(),
    }
    if isinstance(payload, dict) and payload.get("entered_at") in moments:
        payload = {**payload, "entered_at": moments[payload["entered_at"]]}

    response = _move(simulator, tenant.tenant_id, payload)

    assert response.status_code == 400
    assert response.json()["error"] == "refused"
    assert fragment in response.json()["message"]
    assert simulator.get_tenant(tenant.tenant_id).generation == 0
    assert simulator.timeline(tenant.tenant_id) == timeline


def test_it_refuses_a_body_that_is_not_json(simulator):
    tenant = simulator.add_tenant(new_tenant())
    response = _move(simulator, tenant.tenant_id, data=b"generation=1")
    assert response.status_code == 400
    assert "expected a JSON object" in response.json()["message"]


def test_it_answers_404_for_an_unknown_tenant_or_route_and_405_for_another_method(simulator):
    tenant = simulator.add_tenant(new_tenant())
    unknown = _move(simulator, "00000000-0000-4000-8000-000000000000", {"generation": 1})
    assert (unknown.status_code, unknown.json()["error"]) == (404, "unknown_tenant")
    other = requests.post(
        f"{simulator.base_url}/_simulator/tenants/{tenant.tenant_id}/faults",
        json={},
        verify=str(simulator.ca_bundle),
        timeout=10,
    )
    assert (other.status_code, other.json()["error"]) == (404, "not_found")
    read = requests.get(
        f"{simulator.base_url}/_simulator/tenants/{tenant.tenant_id}/generation",
        verify=str(simulator.ca_bundle),
        timeout=10,
    )
    assert (read.status_code, read.headers["Allow"]) == (405, "POST")
    assert simulator.get_tenant(tenant.tenant_id).generation == 0


def test_it_moves_a_tenant_in_process_at_a_given_moment_too(simulator):
    tenant = simulator.add_tenant(new_tenant(drift="none", mutations=MUTATIONS))
    simulator.set_generation(tenant.tenant_id, 0, entered_at=_ago(hours=6))
    entered = _ago(hours=5)
    simulator.set_generation(tenant.tenant_id, 1, entered_at=entered)
    [applied] = simulator.mutations(tenant.tenant_id)
    assert applied.at == entered + TICK
