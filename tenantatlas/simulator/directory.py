"""Which app a client id names, and whether (and with what roles) it exists in a tenant.

An app registration lives in its home tenant (``TenantScenario.apps``). In any other tenant a
multi-tenant app exists only as a service principal, created when an admin consents: declared
up front (``TenantScenario.consents``) or granted at run time through the admin consent page
or the control endpoint. Run-time grants live here, behind one lock, and ``reset()`` forgets
them; the scenarios are never changed. Like Microsoft's, they outlive a restart: with a
``path`` (the server's ``consents.json``) every change is written there and read back on start.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tenantatlas.simulator.scenarios import AppScenario, TenantScenario

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Registration:
    """An app registration and the tenant that holds it (its credentials, its reply URLs)."""

    home: TenantScenario
    app: AppScenario


@dataclass(frozen=True)
class Principal:
    """The app's service principal in one tenant: what a token for that tenant carries."""

    registration: Registration
    tenant_id: str
    roles: tuple[str, ...]
    disabled: bool
    blocked_by_policy: bool


@dataclass(frozen=True)
class Consent:
    """A tenant's consent to an app as it stands: ``source`` is "scenario" (declared, or the
    app's home tenant) or "runtime" (the consent page or the control endpoint)."""

    tenant_id: str
    client_id: str
    roles: tuple[str, ...]
    source: str


class Directory:
    """App registrations, service principals and consents across the simulated tenants."""

    def __init__(
        self, tenants: Callable[[], list[TenantScenario]], path: Path | None = None
    ) -> None:
        self._tenants = tenants
        self._lock = threading.RLock()
        self._path = path
        # (tenant id, client id), lower case → roles granted at run time; None: revoked.
        self._grants: dict[tuple[str, str], tuple[str, ...] | None] = self._read()

    # -- registrations -------------------------------------------------------------------
    def registration(
        self, client_id: str, tenant: TenantScenario | None = None
    ) -> Registration | None:
        """The registration a client id names: the multi-tenant app of that id wherever it lives,
        else the one in ``tenant`` (a single-tenant app there), else None."""
        wanted = client_id.lower()
        homes = [
            (t, app) for t in self._tenants() for app in t.apps if app.client_id.lower() == wanted
        ]
        shared = next(((t, app) for t, app in homes if app.multi_tenant), None)
        if shared is not None:
            return Registration(*shared)
        if tenant is not None:
            local = tenant.find_app(client_id)
            return Registration(tenant, local) if local is not None else None
        return Registration(*homes[0]) if len(homes) == 1 else None

    # -- service principals --------------------------------------------------------------
    def principal(self, tenant: TenantScenario, client_id: str) -> Principal | None:
        """The app's service principal in ``tenant``, or None (AADSTS700016 at the token endpoint)."""
        key = (tenant.tenant_id.lower(), client_id.lower())
        with self._lock:
            granted_now = key in self._grants
            runtime = self._grants.get(key)
        if granted_now and runtime is None:  # revoked: the service principal was deleted
            return None
        local = tenant.find_app(client_id)
        if local is not None:
            roles = runtime if runtime is not None else tuple(local.roles)
            return Principal(
                Registration(tenant, local),
                tenant.tenant_id,
                tuple(roles),
                local.disabled,
                local.blocked_by_policy,
            )
        registration = self.registration(client_id)
        if registration is None or not registration.app.multi_tenant:
            return None
        declared = tenant.find_consent(client_id)
        if declared is None and runtime is None:
            return None
        roles = runtime if runtime is not None else tuple(declared.roles if declared else ())
        disabled = declared.disabled if declared is not None else False
        return Principal(registration, tenant.tenant_id, tuple(roles), disabled, False)

    # -- consents ------------------------------------------------------------------------
    def grant(
        self, tenant_id: str, client_id: str, roles: list[str], *, replace: bool
    ) -> tuple[str, ...]:
        """Consent at run time: add ``roles`` to what the tenant granted the app (an admin's
        consent) or, with ``replace``, make them exactly what it granted. Returns the roles."""
        tenant = self._tenant(tenant_id)
        key = (tenant_id.lower(), client_id.lower())
        with self._lock:
            current = self.principal(tenant, client_id) if tenant is not None else None
            before = () if replace or current is None else current.roles
            granted = tuple(dict.fromkeys([*before, *roles]))
            self._grants[key] = granted
            self._write()
            return granted

    def revoke(self, tenant_id: str, client_id: str) -> None:
        """Delete the app's service principal in the tenant (as removing the enterprise app does)."""
        with self._lock:
            self._grants[(tenant_id.lower(), client_id.lower())] = None
            self._write()

    def consents(self) -> list[Consent]:
        """Every tenant's consent to every app, declared and run-time, as it stands now."""
        keys: dict[tuple[str, str], str] = {}
        for tenant in self._tenants():
            for app in tenant.apps:
                keys[(tenant.tenant_id.lower(), app.client_id.lower())] = "scenario"
            for consent in tenant.consents:
                keys[(tenant.tenant_id.lower(), consent.client_id.lower())] = "scenario"
        with self._lock:
            for key in self._grants:
                keys[key] = "runtime"
        found = []
        for (tenant_id, client_id), source in sorted(keys.items()):
            known = self._tenant(tenant_id)
            principal = self.principal(known, client_id) if known is not None else None
            if known is not None and principal is not None:
                found.append(
                    Consent(
                        known.tenant_id,
                        principal.registration.app.client_id,
                        principal.roles,
                        source,
                    )
                )
        return found

    def reset(self) -> None:
        """Forget every run-time consent: back to the scenarios'."""
        with self._lock:
            self._grants.clear()
            self._write()

    # -- persistence ---------------------------------------------------------------------
    def _read(self) -> dict[tuple[str, str], tuple[str, ...] | None]:
        if self._path is None or not self._path.exists():
            return {}
        try:
            rows = json.loads(self._path.read_text())
            return {
                (str(row["tenant_id"]), str(row["client_id"])): (
                    None if row["roles"] is None else tuple(str(r) for r in row["roles"])
                )
                for row in rows
            }
        except (ValueError, KeyError, TypeError):
            logger.warning("ignoring unreadable simulator consents in %s", self._path)
            return {}

    def _write(self) -> None:
        """Replace the file in one step (called with the lock held)."""
        if self._path is None:
            return
        rows = [
            {"tenant_id": t, "client_id": c, "roles": None if r is None else list(r)}
            for (t, c), r in sorted(self._grants.items())
        ]
        partial = self._path.with_suffix(".tmp")
        partial.write_text(json.dumps(rows, indent=1))
        os.replace(partial, self._path)

    def _tenant(self, tenant_id: str) -> TenantScenario | None:
        wanted = tenant_id.lower()
        return next((t for t in self._tenants() if t.tenant_id.lower() == wanted), None)
