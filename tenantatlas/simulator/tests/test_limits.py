"""Graph's throttling limits in the simulator: off by default; per app and tenant, per tenant and
per app across tenants when on; Graph's 429 with a fractional Retry-After; usage per pair."""

from __future__ import annotations

import uuid

import pytest

from tenantatlas.simulator.limits import GraphLimits, Limiter, Window, parse_limits
from tenantatlas.simulator.scenarios import (
    AppScenario,
    Faults,
    ScenarioError,
    SecretSpec,
    ThrottleFault,
    load_limits,
)
from tenantatlas.simulator.server import SimulatorServer
from tenantatlas.simulator.tests.helpers import (
    ALL_ROLES,
    SECRET,
    graph_get,
    new_tenant,
    token_for,
    token_response,
)

DEVICES = "/v1.0/deviceManagement/managedDevices"
ONLY_PAIRS = GraphLimits(app_tenant=Window(3, 30.0), tenant=None, app=None)


def statuses(simulator, token, count):
    return [graph_get(simulator, token, DEVICES, **{"$top": "1"}).status_code for _ in range(count)]


def test_limits_are_off_by_default_and_every_request_is_counted(simulator):
    tenant = simulator.add_tenant(new_tenant())
    token = token_for(simulator, tenant)
    assert simulator.limiter.limits is None
    assert set(statuses(simulator, token, 12)) == {200}
    usage = simulator.usage(tenant.apps[0].client_id, tenant.tenant_id)
    assert (usage.requests, usage.throttled, usage.limited) == (12, 0, 0)


def test_over_a_pairs_limit_it_answers_graphs_429_with_a_fractional_retry_after(simulator):
    simulator.set_limits(ONLY_PAIRS)
    tenant = simulator.add_tenant(new_tenant())
    token = token_for(simulator, tenant)
    assert statuses(simulator, token, 3) == [200, 200, 200]
    response = graph_get(simulator, token, DEVICES)
    assert response.status_code == 429
    error = response.json()["error"]
    assert (error["code"], error["message"]) == ("TooManyRequests", "Please retry again later.")
    assert (error["innerError"]["code"], error["innerError"]["status"]) == ("429", "429")
    assert response.headers["request-id"] == error["innerError"]["request-id"]
    _, _, fraction = response.headers["Retry-After"].partition(".")
    assert len(fraction) == 3
    assert 0 < float(response.headers["Retry-After"]) <= 30.0
    usage = simulator.usage(tenant.apps[0].client_id, tenant.tenant_id)
    assert (usage.requests, usage.throttled, usage.limited) == (4, 1, 1)


def test_it_limits_an_app_across_tenants_and_leaves_other_apps_alone(simulator):
    simulator.set_limits(GraphLimits(app_tenant=None, tenant=None, app=Window(4, 30.0)))
    client_id = str(uuid.uuid4())
    first = simulator.add_tenant(new_tenant(client_id=client_id))
    second = simulator.add_tenant(new_tenant(client_id=client_id))
    other = simulator.add_tenant(new_tenant())
    first_token, second_token = token_for(simulator, first), token_for(simulator, second)
    assert statuses(simulator, first_token, 2) + statuses(simulator, second_token, 2) == [200] * 4
    assert statuses(simulator, second_token, 1) == [429]
    assert statuses(simulator, first_token, 1) == [429]
    assert statuses(simulator, token_for(simulator, other), 4) == [200] * 4


def test_it_limits_a_tenant_for_all_its_apps(simulator):
    simulator.set_limits(GraphLimits(app_tenant=None, tenant=Window(3, 30.0), app=None))
    second_app = AppScenario(str(uuid.uuid4()), secrets=[SecretSpec(SECRET)], roles=ALL_ROLES)
    tenant = new_tenant()
    tenant.apps.append(second_app)
    tenant = simulator.add_tenant(tenant)
    mine = token_for(simulator, tenant)
    answer = token_response(simulator, tenant.tenant_id, second_app.client_id, client_secret=SECRET)
    theirs = answer.json()["access_token"]
    assert statuses(simulator, mine, 2) + statuses(simulator, theirs, 1) == [200] * 3
    assert statuses(simulator, mine, 1) == [429]
    assert simulator.usage(second_app.client_id, tenant.tenant_id).requests == 1


def test_a_token_graph_refuses_gets_401_not_429(simulator):
    simulator.set_limits(GraphLimits(app_tenant=Window(1, 30.0), tenant=None, app=None))
    assert [graph_get(simulator, "not-a-token", DEVICES).status_code for _ in range(3)] == [401] * 3


def test_usage_counts_the_429s_of_faults_apart_from_the_limits(simulator):
    simulator.set_limits(GraphLimits(app_tenant=Window(3, 30.0), tenant=None, app=None))
    tenant = simulator.add_tenant(new_tenant(faults=Faults(throttle=ThrottleFault(count=1))))
    assert statuses(simulator, token_for(simulator, tenant), 4) == [429, 200, 200, 429]
    usage = simulator.usage(tenant.apps[0].client_id, tenant.tenant_id)
    assert (usage.requests, usage.throttled, usage.limited) == (4, 2, 1)


def test_reset_restores_the_servers_own_limits_and_forgets_usage(simulator):
    simulator.set_limits(ONLY_PAIRS)
    tenant = simulator.add_tenant(new_tenant())
    statuses(simulator, token_for(simulator, tenant), 1)
    simulator.reset()
    assert simulator.limiter.limits is None
    assert simulator.usage(tenant.apps[0].client_id, tenant.tenant_id).requests == 0


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def limiter(clock, **scopes):
    limiter = Limiter(lambda token: {"tid": "tenant-a", "appid": "app-1"}, clock)
    defaults = {"app_tenant": None, "tenant": None, "app": None}
    limiter.configure(GraphLimits(**{**defaults, **scopes}))
    return limiter


def retry_after(limiter):
    found = limiter.check({"authorization": "Bearer ok"})
    return None if found is None else float(found[0].headers["Retry-After"])


def test_the_window_slides_and_retry_after_is_when_it_admits_again():
    clock = Clock()
    limits = limiter(clock, app_tenant=Window(2, 10.0))
    assert retry_after(limits) is None  # at 100
    clock.now = 104
    assert retry_after(limits) is None
    clock.now = 105
    # Refused, and counted: the window holds two (104 and this one) until 114.
    assert retry_after(limits) == pytest.approx(9.0)
    clock.now = 113.9
    assert retry_after(limits) == pytest.approx(1.1)  # 105 and 113.9 until 115
    clock.now = 115.001
    assert retry_after(limits) is None


def test_a_client_retrying_at_once_stays_throttled():
    clock = Clock()
    limits = limiter(clock, app_tenant=Window(3, 10.0))
    for _ in range(3):
        assert retry_after(limits) is None
    waits = []
    for _ in range(5):
        clock.now += 1
        waits.append(retry_after(limits))
    assert all(wait is not None for wait in waits)
    clock.now += max(waits[-1] or 0, 0)
    assert retry_after(limits) is None


def test_a_scenario_file_turns_limits_on(tmp_path):
    scenarios = tmp_path / "limits.toml"
    scenarios.write_text(
        "[limits]\n"
        "app_tenant = { requests = 100, seconds = 20 }\n"
        "tenant = false\n"
        '[[tenants]]\ntenant_id = "8f0e3b9a-1c2d-4e5f-a6b7-c8d9e0f1a2b3"\n'
        'display_name = "Limited"\ndefault_domain = "limited.onmicrosoft.com"\n'
    )
    server = SimulatorServer(tmp_path / "state", scenarios)
    assert server.limiter.limits == GraphLimits(
        app_tenant=Window(100, 20.0), tenant=None, app=Window(130_000, 10.0)
    )
    server.set_limits(None)
    server.reset()
    assert server.limiter.limits is not None


@pytest.mark.parametrize(
    "table",
    [
        {"app_tenant": {"requests": 0, "seconds": 20}},
        {"app_tenant": {"requests": 10, "seconds": 0}},
        {"app_tenant": {"requests": 10}},
        {"per_user": {"requests": 10, "seconds": 1}},
    ],
)
def test_a_limits_table_it_cannot_use_is_refused(tmp_path, table):
    with pytest.raises(ValueError, match="limits"):
        parse_limits(table)
    scenarios = tmp_path / "bad.toml"
    scope, value = next(iter(table.items()))
    inline = ", ".join(f"{key} = {number}" for key, number in value.items())
    scenarios.write_text(f"[limits]\n{scope} = {{ {inline} }}\n")
    with pytest.raises(ScenarioError, match="limits"):
        load_limits(scenarios)


def test_microsofts_limits_are_the_defaults():
    assert GraphLimits() == GraphLimits(
        app_tenant=Window(1000, 20.0), tenant=Window(2000, 20.0), app=Window(130_000, 10.0)
    )
