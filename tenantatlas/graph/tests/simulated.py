"""Helpers for end-to-end tests: a simulated tenant, the credential we hold, a connected client.

Everything is real (MSAL, HTTPS, the simulator); only ``sleep`` is captured so throttling tests
do not wait. Canary values make leaks detectable in any message, detail or run summary.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from tenantatlas.graph.auth import ClientCredential, TokenProvider
from tenantatlas.graph.client import GraphClient
from tenantatlas.graph.clouds import Cloud
from tenantatlas.graph.recorder import RequestRecorder
from tenantatlas.lib.reasons import ProviderError
from tenantatlas.lib.sanitize import Redactor
from tenantatlas.simulator.certs import make_test_certificate
from tenantatlas.simulator.scenarios import AppScenario, SecretSpec, TenantScenario
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
