"""The HTTPS server: one loopback port for the authority and for Graph.

``SimulatorServer`` owns the tenant registry, the fault counters and the request log, all
behind one lock so tests may add tenants while workers are mid-request. TLS handshakes run
in the per-connection threads (not in ``accept``), so one slow client cannot stall others.

Besides Microsoft's routes it serves its own control endpoint under ``/_simulator/`` (no
Microsoft service has it): ``POST /_simulator/tenants/{tenant_id}/generation`` moves a tenant to
another generation from another process, as ``set_generation`` does in-process, and
``/_simulator/consents`` and ``/_simulator/tenants/{tenant_id}/consents/{client_id}`` read and
set which apps a tenant consented to (``grant_consent`` and friends in-process).
"""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import functools
import http.server
import json
import logging
import re
import ssl
import threading
import urllib.parse
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from tenantatlas.simulator import audit, consent_control, teams
from tenantatlas.simulator.browser import BrowserFlows
from tenantatlas.simulator.ca import ensure_keys
from tenantatlas.simulator.codes import CODE_LIFETIME, AuthorizationCodes
from tenantatlas.simulator.consent_control import control_error
from tenantatlas.simulator.data import TenantData, validate
from tenantatlas.simulator.directory import Consent, Directory
from tenantatlas.simulator.errors import IdentityError, Reply
from tenantatlas.simulator.faults import FaultCounters
from tenantatlas.simulator.graph import GraphService
from tenantatlas.simulator.identity import Authority
from tenantatlas.simulator.limits import GraphLimits, Limiter, Usage
from tenantatlas.simulator.scenarios import (
    TenantScenario,
    UserScenario,
    load_limits,
    load_scenarios,
)

logger = logging.getLogger(__name__)

RequestKind = Literal["discovery", "token", "browser", "graph", "teams", "control", "other"]
REQUEST_LOG_LIMIT = 20_000
CONTROL_PREFIX = "_simulator"  # the simulator's own routes; Microsoft has nothing under it


class GenerationRefused(ValueError):
    """A move to another generation the simulator will not make (the control endpoint's 400)."""


@dataclass(frozen=True)
class RequestRecord:
    """One request as the simulator saw it (no bodies: they may hold secrets)."""

    kind: RequestKind
    method: str
    path: str
    query: dict[str, str]
    tenant_id: str | None
    client_id: str | None
    status: int
    at: dt.datetime


@functools.cache
def property_names(type_name: str) -> frozenset[str]:
    """Properties the simulator emits for a type (what ``$select`` may name)."""
    scenario = TenantScenario(
        tenant_id="00000000-0000-0000-0000-000000000001",
        display_name="Template",
        default_domain="template.onmicrosoft.com",
        device_count=1,
        compliance_policy_count=1,
        configuration_count=1,
        configuration_policy_count=1,
        app_count=1,
    )
    data = TenantData(scenario, dt.datetime.now(dt.UTC))
    samples: dict[str, dict[str, Any]] = {
        "organization": data.organization(),
        "managedDevice": data.device(0),
        "deviceCompliancePolicy": data.compliance_policies()[0],
        "deviceConfiguration": data.device_configurations()[0],
        "deviceManagementConfigurationPolicy": data.configuration_policies()[0],
        "mobileApp": data.mobile_apps()[0],
        "deviceCompliancePolicyDeviceStateSummary": data.compliance_summary(),
        "managedDeviceOverview": data.device_overview(),
    }
    if type_name == "auditEvent":
        samples[type_name] = audit.sample_event()
    return frozenset(key for key in samples[type_name] if not key.startswith("@"))


class _TLSServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 64
    simulator: SimulatorServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients that distrust our CA or hang up mid-request are routine in tests.
        logger.debug("simulator connection from %s failed", client_address, exc_info=True)


_SIGNATURE = re.compile(r"([?&])sig=[^&\s\"]*")


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes; with Nagle on, the body would wait for a
    # delayed ACK (about 40 ms per response).
    disable_nagle_algorithm = True
    server: _TLSServer

    def version_string(self) -> str:
        return "Microsoft-IIS/10.0"

    def log_message(self, format: str, *args: Any) -> None:
        # A Teams trigger URL's signature is its secret: never in a log line either.
        logger.debug("simulator %s", _SIGNATURE.sub(r"\1sig=[redacted]", format % args))

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_PUT(self) -> None:
        self._dispatch()

    def do_PATCH(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    def _dispatch(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        split = urllib.parse.urlsplit(self.path)
        query = dict(urllib.parse.parse_qsl(split.query, keep_blank_values=True))
        headers = {key.lower(): value for key, value in self.headers.items()}
        try:
            reply, kind, tenant_id, client_id = self.server.simulator.route(
                self.command, split.path, query, headers, body
            )
        except Exception:
            # A simulator bug must surface as a 500 the test sees, not a dropped connection.
            logger.exception("simulator failed on %s %s", self.command, split.path)
            reply = Reply.json(
                500, {"error": {"code": "simulatorError", "message": "Simulator bug"}}
            )
            kind, tenant_id, client_id = "other", None, None
        # Logged before replying: a client that has its answer can rely on the log.
        self.server.simulator.record(
            RequestRecord(
                kind=kind,
                method=self.command,
                path=split.path,
                query=query,
                tenant_id=tenant_id,
                client_id=client_id,
                status=reply.status,
                at=dt.datetime.now(dt.UTC),
            )
        )
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(reply.body)))
        for key, value in reply.headers.items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(reply.body)


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
        self._httpd: _TLSServer | None = None
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
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self._keys.server_cert, self._keys.server_key)
        httpd = _TLSServer((self._host, self._port), _Handler, bind_and_activate=True)
        httpd.socket = context.wrap_socket(
            httpd.socket, server_side=True, do_handshake_on_connect=False
        )
        httpd.simulator = self
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
        origin = origins[0]
        parts = [p for p in path.split("/") if p]
        if parts[:1] == [CONTROL_PREFIX]:
            reply, tenant_id = self._control(method, parts[1:], body)
            return reply, "control", tenant_id, None
        try:
            if parts[:1] in (["v1.0"], ["beta"]):
                limited = self.limiter.check(headers)  # Graph throttles before anything else
                if limited is not None:
                    return limited[0], "graph", limited[1], limited[2]
                reply, tenant_id, client_id = self.graph.handle(
                    method, origin, path, query, headers
                )
                return reply, "graph", tenant_id, client_id
            if parts == ["common", "discovery", "instance"]:
                return self.authority.instance_discovery(origin), "discovery", None, None
            if len(parts) == 4 and parts[1:] == ["v2.0", ".well-known", "openid-configuration"]:
                reply, tenant = self.authority.discovery(origin, parts[0])
                return reply, "discovery", tenant.tenant_id if tenant else None, None
            if len(parts) == 3 and parts[1:] == ["v2.0", "adminconsent"]:
                params = _browser_params(method, query, body)
                reply, tenant_id, client_id = self.browser.admin_consent(method, parts[0], params)
                return reply, "browser", tenant_id, client_id
            if len(parts) == 4 and parts[1:] == ["oauth2", "v2.0", "authorize"]:
                params = _browser_params(method, query, body)
                reply, tenant_id, client_id = self.browser.authorize(method, parts[0], params)
                return reply, "browser", tenant_id, client_id
            if len(parts) == 4 and parts[1:] == ["discovery", "v2.0", "keys"]:
                return self.authority.keys(origin, parts[0]), "discovery", None, None
            if len(parts) == 4 and parts[1:] == ["oauth2", "v2.0", "token"]:
                return self._token(method, origins, parts[0], headers, body)
            if teams.is_trigger_path(parts):
                return self.teams.handle(method, parts, query, headers, body), "teams", None, None
        except IdentityError as exc:
            kind: RequestKind = "token" if path.endswith("/token") else "discovery"
            return exc.reply(), kind, None, None
        reply = Reply.json(404, {"error": "not_found", "error_description": f"No route for {path}"})
        return reply, "other", None, None

    def _token(
        self, method: str, origins: list[str], segment: str, headers: dict[str, str], body: bytes
    ) -> tuple[Reply, RequestKind, str | None, str | None]:
        if method != "POST":
            error = IdentityError(
                400,
                "invalid_request",
                900561,
                "The endpoint only accepts POST, OPTIONS requests. Received a GET request.",
            )
            return error.reply(), "token", None, None
        form = dict(urllib.parse.parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        outcome = self.authority.token(origins, segment, form, headers.get("authorization", ""))
        return outcome.reply, "token", outcome.tenant_id, outcome.client_id

    # -- the simulator's own control endpoint (not Microsoft's) ----------------------------
    def _control(self, method: str, parts: list[str], body: bytes) -> tuple[Reply, str | None]:
        """The simulator's own routes (docs/simulator.md, "The control endpoint"):
        ``POST tenants/{tenant_id}/generation`` with ``{"generation": g, "entered_at": …}``
        here; consents, users and authorization codes in ``consent_control.py``."""
        answered = consent_control.handle(self, method, parts, body)
        if answered is not None:
            return answered
        if len(parts) != 3 or parts[0] != "tenants" or parts[2] != "generation":
            return control_error(404, "not_found", "No such simulator control route."), None
        tenant = self.get_tenant(parts[1])
        if tenant is None:
            return control_error(404, "unknown_tenant", f"No simulated tenant {parts[1]!r}."), None
        if method != "POST":
            return control_error(405, "method_not_allowed", "Use POST.", Allow="POST"), None
        try:
            generation, entered_at = _generation_request(body)
            moved = self.set_generation(
                tenant.tenant_id, generation, entered_at or dt.datetime.now(dt.UTC)
            )
        except GenerationRefused as exc:
            return control_error(400, "refused", str(exc)), tenant.tenant_id
        timeline = [moment.isoformat() for moment in self.timeline(tenant.tenant_id)]
        payload = {"tenant_id": moved.tenant_id, "generation": moved.generation}
        return Reply.json(200, {**payload, "timeline": timeline}), tenant.tenant_id


def _browser_params(method: str, query: dict[str, str], body: bytes) -> dict[str, str]:
    """The request's parameters: the query string, and for a POST the form fields on top."""
    params = dict(query)
    if method == "POST":
        form = urllib.parse.parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)
        params.update(form)
    return params


def _generation_request(body: bytes) -> tuple[int, dt.datetime | None]:
    """The generation and the moment (None: not given) a control request asks for."""
    try:
        payload = json.loads(body or b"null")
    except ValueError:
        payload = None
    if not isinstance(payload, dict) or set(payload) - {"generation", "entered_at"}:
        raise GenerationRefused(
            'expected a JSON object {"generation": <int>, "entered_at": "<ISO 8601>"}'
        )
    generation = payload.get("generation")
    if isinstance(generation, bool) or not isinstance(generation, int):
        raise GenerationRefused("generation must be a whole number")
    text = payload.get("entered_at")
    if text is None:
        return generation, None
    try:
        entered_at = dt.datetime.fromisoformat(text) if isinstance(text, str) else None
    except ValueError:
        entered_at = None
    if entered_at is None:
        raise GenerationRefused(f"entered_at {text!r} is not an ISO 8601 date and time")
    return generation, entered_at


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
