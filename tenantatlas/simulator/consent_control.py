"""The control routes for consents, users and authorization codes (the simulator's own).

Under ``/_simulator/`` (docs/simulator.md, "Consents in tests and from other processes"):
``GET consents``, ``POST consents/reset``, ``GET | PUT | DELETE
tenants/{tenant_id}/consents/{client_id}`` (PUT ``{"roles": […]}``), ``GET
tenants/{tenant_id}/users`` and ``POST authorization-codes/expire``. The server passes itself
as the ``host``; every change goes through its thread-safe methods.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any, Protocol

from tenantatlas.simulator.directory import Consent
from tenantatlas.simulator.errors import Reply
from tenantatlas.simulator.scenarios import TenantScenario, UserScenario


class ConsentHost(Protocol):
    """What the routes need of the server."""

    def get_tenant(self, tenant_id: str) -> TenantScenario | None: ...
    def consents(self) -> list[Consent]: ...
    def reset_consents(self) -> None: ...
    def expire_authorization_codes(self) -> None: ...
    def users(self, tenant_id: str) -> list[UserScenario]: ...
    def grant_consent(self, tenant_id: str, client_id: str, roles: list[str]) -> list[str]: ...
    def revoke_consent(self, tenant_id: str, client_id: str) -> None: ...
    def granted_roles(self, tenant_id: str, client_id: str) -> list[str] | None: ...


def control_error(status: int, code: str, message: str, **headers: str) -> Reply:
    return Reply.json(status, {"error": code, "message": message}, **headers)


def handle(
    host: ConsentHost, method: str, parts: list[str], body: bytes
) -> tuple[Reply, str | None] | None:
    """The answer to one of these routes and the tenant it concerns; None for other routes."""
    if parts == ["consents"]:
        if method != "GET":
            return control_error(405, "method_not_allowed", "Use GET.", Allow="GET"), None
        return Reply.json(200, {"consents": [_consent_json(c) for c in host.consents()]}), None
    if parts in (["consents", "reset"], ["authorization-codes", "expire"]):
        if method != "POST":
            return control_error(405, "method_not_allowed", "Use POST.", Allow="POST"), None
        if parts[0] == "consents":
            host.reset_consents()
        else:
            host.expire_authorization_codes()
        return Reply(204, b"", {}), None
    if len(parts) < 3 or parts[0] != "tenants" or parts[2] not in ("users", "consents"):
        return None
    tenant = host.get_tenant(parts[1])
    if tenant is None:
        return control_error(404, "unknown_tenant", f"No simulated tenant {parts[1]!r}."), None
    if parts[2:] == ["users"]:
        if method != "GET":
            return control_error(405, "method_not_allowed", "Use GET.", Allow="GET"), None
        users = [dataclasses.asdict(user) for user in host.users(tenant.tenant_id)]
        return Reply.json(200, {"tenant_id": tenant.tenant_id, "users": users}), tenant.tenant_id
    if len(parts) == 4:
        return _consent(host, method, tenant, parts[3], body), tenant.tenant_id
    return control_error(404, "not_found", "No such simulator control route."), None


def _consent(
    host: ConsentHost, method: str, tenant: TenantScenario, client_id: str, body: bytes
) -> Reply:
    if method == "PUT":
        roles = _roles_request(body)
        if roles is None:
            return control_error(400, "refused", 'expected a JSON object {"roles": [<str>, …]}')
        host.grant_consent(tenant.tenant_id, client_id, roles)
    elif method == "DELETE":
        host.revoke_consent(tenant.tenant_id, client_id)
        return Reply(204, b"", {})
    elif method != "GET":
        allow = "GET, PUT, DELETE"
        return control_error(405, "method_not_allowed", f"Use {allow}.", Allow=allow)
    granted = host.granted_roles(tenant.tenant_id, client_id)
    if granted is None:
        message = f"The app {client_id!r} has no service principal in {tenant.tenant_id}."
        return control_error(404, "not_consented", message)
    return Reply.json(
        200, {"tenant_id": tenant.tenant_id, "client_id": client_id, "roles": granted}
    )


def _consent_json(consent: Consent) -> dict[str, Any]:
    return {
        "tenant_id": consent.tenant_id,
        "client_id": consent.client_id,
        "roles": list(consent.roles),
        "source": consent.source,
    }


def _roles_request(body: bytes) -> list[str] | None:
    try:
        payload = json.loads(body or b"null")
    except ValueError:
        return None
    if not isinstance(payload, dict) or set(payload) != {"roles"}:
        return None
    roles = payload["roles"]
    if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
        return None
    return roles
