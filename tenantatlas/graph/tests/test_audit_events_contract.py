"""The audit_events.list contract against the simulator: the query forms real clients send travel
through the Graph client (encoding, default $select, paging) and come back filtered."""

from __future__ import annotations

import pytest

from tenantatlas.graph.tests.simulated import Setup, connect
from tenantatlas.lib.reasons import ProviderError
from tenantatlas.simulator.scenarios import Mutation
from tenantatlas.simulator.server import SimulatorServer

ADMIN = "admin@e2e.test"
MUTATIONS = [
    Mutation(1, "set", "deviceCompliancePolicies", 0, path="passwordMinimumLength", value=14,
             audit=True, actor=ADMIN),
    Mutation(1, "rename", "mobileApps", 1, name="Teams (work)", audit=True, actor=ADMIN),
    Mutation(2, "set", "deviceCompliancePolicies", 1, path="description", value="Tightened",
             audit=True, actor=ADMIN),
]  # fmt: skip


def test_it_reads_filtered_ordered_pages_of_audit_events(simulator: SimulatorServer) -> None:
    setup = Setup(tenant={"generation": 2, "drift": "none", "mutations": MUTATIONS})
    run = connect(simulator, setup)
    [first, *_] = simulator.mutations(setup.tenant_id)
    query = {
        "$filter": "activityDateTime ge 2020-01-01T00:00:00Z and category eq 'Compliance'",
        "$orderby": "activityDateTime desc",
    }
    pages = list(run.client.iter_pages("audit_events.list", query=query, page_size=1))
    events = [event for page in pages for event in page]
    assert [len(page) for page in pages] == [1, 1]
    assert [e["resources"][0]["modifiedProperties"][0]["displayName"] for e in events] == [
        "Description",
        "PasswordMinimumLength",
    ]
    by_item = {"$filter": f"resources/any(s:s/resourceId eq '{first.item_id}')"}
    [[only]] = list(run.client.iter_pages("audit_events.list", query=by_item))
    assert only["id"] == first.audit_event_id
    assert only["actor"]["userPrincipalName"] == ADMIN


def test_it_needs_device_management_apps_read(simulator: SimulatorServer) -> None:
    setup = Setup(roles=["DeviceManagementManagedDevices.Read.All"])
    run = connect(simulator, setup)
    with pytest.raises(ProviderError) as refused:
        list(run.client.iter_pages("audit_events.list"))
    assert refused.value.reason_code == "graph.permission_denied"
    assert "DeviceManagementApps.Read.All" in refused.value.details["required_permissions"]
