"""The Microsoft Graph application permissions a connection's app registration needs, and the
app-manifest snippet that requests them.

Which permissions: the least-privileged one of each Graph contract (`graph/contracts.py`), the
same ones the connection check reports missing (`microsoft/health.py`, `permission_gaps`).
Their app-role ids are Microsoft's (docs/permissions.md names the source of each); a contract
whose permission has no id here fails `test_connection_permissions.py`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from tenantatlas.graph.contracts import required_permissions

GRAPH_RESOURCE_APP_ID = "00000003-0000-0000-c000-000000000000"  # Microsoft Graph
# Application permission (app role) → its id in Microsoft Graph's service principal.
GRAPH_APP_ROLE_IDS: dict[str, str] = {
    "DeviceManagementApps.Read.All": "7a6ee1e7-141e-4cec-ae74-d9db155731ff",
    "DeviceManagementConfiguration.Read.All": "dc377aa6-52d8-4e23-b271-2a7ae04cedf3",
    "DeviceManagementManagedDevices.Read.All": "2f51be20-0bb4-4fed-bf7b-db946066c75e",
    "Organization.Read.All": "498476ce-e0fe-48b0-b801-37ba7e2685c6",
}


_ONE_LINE_ROLE = re.compile(r'\{\s+"id": "([0-9a-f-]+)",\s+"type": "Role"\s+\}')


@dataclass(frozen=True)
class GraphPermission:
    name: str
    app_role_id: str


def needed_permissions() -> list[GraphPermission]:
    """The least-privileged permission of every contract, once each, by name."""
    names = sorted({acceptable[0] for acceptable in required_permissions().values()})
    return [GraphPermission(name, GRAPH_APP_ROLE_IDS[name]) for name in names]


def manifest_snippet() -> str:
    """`requiredResourceAccess` for the app registration's manifest (JSON)."""
    access = [{"id": p.app_role_id, "type": "Role"} for p in needed_permissions()]
    snippet = {
        "requiredResourceAccess": [
            {"resourceAppId": GRAPH_RESOURCE_APP_ID, "resourceAccess": access}
        ]
    }
    # One line per permission, as Microsoft's manifest editor shows them.
    return _ONE_LINE_ROLE.sub(r'{"id": "\1", "type": "Role"}', json.dumps(snippet, indent=2))
