"""Per-Entra-tenant scenarios: who may sign in, what the tenant holds and which faults it injects.

Scenarios are plain dataclasses so tests can build them in code; the same shape is read
from a TOML file (see ``scenarios/demo.toml`` and ``docs/simulator.md``) for the demo and
the standalone server.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from tenantatlas.simulator.limits import GraphLimits, LimitsError, parse_limits
from tenantatlas.simulator.values import stable_guid

DEMO_SCENARIOS = Path(__file__).resolve().parent / "scenarios" / "demo.toml"


class ScenarioError(ValueError):
    """A scenario file or object cannot be used."""


@dataclass
class SecretSpec:
    """A client secret of an app registration; ``expires_at`` None means it never expires."""

    value: str
    expires_at: dt.datetime | None = None


@dataclass
class AppScenario:
    """An app registration (and its service principal) in the tenant and its granted app roles.

    A ``multi_tenant`` app (sign-in audience "accounts in any organizational directory") can be
    consented to in other tenants: its ``secrets`` and ``certificates`` stay here, in its home
    tenant, and a customer tenant holds only a service principal with the roles its admin
    granted (``TenantScenario.consents``, or the admin consent page at run time).
    ``required_roles`` are the application permissions ``/.default`` asks an admin for;
    ``redirect_uris`` the reply URLs the browser flows may send the answer to.
    """

    client_id: str
    secrets: list[SecretSpec] = field(default_factory=list)
    certificates: list[str] = field(default_factory=list)
    roles: list[str] = field(default_factory=list)
    display_name: str = "TenantAtlas"
    disabled: bool = False
    blocked_by_policy: bool = False
    multi_tenant: bool = False
    redirect_uris: list[str] = field(default_factory=list)
    required_roles: list[str] = field(default_factory=list)


@dataclass
class ConsentScenario:
    """A customer tenant's consent to another tenant's multi-tenant app: its service principal
    here and the application permissions granted to it (possibly fewer than it requires)."""

    client_id: str
    roles: list[str] = field(default_factory=list)
    disabled: bool = False


@dataclass
class UserScenario:
    """A person who can sign in to the tenant (the browser flows' account picker)."""

    user_principal_name: str
    display_name: str
    object_id: str = ""
    email: str | None = None
    is_admin: bool = False


@dataclass
class ThrottleFault:
    """The first ``count`` matching Graph requests get ``status`` with ``retry_after``.

    ``retry_after`` is ``"2"`` (seconds), ``"2.128"`` (fractional seconds),
    ``"http-date:<seconds>"`` (an HTTP date that many seconds ahead) or None (no header).
    ``paths`` are path prefixes such as ``/v1.0/deviceManagement/managedDevices``; empty
    means every Graph path.
    """

    count: int = 0
    status: int = 429
    retry_after: str | None = "1"
    paths: list[str] = field(default_factory=list)


@dataclass
class ServerErrorFault:
    """The first ``count`` matching Graph requests fail with a 5xx ``status``."""

    count: int = 0
    status: int = 503
    retry_after: str | None = None
    paths: list[str] = field(default_factory=list)


@dataclass
class Faults:
    """Faults injected into the tenant's Graph traffic."""

    throttle: ThrottleFault = field(default_factory=ThrottleFault)
    server_errors: ServerErrorFault = field(default_factory=ServerErrorFault)
    slow_seconds: float = 0.0
    slow_paths: list[str] = field(default_factory=list)
    malformed_json_paths: list[str] = field(default_factory=list)
    # 0: every matching answer is cut off; N: only the first N, then good ones (a transient fault).
    malformed_json_count: int = 0


#: Where a mutation applies: the Graph collection's last path segment.
COLLECTIONS = (
    "deviceCompliancePolicies",
    "deviceConfigurations",
    "configurationPolicies",
    "mobileApps",
    "managedDevices",
)
MUTATION_KINDS = ("set", "add", "remove", "rename", "reorder", "churn")
#: What happens at every generation besides the declared mutations (see ``data.py``).
DRIFTS = ("renames", "none", "churn")


@dataclass
class Mutation:
    """One declared change, in effect from generation ``epoch`` on (see ``mutations.py``).

    ``kind``: ``set`` (``path`` gets ``value``), ``add`` (a new item, named ``name``),
    ``remove``, ``rename`` (to ``name``), ``reorder`` (the array at ``path`` changes order) or
    ``churn`` (the volatile fields of device ``index``, or of every device when ``index`` is
    None). ``index`` is the item's position in the generated list; added items follow the
    generated ones (the first ``add`` of a collection gets ``count``, the next ``count + 1``).
    ``audit``: the change emits an Intune audit event by ``actor`` (a UPN).
    """

    epoch: int
    kind: str
    collection: str = "managedDevices"
    index: int | None = None
    path: str = ""
    value: Any = None
    name: str = ""
    audit: bool = False
    actor: str = ""


@dataclass
class TenantScenario:
    """One simulated Entra tenant.

    Data is generated from ``(tenant_id, seed, index)``; ``generation`` is the tenant's epoch.
    ``drift`` says what every generation changes by itself: ``renames`` (renamed items and
    removed devices, see ``data.py``), ``none``, or ``churn`` (only volatile device fields and
    the order of set-like arrays). ``mutations`` are the declared changes by epoch.
    ``organization_id`` overrides the id ``/organization`` reports (a tenant mismatch);
    ``token_tenant_id`` makes the tokens issued here name another tenant in ``tid`` (and ``iss``),
    as when the authority answered for a different tenant: Graph then serves that tenant.
    """

    tenant_id: str
    display_name: str
    default_domain: str
    intune_licensed: bool = True
    organization_id: str | None = None
    token_tenant_id: str | None = None
    device_count: int = 50
    compliance_policy_count: int = 6
    configuration_count: int = 8
    configuration_policy_count: int = 5
    app_count: int = 12
    seed: int = 0
    generation: int = 0
    drift: str = "renames"
    mutations: list[Mutation] = field(default_factory=list)
    apps: list[AppScenario] = field(default_factory=list)
    faults: Faults = field(default_factory=Faults)
    consents: list[ConsentScenario] = field(default_factory=list)
    users: list[UserScenario] = field(default_factory=list)

    def find_app(self, client_id: str) -> AppScenario | None:
        """The app registration with this client id (case-insensitive), if any."""
        wanted = client_id.lower()
        return next((app for app in self.apps if app.client_id.lower() == wanted), None)

    def find_consent(self, client_id: str) -> ConsentScenario | None:
        """The declared consent to another tenant's app with this client id, if any."""
        wanted = client_id.lower()
        return next((c for c in self.consents if c.client_id.lower() == wanted), None)

    def directory_users(self) -> list[UserScenario]:
        """The tenant's users, object ids filled in; without declared users, two stable ones:
        an administrator and a member (``admin@`` and ``user@`` the default domain)."""
        declared = self.users or [
            UserScenario(
                f"admin@{self.default_domain}",
                f"{self.display_name} Administrator",
                email=f"admin@{self.default_domain}",
                is_admin=True,
            ),
            UserScenario(
                f"user@{self.default_domain}",
                f"{self.display_name} User",
                email=f"user@{self.default_domain}",
            ),
        ]
        return [
            dataclasses.replace(
                user,
                object_id=user.object_id
                or stable_guid("user", self.tenant_id.lower(), user.user_principal_name.lower()),
            )
            for user in declared
        ]


def _build[T](cls: type[T], raw: dict[str, Any], where: str) -> T:
    known = {f.name for f in fields(cls)}  # type: ignore[arg-type]
    unknown = set(raw) - known
    if unknown:
        raise ScenarioError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
    try:
        return cls(**raw)
    except TypeError as exc:
        raise ScenarioError(f"{where}: {exc}") from exc


def _as_datetime(value: Any, where: str) -> dt.datetime | None:
    if value is None or isinstance(value, dt.datetime):
        moment = value
    elif isinstance(value, dt.date):
        moment = dt.datetime.combine(value, dt.time(), tzinfo=dt.UTC)
    elif isinstance(value, str):
        moment = dt.datetime.fromisoformat(value)
    else:
        raise ScenarioError(f"{where}: expires_at must be a date-time")
    if moment is not None and moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment


def _parse_app(raw: dict[str, Any], base_dir: Path, where: str) -> AppScenario:
    raw = dict(raw)
    secrets = []
    for i, secret in enumerate(raw.pop("secrets", [])):
        spec = dict(secret) if isinstance(secret, dict) else {"value": secret}
        spec["expires_at"] = _as_datetime(spec.get("expires_at"), f"{where}.secrets[{i}]")
        secrets.append(_build(SecretSpec, spec, f"{where}.secrets[{i}]"))
    certificates = list(raw.pop("certificates", []))
    for name in raw.pop("certificate_files", []):
        certificates.append((base_dir / name).read_text())
    return _build(AppScenario, {**raw, "secrets": secrets, "certificates": certificates}, where)


def _parse_faults(raw: dict[str, Any], where: str) -> Faults:
    raw = dict(raw)
    throttle = _build(ThrottleFault, raw.pop("throttle", {}), f"{where}.throttle")
    errors = _build(ServerErrorFault, raw.pop("server_errors", {}), f"{where}.server_errors")
    return _build(Faults, {**raw, "throttle": throttle, "server_errors": errors}, where)


def parse_tenant(
    raw: dict[str, Any], base_dir: Path = Path(), where: str = "tenant"
) -> TenantScenario:
    """Build a TenantScenario from a TOML table."""
    raw = dict(raw)
    apps = [
        _parse_app(app, base_dir, f"{where}.apps[{i}]") for i, app in enumerate(raw.pop("apps", []))
    ]
    faults = _parse_faults(raw.pop("faults", {}), f"{where}.faults")
    mutations = [
        _build(Mutation, dict(m), f"{where}.mutations[{i}]")
        for i, m in enumerate(raw.pop("mutations", []))
    ]
    consents = [
        _build(ConsentScenario, dict(c), f"{where}.consents[{i}]")
        for i, c in enumerate(raw.pop("consents", []))
    ]
    users = [
        _build(UserScenario, dict(u), f"{where}.users[{i}]")
        for i, u in enumerate(raw.pop("users", []))
    ]
    built = {
        **raw,
        "apps": apps,
        "faults": faults,
        "mutations": mutations,
        "consents": consents,
        "users": users,
    }
    return _build(TenantScenario, built, where)


def load_scenarios(path: Path | str) -> list[TenantScenario]:
    """Read every ``[[tenants]]`` table of a scenario TOML file."""
    path = Path(path)
    with path.open("rb") as handle:
        document = tomllib.load(handle)
    tenants = [
        parse_tenant(raw, path.parent, f"{path.name}: tenants[{i}]")
        for i, raw in enumerate(document.get("tenants", []))
    ]
    ids = [t.tenant_id.lower() for t in tenants]
    if len(ids) != len(set(ids)):
        raise ScenarioError(f"{path.name}: duplicate tenant_id")
    return tenants


def load_limits(path: Path | str) -> GraphLimits | None:
    """The file's ``[limits]`` table (Graph's throttling limits to enforce), if it has one."""
    path = Path(path)
    with path.open("rb") as handle:
        raw = tomllib.load(handle).get("limits")
    if raw is None:
        return None
    try:
        return parse_limits(raw, f"{path.name}: limits")
    except LimitsError as exc:
        raise ScenarioError(str(exc)) from exc
