"""Every reason code a remote failure can cause, reached over the wire, leaking nothing.

Real MSAL and real HTTPS against the simulator, no mocks of our client; each failure is checked
for the canary secret, private key lines and the access token. Codes decided by the caller
(auth.consent_missing from a token without roles, provider.tenant_mismatch from /organization)
are covered by showing the signal the caller decides on.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest

from tenantatlas.graph.auth import ClientCredential
from tenantatlas.graph.tests.simulated import (
    CLIENT_ID,
    Run,
    Setup,
    apps,
    connect,
    devices,
    fail,
    org,
    simulator_cloud,
    wrong_key,
)
from tenantatlas.simulator.scenarios import Faults, ServerErrorFault, ThrottleFault
from tenantatlas.simulator.server import SimulatorServer

# (id, Setup factory, cloud changes, client options, action, expected reason)
FAILURES: list[tuple[str, Callable[[], Setup], dict, dict, Callable[[Run], object], str]] = [
    (
        "wrong secret",
        lambda: Setup(credential=ClientCredential(CLIENT_ID, client_secret="CANARY-wrong-value")),
        {},
        {},
        org,
        "auth.invalid_client_secret",
    ),
    (
        "expired secret",
        lambda: Setup(secret_expired=True),
        {},
        {},
        org,
        "auth.client_secret_expired",
    ),
    (
        "wrong private key",
        lambda: Setup(credential=wrong_key()),
        {},
        {},
        org,
        "auth.certificate_invalid",
    ),
    (
        "app not in tenant",
        lambda: Setup(app={"client_id": str(uuid.uuid4())}),
        {},
        {},
        org,
        "auth.app_not_found",
    ),
    ("app disabled", lambda: Setup(app={"disabled": True}), {}, {}, org, "auth.app_disabled"),
    (
        "unknown tenant",
        lambda: Setup(connect_to=str(uuid.uuid4())),
        {},
        {},
        org,
        "auth.tenant_not_found",
    ),
    (
        "malformed tenant",
        lambda: Setup(connect_to="not_a_tenant"),
        {},
        {},
        org,
        "auth.tenant_id_invalid",
    ),
    (
        "conditional access",
        lambda: Setup(app={"blocked_by_policy": True}),
        {},
        {},
        org,
        "auth.blocked_by_policy",
    ),
    (
        "unknown resource",
        Setup,
        {"graph_resource": "https://graph.windows.net"},
        {},
        org,
        "auth.failed",
    ),
    (
        "missing intune permission",
        lambda: Setup(roles=["Organization.Read.All", "DeviceManagementManagedDevices.Read.All"]),
        {},
        {},
        apps,
        "graph.permission_denied",
    ),
    (
        "no consent at all",
        lambda: Setup(roles=[]),
        {},
        {},
        org,
        "graph.permission_denied",
    ),
    (
        "intune unlicensed",
        lambda: Setup(tenant={"intune_licensed": False}),
        {},
        {},
        devices,
        "graph.license_missing",
    ),
    (
        "throttled",
        lambda: Setup(tenant={"faults": Faults(throttle=ThrottleFault(count=50, retry_after="1"))}),
        {},
        {},
        devices,
        "graph.throttled",
    ),
    (
        "server errors",
        lambda: Setup(tenant={"faults": Faults(server_errors=ServerErrorFault(count=50))}),
        {},
        {},
        devices,
        "graph.unavailable",
    ),
    (
        "slow graph",
        lambda: Setup(
            tenant={"faults": Faults(slow_seconds=1.0, slow_paths=["/v1.0/organization"])}
        ),
        {},
        {"timeout": 0.3, "max_attempts": 2},
        org,
        "graph.timeout",
    ),
    (
        "malformed json",
        lambda: Setup(tenant={"faults": Faults(malformed_json_paths=["/v1.0/organization"])}),
        {},
        {},
        org,
        "graph.invalid_response",
    ),
    (
        "untrusted certificate",
        Setup,
        {"ca_bundle": None},
        {},
        org,
        "graph.network_error",
    ),
    (
        "nothing listening",
        Setup,
        {"authority_host": "https://127.0.0.1:9", "graph_base_url": "https://127.0.0.1:9"},
        {},
        org,
        "graph.network_error",
    ),
]


@pytest.mark.parametrize(
    ("make_setup", "cloud_changes", "options", "action", "reason"),
    [pytest.param(*case[1:], id=case[0]) for case in FAILURES],
)
def test_remote_failures_end_with_their_reason_code_and_leak_nothing(
    simulator: SimulatorServer, make_setup, cloud_changes, options, action, reason
) -> None:
    setup = make_setup()
    run = connect(simulator, setup, cloud=simulator_cloud(simulator, **cloud_changes), **options)
    error = fail(run, action)
    assert error.reason_code == reason, (error.reason_code, error.message, error.details)


def test_missing_permission_names_what_intune_wants(simulator: SimulatorServer) -> None:
    run = connect(simulator, Setup(roles=["Organization.Read.All"]))
    error = fail(run, devices)
    assert error.reason_code == "graph.permission_denied"
    assert "DeviceManagementManagedDevices.Read.All" in error.details["required_permissions"]
    assert error.details["permissions_source"] == "graph"
    assert error.details["graph_request_id"]


def test_no_consent_yields_a_token_without_roles(simulator: SimulatorServer) -> None:
    run = connect(simulator, Setup(roles=[]))
    token = run.provider.get_token()
    assert token.roles is None  # the health check turns this into auth.consent_missing


def test_graph_rejecting_the_token_is_unauthorized_after_one_refresh(
    simulator: SimulatorServer, tmp_path
) -> None:
    """Tokens from one identity platform, presented to a Graph that does not trust it."""
    other = SimulatorServer(tmp_path / "other", [])
    other.start()
    try:
        setup = Setup()
        other.add_tenant(setup.scenario())
        simulator.add_tenant(setup.scenario())
        bundle = tmp_path / "both.pem"
        bundle.write_text(simulator.ca_bundle.read_text() + other.ca_bundle.read_text())
        cloud = simulator_cloud(simulator, authority_host=other.base_url, ca_bundle=str(bundle))
        run = connect(simulator, setup, cloud=cloud, register=False)
        simulator.clear_requests()
        error = fail(run, org)
        assert error.reason_code == "graph.unauthorized"
        # Only this tenant's calls: the simulator is shared by the whole test session.
        graph_calls = [
            r
            for r in simulator.requests
            if r.kind == "graph" and r.tenant_id in (None, setup.tenant_id)
        ]
        assert [r.status for r in graph_calls] == [401, 401]
        assert len([r for r in other.requests if r.kind == "token"]) == 2
    finally:
        other.stop()


def test_tenant_mismatch_is_visible_to_the_health_check(simulator: SimulatorServer) -> None:
    """provider.tenant_mismatch is decided by the caller from /organization's id."""
    other = str(uuid.uuid4())
    run = connect(simulator, Setup(tenant={"organization_id": other}))
    organization = run.client.get("organization.get")["value"][0]
    assert organization["id"] == other
    assert run.leaks(organization) == []


# graph.not_found needs a contract with a key in its path; none of the initial contracts has one,
# so the simulator cannot answer 404 to a registered call. The mapping is covered in test_client.
