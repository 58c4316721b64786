"""The simulator server: one loopback HTTPS port for the authority and for Graph.

``SimulatorServer`` owns the tenant registry, the fault counters and the request log, all
behind one lock so tests may add tenants while workers are mid-request. ``transport.py``
serves HTTPS and hands each request to ``route``: Microsoft's paths go to ``routes.py``, the
simulator's own control endpoint under ``/_simulator/`` (no Microsoft service has it) to
``control.py``. ``POST /_simulator/tenants/{tenant_id}/generation`` moves a tenant to another
generation from another process, as ``set_generation`` does in-process, and
``/_simulator/consents`` and ``/_simulator/tenants/{tenant_id}/consents/{client_id}`` read and
set which apps a tenant consented to (``grant_consent`` and friends in-process).
"""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import json
import threading
from collections import deque
from pathlib import Path
from typing import Any

from tenantatlas.simulator import audit, control, routes, teams
from tenantatlas.simulator.browser import BrowserFlows
from tenantatlas.simulator.ca import ensure_keys
from tenantatlas.simulator.codes import CODE_LIFETIME, AuthorizationCodes
from tenantatlas.simulator.control import CONTROL_PREFIX, GenerationRefused
from tenantatlas.simulator.data import TenantData, validate
from tenantatlas.simulator.directory import Consent, Directory
from tenantatlas.simulator.errors import Reply
from tenantatlas.simulator.faults import FaultCounters
from tenantatlas.simulator.graph import GraphService, property_names
from tenantatlas.simulator.identity import Authority
from tenantatlas.simulator.limits import GraphLimits, Limiter, Usage
from tenantatlas.simulator.scenarios import (
    TenantScenario,
    UserScenario,
    load_limits,
    load_scenarios,
)
from tenantatlas.simulator.transport import RequestKind, RequestRecord, TLSServer, listen

REQUEST_LOG_LIMIT = 20_000


class SimulatorServer:
    """The Microsoft identity platform + Graph stand-in, on ``https://127.0.0.1:PORT``."""

    def __init__(
        self,
        state_dir: Path | str,
        scenarios: Path | str | list[TenantScenario] | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        limits: GraphLimits | None = None,
    ) -> None:
        self.state_dir = Path(state_dir)
        self._scenario_source = scenarios
        self._host = host
        self._port = port
        self._lock = threading.RLock()
        self._tenants: dict[str, TenantScenario] = {}
        # When each tenant entered each epoch (index = generation), for mutation times.
        self._timelines: dict[str, list[dt.datetime]] = {}
        self._log: deque[RequestRecord] = deque(maxlen=REQUEST_LOG_LIMIT)
        self._faults = FaultCounters()
        self._keys = ensure_keys(self.state_dir)
        # Data "now": fixed per server so device sync ages (and "stale") are stable.
        self.anchor = dt.datetime.now(dt.UTC).replace(second=0, microsecond=0)
        # Consents and authorization codes: run-time state of the identity platform.
        self.directory = Directory(lambda: self.tenants, self.state_dir / "consents.json")
        self.codes = AuthorizationCodes()
        self.authority = Authority(
            self._resolve,
            self._keys.signing_key,
            self._keys.signing_cert,
            self.directory,
            self.codes,
        )
        self.browser = BrowserFlows(
            lambda segment: self.authority.tenant_for(segment, at_discovery=False),
            lambda: self.tenants,
            self.directory,
            self.codes,
        )
        self.graph = GraphService(
            self.authority, self._resolve, self._faults, self.anchor, property_names,
            self.timeline,
        )  # fmt: skip
        self._httpd: TLSServer | None = None
        self._thread: threading.Thread | None = None
        # Teams Workflows webhooks (teams.py); trigger URLs carry this server's address.
        self.teams = teams.TeamsWorkflows(lambda: self.base_url)
        # Graph's throttling limits (limits.py): off unless given here or in the scenario file.
        self._limits = limits
        self.limiter = Limiter(self.authority.verify_access_token)
        self._load_scenarios()

    # -- lifecycle ---------------------------------------------------------------------
    def start(self) -> SimulatorServer:
        """Bind and serve in a background thread; returns self for chaining."""
        httpd = listen(self._host, self._port, self._keys.server_cert, self._keys.server_key, self)
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.1}, name="simulator", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._httpd = None
        self._thread = None

    def __enter__(self) -> SimulatorServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("the simulator is not running")
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        """Both the authority host and the Graph base URL, e.g. ``https://127.0.0.1:8443``."""
        host = self._host if ":" not in self._host else f"[{self._host}]"
        return f"https://{host}:{self.port}"

    @property
    def ca_bundle(self) -> Path:
        """The CA certificate (PEM) clients must trust."""
        return self._keys.ca_bundle

    # -- tenants -----------------------------------------------------------------------
    def _load_scenarios(self) -> None:
        source = self._scenario_source
        if source is None:
            scenarios: list[TenantScenario] = []
        elif isinstance(source, list):
            scenarios = source
        else:
            scenarios = load_scenarios(source)
        file_limits = load_limits(source) if isinstance(source, str | Path) else None
        self.limiter.reset(self._limits or file_limits)
        with self._lock:
            for tenant_id in list(self._tenants):
                self._faults.forget(tenant_id)
            self._tenants = {}
            self._timelines = {}
            for scenario in scenarios:
                self.add_tenant(scenario)

    def add_tenant(self, scenario: TenantScenario) -> TenantScenario:
        """Register (or replace) a tenant; its fault counters start from the scenario.

        Records now as the time it entered every epoch up to its generation it had not reached.
        """
        validate(scenario)
        scenario = copy.deepcopy(scenario)
        with self._lock:
            self._tenants[scenario.tenant_id.lower()] = scenario
            self._faults.arm(scenario.tenant_id, scenario.faults)
            self._enter(scenario.tenant_id, scenario.generation)
        return scenario

    def _enter(
        self, tenant_id: str, generation: int, entered_at: dt.datetime | None = None
    ) -> None:
        timeline = self._timelines.setdefault(tenant_id.lower(), [])
        if entered_at is None:
            del timeline[generation + 1 :]
            entered_at = dt.datetime.now(dt.UTC)
        else:
            del timeline[generation:]  # it (re-)enters this epoch then
        timeline.extend([entered_at] * (generation + 1 - len(timeline)))

    def set_generation(
        self, tenant_id: str, generation: int, entered_at: dt.datetime | None = None
    ) -> TenantScenario:
        """Move a tenant to ``generation`` (its epoch); faults keep their counts.

        Without ``entered_at`` it enters the epochs it had not reached now. With it, the tenant
        enters ``generation`` (again, if it was there) and every epoch it skips at that moment;
        the epochs below keep their times. Raises ``GenerationRefused`` for a negative
        generation or a moment in the future or before the epoch below it was entered.
        """
        if generation < 0:
            raise GenerationRefused(f"generation must be 0 or more, not {generation}")
        with self._lock:
            current = self._tenants[tenant_id.lower()]
            if entered_at is not None:
                self._check_entry(tenant_id, generation, entered_at)
            self._tenants[tenant_id.lower()] = dataclasses.replace(current, generation=generation)
            self._enter(tenant_id, generation, entered_at)
            return copy.deepcopy(self._tenants[tenant_id.lower()])

    def _check_entry(self, tenant_id: str, generation: int, entered_at: dt.datetime) -> None:
        if entered_at.tzinfo is None:
            raise GenerationRefused("entered_at needs a UTC offset (e.g. 2026-01-31T09:00:00Z)")
        now = dt.datetime.now(dt.UTC)
        if entered_at > now:
            raise GenerationRefused(
                f"entered_at {entered_at.isoformat()} is in the future (now {now.isoformat()})"
            )
        kept = self.timeline(tenant_id)[:generation]
        if kept and entered_at < kept[-1]:
            raise GenerationRefused(
                f"entered_at {entered_at.isoformat()} is earlier than generation "
                f"{len(kept) - 1}, which the tenant entered at {kept[-1].isoformat()}"
            )

    def timeline(self, tenant_id: str) -> list[dt.datetime]:
        """When the tenant entered each epoch so far (index = generation)."""
        with self._lock:
            return list(self._timelines.get(tenant_id.lower(), []))

    def _data(self, tenant_id: str) -> TenantData:
        with self._lock:
            scenario = self._tenants[tenant_id.lower()]
            return TenantData(scenario, self.anchor, self.timeline(tenant_id))

    def mutations(self, tenant_id: str) -> list[audit.AppliedMutation]:
        """The declared mutations in effect at the tenant's generation, with their item ids,
        times and audit event ids (None when the mutation emits none)."""
        return audit.applied(self._data(tenant_id))

    def audit_events(self, tenant_id: str) -> list[dict[str, Any]]:
        """What ``/v1.0/deviceManagement/auditEvents`` serves for the tenant now, oldest first."""
        return audit.events(self._data(tenant_id))

    def get_tenant(self, tenant_id: str) -> TenantScenario | None:
        with self._lock:
            return self._tenants.get(tenant_id.lower())

    def remove_tenant(self, tenant_id: str) -> None:
        with self._lock:
            self._tenants.pop(tenant_id.lower(), None)
            self._timelines.pop(tenant_id.lower(), None)
            self._faults.forget(tenant_id)

    @property
    def tenants(self) -> list[TenantScenario]:
        with self._lock:
            return list(self._tenants.values())

    def remaining_faults(self, tenant_id: str) -> tuple[int, int]:
        """(throttle, server error) failures the tenant still has in store."""
        return self._faults.remaining(tenant_id)

    def remaining_malformed(self, tenant_id: str) -> int:
        """Cut-off answers still to come (``malformed_json_count``; 0 when unlimited or spent)."""
        return self._faults.remaining_malformed(tenant_id)

    def set_limits(self, limits: GraphLimits | None) -> None:
        """Enforce Graph's throttling limits from now on (None: off); ``reset()`` restores the
        server's own (the constructor's or the scenario file's)."""
        self.limiter.configure(limits)

    def usage(self, client_id: str, tenant_id: str) -> Usage:
        """Graph requests an (app, tenant) pair sent since the last reset, and its 429s."""
        return self.limiter.usage(client_id, tenant_id)

    def _resolve(self, segment: str) -> TenantScenario | None:
        key = segment.lower()
        with self._lock:
            tenant = self._tenants.get(key)
            if tenant is None:
                tenant = next(
                    (t for t in self._tenants.values() if t.default_domain.lower() == key), None
                )
            return tenant

    # -- request log -------------------------------------------------------------------
    def record(self, entry: RequestRecord) -> None:
        if entry.kind == "teams":  # a trigger URL's signature is its secret
            entry = dataclasses.replace(entry, query=teams.redacted(entry.query))
        if entry.kind == "graph":
            self.limiter.count(entry.client_id, entry.tenant_id, entry.status)
        with self._lock:
            self._log.append(entry)

    @property
    def requests(self) -> list[RequestRecord]:
        """Requests served so far (the most recent 20,000), oldest first."""
        with self._lock:
            return list(self._log)

    def clear_requests(self) -> None:
        with self._lock:
            self._log.clear()

    def reset(self) -> None:
        """Back to the scenario file: drop runtime tenants, consents, authorization codes and
        Teams workflows, re-arm faults, clear the log."""
        self._load_scenarios()
        self.directory.reset()
        self.codes.reset()
        self.codes.lifetime = CODE_LIFETIME
        self.teams.reset()
        self.clear_requests()

    # -- consents and sign-in ------------------------------------------------------------
    def grant_consent(self, tenant_id: str, client_id: str, roles: list[str]) -> list[str]:
        """The tenant consented to the app with exactly ``roles`` (its service principal exists
        from now on, holding them), as if its admin had; returns them."""
        self._known(tenant_id)
        return list(self.directory.grant(tenant_id, client_id, roles, replace=True))

    def revoke_consent(self, tenant_id: str, client_id: str) -> None:
        """The app's service principal is deleted from the tenant (AADSTS700016 from now on)."""
        self._known(tenant_id)
        self.directory.revoke(tenant_id, client_id)

    def granted_roles(self, tenant_id: str, client_id: str) -> list[str] | None:
        """The application permissions the tenant granted the app; None when the app has no
        service principal there (never consented, or revoked)."""
        principal = self.directory.principal(self._known(tenant_id), client_id)
        return None if principal is None else list(principal.roles)

    def consents(self) -> list[Consent]:
        """Every tenant's consent to every app as it stands (declared and run-time)."""
        return self.directory.consents()

    def reset_consents(self) -> None:
        """Forget run-time consents (the consent page's, ``grant_consent``'s, revocations)."""
        self.directory.reset()

    def users(self, tenant_id: str) -> list[UserScenario]:
        """Who can sign in to the tenant (declared, or its two generated users)."""
        return self._known(tenant_id).directory_users()

    def expire_authorization_codes(self) -> None:
        """Every code issued so far is now too old to redeem (AADSTS70008)."""
        self.codes.expire_all()

    def _known(self, tenant_id: str) -> TenantScenario:
        tenant = self.get_tenant(tenant_id)
        if tenant is None:
            raise KeyError(f"no simulated tenant {tenant_id!r}")
        return tenant

    # -- routing -----------------------------------------------------------------------
    def _origins(self, headers: dict[str, str]) -> list[str]:
        """Origins a client may have used to reach us (for discovery URLs and ``aud``)."""
        port = self.port
        origins = [self.base_url, f"https://localhost:{port}", f"https://127.0.0.1:{port}"]
        host = headers.get("host", "")
        if host in (f"localhost:{port}", f"127.0.0.1:{port}"):
            origins.insert(0, f"https://{host}")
        return origins

    def route(
        self, method: str, path: str, query: dict[str, str], headers: dict[str, str], body: bytes
    ) -> tuple[Reply, RequestKind, str | None, str | None]:
        """Dispatch one request; returns the reply and what the request log needs."""
        origins = self._origins(headers)
        parts = [p for p in path.split("/") if p]
        if parts[:1] == [CONTROL_PREFIX]:
            reply, tenant_id = control.handle(self, method, parts[1:], body)
            return reply, "control", tenant_id, None
        return routes.route(self, method, path, query, headers, body, origins)


def serve_forever(
    host: str = "127.0.0.1",
    port: int = 8443,
    state_dir: Path | str = "var/simulator",
    scenarios_path: Path | str | None = None,
    *,
    stop: threading.Event | None = None,
) -> None:
    """Run the simulator until interrupted (or ``stop`` is set); the ``simulator`` command.

    Prints the base URL and the CA bundle path first, so scripts can read them.
    """
    from tenantatlas.simulator.scenarios import DEMO_SCENARIOS

    server = SimulatorServer(state_dir, scenarios_path or DEMO_SCENARIOS, host=host, port=port)
    server.start()
    print(f"Simulator listening on {server.base_url}", flush=True)
    print(f"CA bundle: {server.ca_bundle}", flush=True)
    print(f"Tenants: {json.dumps([t.tenant_id for t in server.tenants])}", flush=True)
    try:
        (stop or threading.Event()).wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


__all__ = ["GenerationRefused", "RequestRecord", "SimulatorServer", "serve_forever"]
