"""The Graph contract registry: the complete list of calls TenantAtlas may make to Microsoft.

Every request the Graph client sends names one of these contracts; anything else is refused
before any network I/O. The registry is also the single source of the application permissions
the health check compares against a token's ``roles``. v1 is read-only: only GET is accepted.

Adding a contract: append a :class:`Contract` to ``_DECLARED`` with the least-privileged
permission first (Learn's "Permissions" table of the endpoint); the v1.0 schema test checks that
the path and the ``$select`` fields exist in Microsoft's published metadata.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from urllib.parse import quote

VERSIONS = frozenset({"v1.0", "beta"})
ODATA_OPTIONS = frozenset(
    {"$select", "$top", "$filter", "$orderby", "$count", "$expand", "$search", "$skip"}
)
PARAM_TYPES = frozenset({"guid", "int", "str"})
_PARAM = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*):([a-z]+)\}")
_SEGMENT = re.compile(r"^[A-Za-z][A-Za-z0-9_.$]*$")
_PERMISSION = re.compile(r"^[A-Za-z][A-Za-z0-9]*(\.[A-Za-z0-9-]+)+$")


class ContractError(ValueError):
    """A contract declaration is malformed (caught at import and by the system check)."""


class UnregisteredContract(LookupError):
    """Code asked for a Graph call that is not in the registry: a programming error."""


class ContractParameterError(ValueError):
    """A path or query parameter does not fit the contract."""


@dataclass(frozen=True)
class Contract:
    """One permitted Graph call: method, version, path template, query rules, permissions."""

    key: str
    method: str
    version: str
    path: str
    select: tuple[str, ...]
    allowed_query: frozenset[str]
    paged: bool
    permissions: tuple[str, ...]
    description: str

    @property
    def path_params(self) -> dict[str, str]:
        return dict(_PARAM.findall(self.path))

    def render_path(self, params: Mapping[str, object] | None = None) -> str:
        """The concrete path with every typed parameter validated and URL-quoted."""
        params = dict(params or {})
        expected = self.path_params
        if set(params) != set(expected):
            raise ContractParameterError(
                f"{self.key}: expected path parameters {sorted(expected)}, got {sorted(params)}"
            )

        def substitute(match: re.Match[str]) -> str:
            name, kind = match.group(1), match.group(2)
            return _format_param(self.key, name, kind, params[name])

        return _PARAM.sub(substitute, self.path)

    def build_query(
        self, query: Mapping[str, object] | None = None, page_size: int | None = None
    ) -> dict[str, str]:
        """Query options for the first request: checked against ``allowed_query``."""
        options = {key: str(value) for key, value in (query or {}).items()}
        if page_size is not None:
            options["$top"] = str(int(page_size))
        refused = sorted(set(options) - self.allowed_query)
        if refused:
            raise ContractParameterError(f"{self.key}: query options not allowed: {refused}")
        if self.select and "$select" not in options:
            options["$select"] = ",".join(self.select)
        return options


def _format_param(key: str, name: str, kind: str, value: object) -> str:
    text = str(value)
    if kind == "guid":
        try:
            return str(uuid.UUID(text))
        except ValueError:
            raise ContractParameterError(f"{key}: {name} must be a GUID") from None
    if kind == "int":
        if not text.isdigit():
            raise ContractParameterError(f"{key}: {name} must be a non-negative integer")
        return text
    if not text or "/" in text:
        raise ContractParameterError(f"{key}: {name} must be a non-empty path segment")
    return quote(text, safe="")


def _problems(contract: Contract) -> list[str]:
    """Everything wrong with one declaration (empty when it is sound)."""
    where = f"contract {contract.key!r}"
    problems = []
    if not re.fullmatch(r"[a-z][a-z_]*\.[a-z_]+", contract.key):
        problems.append(f"{where}: key must look like 'devices.list'")
    if contract.method != "GET":
        problems.append(f"{where}: only GET contracts are allowed (read-only v1)")
    if contract.version not in VERSIONS:
        problems.append(f"{where}: version must be one of {sorted(VERSIONS)}")
    if not contract.path.startswith("/") or contract.path.endswith("/") or "?" in contract.path:
        problems.append(f"{where}: path must start with '/', without query or trailing '/'")
    for segment in contract.path.strip("/").split("/"):
        param = _PARAM.fullmatch(segment)
        if param and param.group(2) not in PARAM_TYPES:
            problems.append(f"{where}: unknown parameter type {param.group(2)!r}")
        elif not param and not _SEGMENT.match(segment):
            problems.append(f"{where}: malformed path segment {segment!r}")
    if not contract.allowed_query <= ODATA_OPTIONS:
        problems.append(f"{where}: unknown query options {sorted(contract.allowed_query)}")
    if contract.select and "$select" not in contract.allowed_query:
        problems.append(f"{where}: a default $select needs '$select' in allowed_query")
    if contract.paged and "$top" not in contract.allowed_query:
        problems.append(f"{where}: a paged contract must allow '$top'")
    if not contract.permissions or not all(_PERMISSION.match(p) for p in contract.permissions):
        problems.append(f"{where}: permissions must be non-empty Graph permission names")
    if not contract.description:
        problems.append(f"{where}: description is required")
    return problems


_LIST_QUERY = frozenset({"$select", "$top", "$filter", "$orderby"})
_SINGLE_QUERY = frozenset({"$select"})
_MANAGED_DEVICES = ("DeviceManagementManagedDevices.Read.All",)
_CONFIGURATION = ("DeviceManagementConfiguration.Read.All",)
# Compliance policies and device configurations are read whole: their settings are properties
# of the derived type (windows10CompliancePolicy.passwordMinimumLength, …), which a $select of
# base-type properties would drop, and the change history compares settings.
_POLICY_FIELDS: tuple[str, ...] = ()

_DECLARED: tuple[Contract, ...] = (
    Contract(
        key="organization.get",
        method="GET",
        version="v1.0",
        path="/organization",
        select=("id", "displayName", "verifiedDomains", "tenantType", "countryLetterCode"),
        allowed_query=_SINGLE_QUERY,
        paged=False,
        permissions=("Organization.Read.All", "Directory.Read.All"),
        description="The Entra tenant itself (name, verified domains): health check.",
    ),
    Contract(
        key="devices.list",
        method="GET",
        version="v1.0",
        path="/deviceManagement/managedDevices",
        select=(
            "id",
            "deviceName",
            "userPrincipalName",
            "userDisplayName",
            "operatingSystem",
            "osVersion",
            "complianceState",
            "lastSyncDateTime",
            "enrolledDateTime",
            "managementAgent",
            "managedDeviceOwnerType",
            "isEncrypted",
            "managementState",
            "manufacturer",
            "model",
            "serialNumber",
            "azureADDeviceId",
        ),
        allowed_query=_LIST_QUERY,
        paged=True,
        permissions=(*_MANAGED_DEVICES, "DeviceManagementManagedDevices.ReadWrite.All"),
        description="Intune managed devices: inventory and compliance snapshot.",
    ),
    Contract(
        key="compliance_policies.list",
        method="GET",
        version="v1.0",
        path="/deviceManagement/deviceCompliancePolicies",
        select=_POLICY_FIELDS,
        allowed_query=_LIST_QUERY,
        paged=True,
        permissions=(*_CONFIGURATION, "DeviceManagementConfiguration.ReadWrite.All"),
        description="Intune device compliance policies: inventory.",
    ),
    Contract(
        key="device_configurations.list",
        method="GET",
        version="v1.0",
        path="/deviceManagement/deviceConfigurations",
        select=_POLICY_FIELDS,
        allowed_query=_LIST_QUERY,
        paged=True,
        permissions=(*_CONFIGURATION, "DeviceManagementConfiguration.ReadWrite.All"),
        description="Intune device configuration profiles: inventory.",
    ),
    Contract(
        key="configuration_policies.list",
        method="GET",
        version="beta",
        path="/deviceManagement/configurationPolicies",
        select=(
            "id",
            "name",
            "description",
            "platforms",
            "technologies",
            "createdDateTime",
            "lastModifiedDateTime",
            "settingCount",
            "isAssigned",
            "templateReference",
            "roleScopeTagIds",
        ),
        allowed_query=_LIST_QUERY,
        paged=True,
        permissions=(*_CONFIGURATION, "DeviceManagementConfiguration.ReadWrite.All"),
        description="Intune settings catalog policies (beta only): inventory.",
    ),
    Contract(
        key="mobile_apps.list",
        method="GET",
        version="v1.0",
        path="/deviceAppManagement/mobileApps",
        select=(
            "id",
            "displayName",
            "description",
            "publisher",
            "createdDateTime",
            "lastModifiedDateTime",
            "publishingState",
            "isFeatured",
            "privacyInformationUrl",
            "informationUrl",
            "owner",
            "developer",
            "notes",
        ),
        allowed_query=_LIST_QUERY,
        paged=True,
        permissions=("DeviceManagementApps.Read.All", "DeviceManagementApps.ReadWrite.All"),
        description="Intune mobile apps: inventory.",
    ),
    Contract(
        key="audit_events.list",
        method="GET",
        version="v1.0",
        path="/deviceManagement/auditEvents",
        select=(
            "id",
            "displayName",
            "componentName",
            "activity",
            "activityDateTime",
            "activityType",
            "activityOperationType",
            "activityResult",
            "correlationId",
            "category",
            "actor",
            "resources",
        ),
        allowed_query=_LIST_QUERY,
        paged=True,
        permissions=("DeviceManagementApps.Read.All", "DeviceManagementApps.ReadWrite.All"),
        description="Intune audit events (who changed what; Intune licence): change history.",
    ),
    Contract(
        key="compliance_summary.get",
        method="GET",
        version="v1.0",
        path="/deviceManagement/deviceCompliancePolicyDeviceStateSummary",
        select=(),
        allowed_query=_SINGLE_QUERY,
        paged=False,
        permissions=(*_CONFIGURATION, "DeviceManagementConfiguration.ReadWrite.All"),
        description="Tenant-wide device compliance counts: cross-check of the snapshot.",
    ),
    Contract(
        key="device_overview.get",
        method="GET",
        version="v1.0",
        path="/deviceManagement/managedDeviceOverview",
        select=(),
        allowed_query=_SINGLE_QUERY,
        paged=False,
        permissions=(
            *_MANAGED_DEVICES,
            "DeviceManagementServiceConfig.Read.All",
            *_CONFIGURATION,
        ),
        description="Enrolled device counts by platform: connection detail.",
    ),
)


def _build(declared: Iterable[Contract]) -> dict[str, Contract]:
    registry: dict[str, Contract] = {}
    problems: list[str] = []
    for contract in declared:
        if contract.key in registry:
            problems.append(f"contract {contract.key!r}: declared twice")
        problems.extend(_problems(contract))
        registry[contract.key] = contract
    if problems:
        raise ContractError("; ".join(problems))
    return registry


CONTRACTS: dict[str, Contract] = _build(_DECLARED)


def validate_registry(contracts: Iterable[Contract] | None = None) -> list[str]:
    """Problems with the registry (or the given contracts); empty when sound."""
    problems: list[str] = []
    seen: set[str] = set()
    for contract in CONTRACTS.values() if contracts is None else contracts:
        if contract.key in seen:
            problems.append(f"contract {contract.key!r}: declared twice")
        seen.add(contract.key)
        problems.extend(_problems(contract))
    return problems


def get_contract(key: str) -> Contract:
    """The registered contract ``key``; anything else is refused (before any I/O)."""
    try:
        return CONTRACTS[key]
    except KeyError:
        raise UnregisteredContract(f"Graph contract {key!r} is not registered") from None


def required_permissions(keys: Iterable[str] | None = None) -> dict[str, tuple[str, ...]]:
    """contract key → acceptable permissions (any one suffices), for the health check."""
    selected = CONTRACTS if keys is None else {key: get_contract(key) for key in keys}
    return {key: contract.permissions for key, contract in selected.items()}
