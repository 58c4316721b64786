"""The Microsoft Graph half: the registry's endpoints with Graph's paging, $select and errors.

Order of checks mirrors Graph: bearer token (401) → throttling/5xx faults → Intune license →
application permission (403) → the resource itself. Tenant content comes from ``data.py``;
paging state travels in an opaque ``$skiptoken`` holding only an offset.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import functools
import itertools
import json
import time
import urllib.parse
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from tenantatlas.simulator import audit, errors
from tenantatlas.simulator.data import TenantData
from tenantatlas.simulator.errors import Reply, TokenRejected
from tenantatlas.simulator.faults import (
    FaultCounters,
    Injected,
    path_matches,
    retry_after_header,
)
from tenantatlas.simulator.identity import Authority
from tenantatlas.simulator.scenarios import TenantScenario

GRAPH_CONTEXT = "https://graph.microsoft.com"
WWW_AUTHENTICATE = (
    'Bearer realm="", '
    'authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize", '
    'client_id="00000003-0000-0000-c000-000000000000"'
)
_SERVER_ERROR_CODES = {
    500: "generalException",
    502: "badGateway",
    503: "serviceNotAvailable",
    504: "gatewayTimeout",
}
_UNSUPPORTED_OPTIONS = ("$filter", "$orderby", "$expand", "$search", "$skip", "$apply")

_ItemsFn = Callable[[TenantData, int, int, list[str] | None], Iterator[dict[str, Any]]]


def _rw(*names: str) -> tuple[str, ...]:
    """A read permission and its ReadWrite sibling, both of which grant the read."""
    pairs = ((name, name.replace(".Read.", ".ReadWrite.")) for name in names)
    return tuple(itertools.chain.from_iterable(pairs))


#: The least-privileged application permissions that read everything served here: what a fully
#: consented app registration holds in the tests and benchmarks.
READ_ALL_ROLES = (
    "Organization.Read.All",
    "DeviceManagementManagedDevices.Read.All",
    "DeviceManagementConfiguration.Read.All",
    "DeviceManagementApps.Read.All",
    "DeviceManagementServiceConfig.Read.All",
)
ORGANIZATION_READ = _rw("Organization.Read.All", "Directory.Read.All")
DEVICES_READ = _rw("DeviceManagementManagedDevices.Read.All")
CONFIGURATION_READ = _rw("DeviceManagementConfiguration.Read.All")
APPS_READ = _rw("DeviceManagementApps.Read.All")
OVERVIEW_READ = _rw(
    "DeviceManagementServiceConfig.Read.All",
    "DeviceManagementConfiguration.Read.All",
    "DeviceManagementManagedDevices.Read.All",
)


@dataclass(frozen=True)
class Endpoint:
    """One served Graph resource."""

    version: str
    path: str
    type_name: str
    permissions: tuple[str, ...]
    intune: bool = True
    singleton: bool = False
    max_page: int = 1000
    count: Callable[[TenantData], int] | None = None
    items: _ItemsFn | None = None
    entity: Callable[[TenantData], dict[str, Any]] | None = None
    # A collection that answers $filter and $orderby: all items, then ``audit.query``.
    queried: Callable[[TenantData], list[dict[str, Any]]] | None = None

    @property
    def context_path(self) -> str:
        return self.path.strip("/")


def _listed(fn: Callable[[TenantData], list[dict[str, Any]]]) -> _ItemsFn:
    def items(
        data: TenantData, offset: int, limit: int, _: list[str] | None
    ) -> Iterator[dict[str, Any]]:
        return iter(fn(data)[offset : offset + limit])

    return items


ENDPOINTS = {
    (e.version, e.path.lower()): e
    for e in (
        Endpoint(
            "v1.0", "/organization", "organization", ORGANIZATION_READ, intune=False,
            count=lambda d: 1, items=_listed(lambda d: [d.organization()]),
        ),
        Endpoint(
            "v1.0", "/deviceManagement/managedDevices", "managedDevice", DEVICES_READ,
            count=lambda d: d.device_total, items=lambda d, o, n, s: d.devices(o, n, s),
        ),
        Endpoint(
            "v1.0", "/deviceManagement/deviceCompliancePolicies", "deviceCompliancePolicy",
            CONFIGURATION_READ,
            count=lambda d: len(d.compliance_policies()),
            items=_listed(TenantData.compliance_policies),
        ),
        Endpoint(
            "v1.0", "/deviceManagement/deviceConfigurations", "deviceConfiguration",
            CONFIGURATION_READ,
            count=lambda d: len(d.device_configurations()),
            items=_listed(TenantData.device_configurations),
        ),
        Endpoint(
            "beta", "/deviceManagement/configurationPolicies",
            "deviceManagementConfigurationPolicy", CONFIGURATION_READ,
            count=lambda d: len(d.configuration_policies()),
            items=_listed(TenantData.configuration_policies),
        ),
        Endpoint(
            "v1.0", "/deviceAppManagement/mobileApps", "mobileApp", APPS_READ,
            count=lambda d: len(d.mobile_apps()), items=_listed(TenantData.mobile_apps),
        ),
        Endpoint(
            "v1.0", "/deviceManagement/auditEvents", "auditEvent", APPS_READ,
            queried=audit.events,
        ),
        Endpoint(
            "v1.0", "/deviceManagement/deviceCompliancePolicyDeviceStateSummary",
            "deviceCompliancePolicyDeviceStateSummary", CONFIGURATION_READ,
            singleton=True, entity=TenantData.compliance_summary,
        ),
        Endpoint(
            "v1.0", "/deviceManagement/managedDeviceOverview", "managedDeviceOverview",
            OVERVIEW_READ, singleton=True, entity=TenantData.device_overview,
        ),
    )
}  # fmt: skip


class BadQuery(Exception):
    """A query option Graph would refuse with 400 BadRequest."""


def encode_skiptoken(offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"o": offset}).encode()).decode().rstrip("=")


def decode_skiptoken(token: str) -> int:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        offset = json.loads(raw)["o"]
    except (binascii.Error, ValueError, KeyError, TypeError) as exc:
        raise BadQuery("The provided skip token is invalid or has expired.") from exc
    if not isinstance(offset, int) or offset < 0:
        raise BadQuery("The provided skip token is invalid or has expired.")
    return offset


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


class GraphService:
    """Answers Graph requests for the tenants ``resolve`` knows."""

    def __init__(
        self,
        authority: Authority,
        resolve: Callable[[str], TenantScenario | None],
        faults: FaultCounters,
        anchor: dt.datetime,
        property_names: Callable[[str], frozenset[str]],
        timeline: Callable[[str], list[dt.datetime]] | None = None,
    ) -> None:
        self._authority = authority
        self._resolve = resolve
        self._faults = faults
        self._anchor = anchor
        self._property_names = property_names
        self._timeline = timeline or (lambda tenant_id: [])

    def handle(
        self, method: str, origin: str, path: str, query: dict[str, str], headers: dict[str, str]
    ) -> tuple[Reply, str | None, str | None]:
        """Answer one request; returns the reply plus the tenant and client it was made for."""
        client_request_id = headers.get("client-request-id")

        def fail(status: int, code: str, message: str, **kw: Any) -> Reply:
            return errors.graph_error(
                status, code, message, client_request_id=client_request_id, **kw
            )

        unauthenticated = {"WWW-Authenticate": WWW_AUTHENTICATE}
        auth = headers.get("authorization", "")
        token = auth[7:].strip() if auth[:7].lower() == "bearer " else ""
        try:
            claims = self._authority.verify_access_token(token)
        except TokenRejected as exc:
            reply = fail(401, "InvalidAuthenticationToken", str(exc), headers=unauthenticated)
            return reply, None, None
        tenant = self._resolve(str(claims["tid"]))
        client_id = str(claims.get("appid", ""))
        if tenant is None:
            message = "Access token validation failure."
            reply = fail(401, "InvalidAuthenticationToken", message, headers=unauthenticated)
            return reply, str(claims["tid"]), client_id
        reply = self._handle_for_tenant(tenant, claims, method, origin, path, query, fail)
        reply.headers.setdefault("request-id", str(uuid.uuid4()))
        reply.headers.setdefault(
            "client-request-id", client_request_id or reply.headers["request-id"]
        )
        return reply, tenant.tenant_id, client_id

    def _handle_for_tenant(
        self,
        tenant: TenantScenario,
        claims: dict[str, Any],
        method: str,
        origin: str,
        path: str,
        query: dict[str, str],
        fail: Callable[..., Reply],
    ) -> Reply:
        faults = tenant.faults
        if faults.slow_seconds and path_matches(path, faults.slow_paths):
            time.sleep(faults.slow_seconds)
        injected = self._faults.take(tenant.tenant_id, faults, path)
        if injected is not None:
            return _fault_reply(injected, fail)
        version, _, rest = path.lstrip("/").partition("/")
        endpoint = ENDPOINTS.get((version, "/" + rest.rstrip("/").lower()))
        if endpoint is None:
            segment = rest.rstrip("/").rsplit("/", 1)[-1] or version
            return fail(400, "BadRequest", f"Resource not found for the segment '{segment}'.")
        if method != "GET":
            message = f"The HTTP method '{method}' is not supported for this resource."
            return fail(405, "BadRequest", message)
        refusal = _refusal(endpoint, tenant, set(claims.get("roles") or []), fail)
        if refusal is not None:
            return refusal
        data = TenantData(tenant, self._anchor, self._timeline(tenant.tenant_id))
        try:
            reply = self._serve(endpoint, data, origin, path, query)
        except (BadQuery, audit.FilterError) as exc:
            return fail(400, "BadRequest", str(exc))
        if self._faults.take_malformed(tenant.tenant_id, faults, path):
            reply.body = reply.body[: max(1, len(reply.body) // 2)]
        return reply

    def _select(self, endpoint: Endpoint, query: dict[str, str]) -> list[str] | None:
        raw = query.get("$select")
        if raw is None:
            return None
        names = [name.strip() for name in raw.split(",") if name.strip()]
        known = self._property_names(endpoint.type_name)
        for name in names:
            if name not in known:
                raise BadQuery(
                    f"Could not find a property named '{name}' on type "
                    f"'microsoft.graph.{endpoint.type_name}'."
                )
        return names

    def _serve(
        self, endpoint: Endpoint, data: TenantData, origin: str, path: str, query: dict[str, str]
    ) -> Reply:
        queried = ("$filter", "$orderby") if endpoint.queried is not None else ()
        for option in query:
            if option.lower() in _UNSUPPORTED_OPTIONS and option.lower() not in queried:
                raise BadQuery(
                    f"Query option '{option}' is not supported by the simulator for this resource."
                )
        select = self._select(endpoint, query)
        context = f"{GRAPH_CONTEXT}/{endpoint.version}/$metadata#{endpoint.context_path}"
        if select is not None:
            context += f"({','.join(select)})"
        if endpoint.singleton:
            assert endpoint.entity is not None
            entity = _trim(endpoint.entity(data), select)
            return Reply.json(200, {"@odata.context": f"{context}/$entity", **entity})
        offset = decode_skiptoken(query["$skiptoken"]) if "$skiptoken" in query else 0
        limit = _page_size(query.get("$top"), endpoint.max_page)
        if endpoint.queried is not None:
            found = audit.query(endpoint.queried(data), query)
            total, items = len(found), iter(found[offset : offset + limit])
        else:
            assert endpoint.items is not None
            assert endpoint.count is not None
            total, items = endpoint.count(data), endpoint.items(data, offset, limit, select)
        page = [_trim(item, select) for item in items]
        payload: dict[str, Any] = {"@odata.context": context}
        if query.get("$count", "").lower() == "true" and offset == 0:
            payload["@odata.count"] = total
        if offset + limit < total:
            next_query = {k: v for k, v in query.items() if k != "$skiptoken"}
            next_query["$skiptoken"] = encode_skiptoken(offset + limit)
            payload["@odata.nextLink"] = (
                f"{origin}{path}?{urllib.parse.urlencode(next_query, safe='$,')}"
            )
        payload["value"] = page
        return Reply.json(200, payload)


def _fault_reply(injected: Injected, fail: Callable[..., Reply]) -> Reply:
    """The throttling or server error body Graph sends, with Retry-After when configured."""
    retry_after = retry_after_header(injected.retry_after)
    headers = {"Retry-After": retry_after} if retry_after else {}
    if injected.status == 429:
        inner = {"code": "429", "message": "Please retry after", "status": "429"}
        return fail(
            429, "TooManyRequests", "Please retry again later.", inner=inner, headers=headers
        )
    code = _SERVER_ERROR_CODES.get(injected.status, "generalException")
    message = "The service is temporarily unavailable. Please retry later."
    return fail(injected.status, code, message, headers=headers)


def _refusal(
    endpoint: Endpoint, tenant: TenantScenario, roles: set[str], fail: Callable[..., Reply]
) -> Reply | None:
    """Licence (Intune) and permission checks, in the order Graph applies them."""
    if endpoint.intune and not tenant.intune_licensed:
        inner = {"code": "AppLifecycle_2210"}
        return fail(400, "BadRequest", "Request not applicable to target tenant.", inner=inner)
    if roles.intersection(endpoint.permissions):
        return None
    if endpoint.intune:
        message = errors.intune_forbidden_message(list(endpoint.permissions))
        return fail(403, "Forbidden", message)
    message = "Insufficient privileges to complete the operation."
    return fail(403, "Authorization_RequestDenied", message)


def _page_size(raw: str | None, max_page: int) -> int:
    if raw is None:
        return max_page
    try:
        value = int(raw)
    except ValueError:
        raise BadQuery(f"Invalid value '{raw}' for query option '$top'.") from None
    if value < 1:
        raise BadQuery(
            f"Invalid page size specified: '{raw}'. Must be between 1 and {max_page} inclusive."
        )
    return min(value, max_page)


def _trim(item: dict[str, Any], select: list[str] | None) -> dict[str, Any]:
    if select is None:
        return item
    keep = {"@odata.type", "id", *select}
    return {key: value for key, value in item.items() if key in keep}
