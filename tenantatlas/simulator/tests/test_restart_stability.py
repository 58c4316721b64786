"""A restarted simulator serves every tenant at a generation as before: names, ids, enrolment and
creation dates and every tracked field are the scenario's, not the clock's at start; only the
times that must look recent follow the new start, and the product's history ignores them."""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tenantatlas.inventory.models import ItemChange
from tenantatlas.operations.tests.processes import run_once
from tenantatlas.providers.microsoft.normalisation import DEVICE
from tenantatlas.simulator import server as server_module
from tenantatlas.simulator.mutations import VOLATILE_DEVICE_FIELDS
from tenantatlas.simulator.scenarios import DEMO_SCENARIOS, TenantScenario, load_scenarios
from tenantatlas.simulator.server import SimulatorServer
from tenantatlas.simulator.tests.helpers import (
    CONTOSO,
    demo_token,
    graph_get,
    new_tenant,
    token_for,
)
from tenantatlas.testing import make_sim_connection

CONTOSO_SECRET = "contoso-demo-secret"
# The first process started this long before the second (across a day and an hour boundary).
EARLIER = dt.timedelta(days=3, hours=7, minutes=13)
# Device fields counted back from the server's start: they must look recent whenever it started.
NOW_RELATIVE_DEVICE_FIELDS = frozenset(
    {*VOLATILE_DEVICE_FIELDS, "complianceGracePeriodExpirationDateTime"}
)
COLLECTIONS = (
    "/v1.0/deviceManagement/managedDevices",
    "/v1.0/deviceManagement/deviceCompliancePolicies",
    "/v1.0/deviceManagement/deviceConfigurations",
    "/beta/deviceManagement/configurationPolicies",
    "/v1.0/deviceAppManagement/mobileApps",
    "/v1.0/deviceManagement/auditEvents",
    "/v1.0/organization",
)
SINGLETONS = (
    "/v1.0/deviceManagement/deviceCompliancePolicyDeviceStateSummary",
    "/v1.0/deviceManagement/managedDeviceOverview",
)


@contextlib.contextmanager
def started_earlier(offset: dt.timedelta) -> Iterator[None]:
    """The simulator server's clock, ``offset`` behind: a server made (and its tenants moved)
    meanwhile is a process that started that much earlier."""

    class EarlierDateTime(dt.datetime):
        @classmethod
        def now(cls, tz: dt.tzinfo | None = None) -> Any:
            return dt.datetime.now(tz) - offset

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(
            server_module, "dt", types.SimpleNamespace(**{**vars(dt), "datetime": EarlierDateTime})
        )
        yield


@pytest.fixture(autouse=True)
def _trusted_simulator_ca(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def servers() -> Iterator[list[SimulatorServer]]:
    started: list[SimulatorServer] = []
    yield started
    for server in started:
        server.stop()


def _start(
    servers: list[SimulatorServer], state_dir: Path, scenarios: list[TenantScenario]
) -> SimulatorServer:
    server = SimulatorServer(state_dir, scenarios).start()
    servers.append(server)
    return server


def _replay(server: SimulatorServer, tenant_id: str, entered: list[dt.datetime]) -> None:
    """Enter generations 0…N at the given moments (what the demo's history replay does)."""
    for generation, moment in enumerate(entered):
        server.set_generation(tenant_id, generation, entered_at=moment)


def _read(server: SimulatorServer, token: str, path: str) -> list[dict[str, Any]]:
    """Every item of a collection, page after page."""
    items: list[dict[str, Any]] = []
    url: str | None = path
    while url is not None:
        response = graph_get(server, token, url)
        assert response.status_code == 200, response.text
        body = response.json()
        items.extend(body["value"])
        url = body.get("@odata.nextLink")
    return items


def _served(server: SimulatorServer, token: str) -> dict[str, Any]:
    served: dict[str, Any] = {path: _read(server, token, path) for path in COLLECTIONS}
    for path in SINGLETONS:
        response = graph_get(server, token, path)
        assert response.status_code == 200, response.text
        served[path] = response.json()
    return served


def _without(devices: list[dict[str, Any]], fields: frozenset[str]) -> list[dict[str, Any]]:
    return [{k: v for k, v in device.items() if k not in fields} for device in devices]


def _tenants() -> list[TenantScenario]:
    contoso = next(s for s in load_scenarios(DEMO_SCENARIOS) if s.tenant_id == CONTOSO)
    renamed = new_tenant(
        tenant_id="3c1e5a7b-9d2f-4b6a-8c0e-1f3a5b7c9d2e", device_count=900, generation=2, seed=7
    )
    return [contoso, renamed]


def test_a_restarted_simulator_serves_each_tenant_at_a_generation_as_before(tmp_path, servers):
    contoso, renamed = _tenants()
    last = max(m.epoch for m in contoso.mutations)
    first_entry = dt.datetime.now(dt.UTC) - EARLIER - dt.timedelta(days=last + 1)
    timeline = [first_entry + dt.timedelta(days=g) for g in range(last + 1)]

    with started_earlier(EARLIER):
        before = _start(servers, tmp_path, [contoso, renamed])
        _replay(before, CONTOSO, timeline)
    after = _start(servers, tmp_path, [contoso, renamed])
    _replay(after, CONTOSO, timeline)

    for tenant, token_of in (
        (contoso, lambda s: demo_token(s, CONTOSO, CONTOSO_SECRET)),
        (renamed, lambda s: token_for(s, renamed)),
    ):
        old, new = _served(before, token_of(before)), _served(after, token_of(after))
        devices = "/v1.0/deviceManagement/managedDevices"
        assert len(old[devices]) == len(new[devices]) > 0
        assert _without(new[devices], NOW_RELATIVE_DEVICE_FIELDS) == _without(
            old[devices], NOW_RELATIVE_DEVICE_FIELDS
        ), tenant.display_name
        for path in (*COLLECTIONS[1:], *SINGLETONS):
            assert new[path] == old[path], (tenant.display_name, path)
        # It did start later: what must look recent counts back from the later start.
        assert new[devices][0]["lastSyncDateTime"] != old[devices][0]["lastSyncDateTime"]

    # Only fields the product never compares devices on may follow the start.
    assert DEVICE.tracked is not None
    assert not NOW_RELATIVE_DEVICE_FIELDS & DEVICE.tracked


def test_a_sync_after_the_simulator_restarted_records_no_change(
    tmp_path, servers, settings, acme, alice, django_capture_on_commit_callbacks
):
    """The demo's case: history replayed, the simulator restarted, the tenant resumed at its last
    generation, and the next sync finds the tenant as it left it."""
    contoso = dataclasses.replace(_tenants()[0], device_count=600)
    last = max(m.epoch for m in contoso.mutations)
    conn: Any = None

    def sync() -> None:
        run = run_once(conn, alice, "inventory.sync", django_capture_on_commit_callbacks)
        assert run.status == "succeeded", (run.reason_code, run.failure_message)

    with started_earlier(EARLIER):
        before = _start(servers, tmp_path, [contoso])
        settings.SIMULATOR_URL = before.base_url
        settings.SIMULATOR_CA_BUNDLE = str(before.ca_bundle)
        conn = make_sim_connection(acme, alice, CONTOSO, CONTOSO_SECRET)
        sync()
        for generation in range(1, last + 1):
            before.set_generation(CONTOSO, generation)
            sync()
        before.stop()
    recorded = ItemChange.objects.count()
    assert recorded > 0  # the declared mutations
    devices = conn.inventory_items.filter(kind="managed_device")
    synced_before = dict(devices.values_list("external_id", "raw__lastSyncDateTime"))

    after = _start(servers, tmp_path, [contoso])
    after.set_generation(CONTOSO, last)  # what the demo does when it finds the tenant restarted
    settings.SIMULATOR_URL = after.base_url
    sync()

    assert list(ItemChange.objects.order_by("id")[recorded:]) == []
    assert devices.filter(removed_at__isnull=True).count() == 600
    synced_after = dict(devices.values_list("external_id", "raw__lastSyncDateTime"))
    assert synced_after.keys() == synced_before.keys()
    assert synced_after != synced_before  # the devices were seen again, later
