"""End to end: real MSAL and real HTTPS against the simulator, no mocks of our client.

Every reason code a remote failure can cause is reached through the wire, and every failure is
checked for leaks of the canary secret, private key and access token.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import tracemalloc
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from tenantatlas.graph.auth import ClientCredential, TokenProvider
from tenantatlas.graph.client import GraphClient
from tenantatlas.graph.clouds import Cloud, get_cloud
from tenantatlas.graph.contracts import UnregisteredContract
from tenantatlas.graph.recorder import RequestRecorder
from tenantatlas.lib.reasons import ProviderError, RetryLater
from tenantatlas.lib.sanitize import Redactor
from tenantatlas.simulator.certs import make_test_certificate
from tenantatlas.simulator.scenarios import (
    AppScenario,
    Faults,
    SecretSpec,
    ServerErrorFault,
    TenantScenario,
    ThrottleFault,
)
from tenantatlas.simulator.server import SimulatorServer

CLIENT_ID = "3f2504e0-4f89-11d3-9a0c-0305e82c3301"
ALL_ROLES = [
    "Organization.Read.All",
    "DeviceManagementManagedDevices.Read.All",
    "DeviceManagementConfiguration.Read.All",
    "DeviceManagementApps.Read.All",
]
KEY_PEM, CERT_PEM = make_test_certificate("tenantatlas-e2e")
OTHER_KEY_PEM, _ = make_test_certificate("tenantatlas-e2e-wrong")


def simulator_cloud(simulator: SimulatorServer, **changes: Any) -> Cloud:
    cloud = Cloud(
        "simulator",
        "Simulator",
        simulator.base_url,
        simulator.base_url,
        "https://graph.microsoft.com",
        str(simulator.ca_bundle),
    )
    return dataclasses.replace(cloud, **changes)


@dataclass
class Setup:
    """One simulated tenant and the credential TenantAtlas holds for it."""

    secret: str = field(default_factory=lambda: f"CANARY-{uuid.uuid4().hex}~secret")
    tenant_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    roles: list[str] = field(default_factory=lambda: list(ALL_ROLES))
    app: dict[str, Any] = field(default_factory=dict)
    tenant: dict[str, Any] = field(default_factory=dict)
    credential: ClientCredential | None = None
    connect_to: str | None = None  # the tenant id TenantAtlas uses (default: tenant_id)
    secret_expired: bool = False

    def scenario(self) -> TenantScenario:
        expires_at = past() if self.secret_expired else None
        app_fields: dict[str, Any] = {
            "client_id": CLIENT_ID,
            "secrets": [SecretSpec(self.secret, expires_at=expires_at)],
            "certificates": [CERT_PEM],
            "roles": self.roles,
        }
        app = AppScenario(**{**app_fields, **self.app})
        defaults = {"device_count": 30, "display_name": "E2E", "default_domain": "e2e.test"}
        return TenantScenario(tenant_id=self.tenant_id, apps=[app], **{**defaults, **self.tenant})


@dataclass
class Run:
    provider: TokenProvider
    client: GraphClient
    redactor: Redactor
    recorder: RequestRecorder
    sleeps: list[float]
    secret: str

    def leaks(self, *things: object) -> list[str]:
        """Canary material found in the given objects (rendered as JSON/str)."""
        text = json.dumps([str(thing) for thing in things], default=str)
        text += json.dumps(self.recorder.summary())
        canaries = [self.secret, "CANARY", *KEY_PEM.splitlines()[1:-1]]
        token = self.provider._token
        if token is not None:
            canaries.append(token.value)
        return [canary for canary in canaries if canary and canary in text]


def connect(
    simulator: SimulatorServer,
    setup: Setup,
    *,
    cloud: Cloud | None = None,
    register: bool = True,
    **client_kwargs: Any,
) -> Run:
    if register:
        simulator.add_tenant(setup.scenario())
    redactor = Redactor()
    credential = setup.credential or ClientCredential(CLIENT_ID, client_secret=setup.secret)
    cloud = cloud or simulator_cloud(simulator)
    provider = TokenProvider(
        cloud, setup.connect_to or setup.tenant_id, credential, redactor=redactor, timeout=10
    )
    sleeps: list[float] = []
    recorder = RequestRecorder()
    options: dict[str, Any] = {"max_attempts": 3, "max_total_wait": 60, "timeout": 10}
    client = GraphClient(
        cloud,
        provider,
        redactor=redactor,
        recorder=recorder,
        sleep=sleeps.append,
        **{**options, **client_kwargs},
    )
    return Run(provider, client, redactor, recorder, sleeps, setup.secret)


def fail(run: Run, action: Callable[[Run], object]) -> ProviderError:
    with pytest.raises(ProviderError) as caught:
        action(run)
    error = caught.value
    assert run.leaks(error.message, error.details, error, repr(error)) == []
    return error


def org(run: Run) -> object:
    return run.client.get("organization.get")


def devices(run: Run) -> object:
    return list(run.client.iter_pages("devices.list"))


def apps(run: Run) -> object:
    return list(run.client.iter_pages("mobile_apps.list"))


def past() -> dt.datetime:
    return dt.datetime.now(dt.UTC) - dt.timedelta(days=1)


def wrong_key() -> ClientCredential:
    return ClientCredential(CLIENT_ID, private_key_pem=OTHER_KEY_PEM, certificate_pem=CERT_PEM)


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
        graph_calls = [r for r in simulator.requests if r.kind == "graph"]
        assert [r.status for r in graph_calls] == [401, 401]
        assert len([r for r in other.requests if r.kind == "token"]) == 2
    finally:
        other.stop()


def test_long_retry_after_reschedules(simulator: SimulatorServer) -> None:
    faults = Faults(throttle=ThrottleFault(count=5, retry_after="http-date:3600"))
    run = connect(simulator, Setup(tenant={"faults": faults}))
    with pytest.raises(RetryLater) as caught:
        org(run)
    assert caught.value.retry_at is not None
    expected = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=3600)
    assert abs((caught.value.retry_at - expected).total_seconds()) < 5
    assert run.sleeps == []


@pytest.mark.parametrize(
    ("retry_after", "low", "high"),
    [("2", 2, 2), ("2.128", 2.128, 2.128), ("http-date:4", 2.0, 4.0)],
)
def test_retry_after_forms_are_honoured_over_the_wire(
    simulator: SimulatorServer, retry_after: str, low: float, high: float
) -> None:
    faults = Faults(throttle=ThrottleFault(count=1, retry_after=retry_after))
    run = connect(simulator, Setup(tenant={"faults": faults}))
    assert org(run)
    (wait,) = run.sleeps
    assert low <= wait <= high
    assert run.recorder.summary()["retries"] == 1


@pytest.mark.parametrize("signing", ["PS256", "RS256"])
def test_certificate_credentials_in_both_forms(simulator: SimulatorServer, signing: str) -> None:
    credential = ClientCredential(CLIENT_ID, private_key_pem=KEY_PEM, certificate_pem=CERT_PEM)
    setup = Setup(credential=credential)
    simulator.add_tenant(setup.scenario())
    provider = TokenProvider(
        simulator_cloud(simulator),
        setup.tenant_id,
        credential,
        redactor=Redactor(),
        certificate_signing=signing,  # type: ignore[arg-type]
    )
    assert provider.get_token().roles == ALL_ROLES


def test_every_contract_works_against_the_simulator(simulator: SimulatorServer, settings) -> None:
    settings.SIMULATOR_URL = simulator.base_url
    settings.SIMULATOR_CA_BUNDLE = str(simulator.ca_bundle)
    setup = Setup(tenant={"device_count": 2500})
    run = connect(simulator, setup, cloud=get_cloud("simulator"))
    organization = run.client.get("organization.get")
    assert organization["value"][0]["id"] == setup.tenant_id
    assert "compliantDeviceCount" in run.client.get("compliance_summary.get")
    assert "enrolledDeviceCount" in run.client.get("device_overview.get")
    for key in (
        "compliance_policies.list",
        "device_configurations.list",
        "configuration_policies.list",
        "mobile_apps.list",
    ):
        assert sum(len(page) for page in run.client.iter_pages(key)) > 0, key
    pages = list(run.client.iter_pages("devices.list", page_size=999))
    assert [len(page) for page in pages] == [999, 999, 502]
    summary = run.recorder.summary()
    assert summary["requests"] == 10
    assert all(r["request_id"] for r in summary["recent"])


def test_unregistered_contract_never_reaches_the_simulator(simulator: SimulatorServer) -> None:
    run = connect(simulator, Setup())
    simulator.clear_requests()
    with pytest.raises(UnregisteredContract):
        run.client.get("users.list")
    with pytest.raises(UnregisteredContract):
        next(run.client.iter_pages("servicePrincipals.delete"))
    assert simulator.requests == []


@pytest.mark.slow
def test_paging_a_250k_device_tenant_is_complete_and_memory_flat(
    simulator: SimulatorServer,
) -> None:
    total = 250_000
    run = connect(simulator, Setup(tenant={"device_count": total}))
    run.provider.get_token()
    # Ids go into a preallocated buffer (16-byte digests), so the test's own bookkeeping does
    # not grow while memory is measured; uniqueness is checked after measuring.
    digests = bytearray(16 * total)
    seen = 0
    samples: list[int] = []
    tracemalloc.start()
    try:
        for page in run.client.iter_pages("devices.list", query={"$select": "id"}):
            for item in page:
                offset = 16 * seen
                digests[offset : offset + 16] = hashlib.blake2b(
                    item["id"].encode(), digest_size=16
                ).digest()
                seen += 1
            del page
            samples.append(tracemalloc.get_traced_memory()[0])
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert seen == total
    unique = {bytes(digests[i : i + 16]) for i in range(0, len(digests), 16)}
    assert len(unique) == total
    assert len(samples) >= 250
    # Flat: memory after the last pages is within 5 MB of memory after the first ones, and
    # the peak (one page in flight, client and in-process server together) stays small.
    assert samples[-1] - samples[10] < 5 * 2**20, (samples[10], samples[-1])
    assert peak < 64 * 2**20, peak
