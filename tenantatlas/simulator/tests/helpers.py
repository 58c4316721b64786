"""Shared helpers for the simulator tests: demo ids, a fresh tenant, token and Graph calls."""

from __future__ import annotations

import uuid
from typing import Any

import msal
import requests

from tenantatlas.simulator.graph import READ_ALL_ROLES
from tenantatlas.simulator.scenarios import AppScenario, SecretSpec, TenantScenario
from tenantatlas.simulator.server import SimulatorServer

DEMO_CLIENT_ID = "0b5e2c4d-9a1f-4e3b-8c7d-6f5a4b3c2d1e"
CONTOSO = "5a1c0e4b-7f2d-4c8e-9b6a-3d2f1e0c9b8a"
FABRIKAM = "b3d9f1a7-2c4e-4a6b-8d0f-1e3c5a7b9d2f"
NORTHWIND = "c7e2a9d4-5b1f-4c3a-9e8d-2f6b0a4c8e1d"
TAILSPIN = "d1f4b8e2-6a3c-4d5e-8f7a-9b0c1d2e3f4a"
WOODGROVE = "e8a2c6f0-3d5b-4e7a-9c1f-4b6d8e0a2c5f"
LITWARE = "f2b6d0a4-8c1e-4f3a-b5d7-6e9f1a3b5c7d"
ADATUM = "a4c8e2f6-1b3d-4a5c-9e7f-0d2b4f6a8c1e"
PROSEWARE = "b9d3f7a1-4e6c-4b8d-a0f2-5c7e9b1d3f6a"
ALPINE = "c5e9a3d7-2f4b-4c6e-8a0d-7b1f3e5a9c2d"

ALL_ROLES = list(READ_ALL_ROLES)
GRAPH_SCOPE = ["https://graph.microsoft.com/.default"]
SECRET = "test-secret-value"


def new_tenant(**overrides: Any) -> TenantScenario:
    """A fresh tenant with one app (``SECRET``, all roles) unless overridden."""
    tenant_id = overrides.pop("tenant_id", str(uuid.uuid4()))
    app = overrides.pop(
        "app",
        AppScenario(
            client_id=overrides.pop("client_id", str(uuid.uuid4())),
            secrets=[SecretSpec(SECRET)],
            roles=overrides.pop("roles", list(ALL_ROLES)),
        ),
    )
    values: dict[str, Any] = {
        "tenant_id": tenant_id,
        "display_name": "Test Tenant",
        "default_domain": f"t{tenant_id[:8]}.onmicrosoft.com",
        "device_count": 120,
        "apps": [app],
    }
    values.update(overrides)
    return TenantScenario(**values)


def token_response(
    sim: SimulatorServer, tenant: str, client_id: str, **form: str
) -> requests.Response:
    data = {
        "client_id": client_id,
        "grant_type": "client_credentials",
        "scope": GRAPH_SCOPE[0],
        **form,
    }
    return requests.post(
        f"{sim.base_url}/{tenant}/oauth2/v2.0/token", data=data, verify=sim.ca_bundle, timeout=10
    )


def token_for(sim: SimulatorServer, scenario: TenantScenario, secret: str = SECRET) -> str:
    response = token_response(
        sim, scenario.tenant_id, scenario.apps[0].client_id, client_secret=secret
    )
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


def graph_get(
    sim: SimulatorServer, token: str | None, path: str, **params: str
) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    url = path if path.startswith("https://") else f"{sim.base_url}{path}"
    return requests.get(url, params=params, headers=headers, verify=sim.ca_bundle, timeout=30)


def msal_app(
    sim: SimulatorServer, tenant: str, credential: Any, client_id: str = DEMO_CLIENT_ID
) -> msal.ConfidentialClientApplication:
    return msal.ConfidentialClientApplication(
        client_id,
        client_credential=credential,
        authority=f"{sim.base_url}/{tenant}",
        instance_discovery=False,
        verify=str(sim.ca_bundle),
    )


def demo_token(sim: SimulatorServer, tenant_id: str, secret: str) -> str:
    """An access token for the demo app in one of the demo tenants."""
    response = token_response(sim, tenant_id, DEMO_CLIENT_ID, client_secret=secret)
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


# The onboarding demo (issue 14): the partner app's home and its customers.
TREY = "7e2b4d6f-8a1c-4e3f-9b5d-2c4e6a8f0b1d"
WIDE_WORLD = "8f3c5e7a-9b2d-4f4a-a6c8-3d5f7b9e1c2a"
COHO = "9a4d6f8b-0c3e-4a5b-b7d9-4e6a8c0f2d3b"
FOURTH_COFFEE = "0b5e7a9c-1d4f-4b6c-8e0a-5f7b9d1a3e4c"
PARTNER_CLIENT_ID = "6c1e3a5b-7d9f-4b2d-8a4c-0e2f4a6b8d9c"
PARTNER_SECRET = "trey-partner-secret"
PARTNER_ROLES = [
    "Organization.Read.All",
    "DeviceManagementManagedDevices.Read.All",
    "DeviceManagementConfiguration.Read.All",
    "DeviceManagementApps.Read.All",
    "DeviceManagementServiceConfig.Read.All",
]
