"""Intune audit events for the declared mutations that say ``audit = true``, and their queries.

One event per audited mutation in effect, in the shape ``GET /deviceManagement/auditEvents``
returns (``docs/microsoft-facts.md``): an ``ItPro`` actor signed in to the Intune portal, the
item as ``resources[0]`` with its id, type and the changed properties as strings. The event's
``activityDateTime`` is the mutation's time (``mutations.py``). ``$filter`` understands what
real clients send (``activityDateTime gt|ge|lt|le <date-time>``, ``category eq '…'``,
``resources/any(s:s/resourceId eq '…')``, joined by ``and``); anything else is Graph's 400.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tenantatlas.simulator.data import TenantData
from tenantatlas.simulator.mutations import NAME_FIELD, Effect, get, graph_time, primary_user
from tenantatlas.simulator.scenarios import Mutation, TenantScenario
from tenantatlas.simulator.values import stable_guid

PORTAL_APP_ID = "5926fc8e-304e-4f59-8bed-58ca97cc39a4"
PORTAL_APP_NAME = "Microsoft Intune portal extension"
# collection → (category, componentName, resource type)
_KINDS = {
    "deviceCompliancePolicies": ("Compliance", "DeviceCompliance", "DeviceCompliancePolicy"),
    "deviceConfigurations": ("DeviceConfiguration", "DeviceConfiguration", "DeviceConfiguration"),
    "configurationPolicies": (
        "DeviceConfiguration", "DeviceConfiguration", "DeviceManagementConfigurationPolicy",
    ),
    "mobileApps": ("Application", "MobileApps", "MobileApp"),
    "managedDevices": ("Device", "ManagedDevices", "ManagedDevice"),
}  # fmt: skip
_OPERATIONS = {"add": "Create", "remove": "Delete", "set": "Patch", "rename": "Patch"}


class FilterError(ValueError):
    """A ``$filter`` or ``$orderby`` the endpoint does not support (Graph answers 400)."""


def _text(value: Any) -> str | None:
    """An audit property value as Intune writes it: a string (booleans as .NET prints them)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, (list, dict)):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def _pascal(path: str) -> str:
    return ".".join(part[:1].upper() + part[1:] for part in path.split("."))


def _modified(effect: Effect, before: dict[str, Any], after: dict[str, Any]) -> list[Any]:
    m = effect.mutation
    if m.kind == "remove":
        return []
    if m.kind in ("add", "rename"):
        field = NAME_FIELD.get(m.collection, "displayName")
        old = None if m.kind == "add" else before.get(field)
        return [{"displayName": _pascal(field), "oldValue": _text(old),
                 "newValue": _text(after.get(field))}]  # fmt: skip
    paths = [m.path]
    if m.collection == "managedDevices" and m.path == "userPrincipalName":
        paths = [p for p in primary_user(m.value) if p in after]
    return [
        {"displayName": _pascal(p), "oldValue": _text(get(before, p)),
         "newValue": _text(get(after, p))}
        for p in paths
    ]  # fmt: skip


def event(data: TenantData, effect: Effect) -> dict[str, Any]:
    """The audit event of one audited mutation in effect."""
    m = effect.mutation
    assert effect.at is not None
    category, component, resource_type = _KINDS[m.collection]
    before = data.item_at(m.collection, effect.index, effect.position)
    after = data.item_at(m.collection, effect.index, effect.position + 1)
    name = after.get(NAME_FIELD.get(m.collection, "displayName"))
    activity = f"{_OPERATIONS[m.kind]} {resource_type}"
    return {
        "id": stable_guid("auditEvent", data.tid, data.scenario.seed, effect.position),
        "displayName": activity,
        "componentName": component,
        "actor": {
            "type": "ItPro",
            "auditActorType": "ItPro",
            "userPermissions": ["*"],
            "applicationId": PORTAL_APP_ID,
            "applicationDisplayName": PORTAL_APP_NAME,
            "userPrincipalName": m.actor,
            "servicePrincipalName": None,
            "ipAddress": None,
            "userId": primary_user(m.actor)["userId"],
        },
        "activity": activity,
        "activityDateTime": graph_time(effect.at),
        "activityType": activity,
        "activityOperationType": _OPERATIONS[m.kind],
        "activityResult": "Success",
        "correlationId": stable_guid("correlation", data.tid, effect.position),
        "resources": [
            {
                "displayName": name,
                "modifiedProperties": _modified(effect, before, after),
                "type": resource_type,
                "auditResourceType": resource_type,
                "resourceId": after["id"],
            }
        ],
        "category": category,
    }


def events(data: TenantData) -> list[dict[str, Any]]:
    """Every audit event in effect, oldest first."""
    audited = [e for e in data.state.effects if e.mutation.audit and e.at is not None]
    return [event(data, e) for e in sorted(audited, key=lambda e: (e.at, e.position))]


_DATE = r"(\d{4}-\d\d-\d\dT\d\d:\d\d(?::\d\d(?:\.\d{1,7})?)?(?:Z|[+-]\d\d:\d\d))"
_CLAUSES: list[tuple[re.Pattern[str], Callable[[re.Match[str]], Callable[[Any], bool]]]] = []


def _clause(pattern: str) -> Callable[[Any], Any]:
    def register(fn: Callable[[re.Match[str]], Callable[[Any], bool]]) -> Any:
        _CLAUSES.append((re.compile(pattern, re.IGNORECASE), fn))
        return fn

    return register


def _moment(text: str) -> dt.datetime:
    moment = dt.datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


_COMPARE = {
    "gt": lambda a, b: a > b,
    "ge": lambda a, b: a >= b,
    "lt": lambda a, b: a < b,
    "le": lambda a, b: a <= b,
    "eq": lambda a, b: a == b,
}


@_clause(rf"activityDateTime\s+(gt|ge|lt|le|eq)\s+{_DATE}")
def _by_time(match: re.Match[str]) -> Callable[[Any], bool]:
    compare, bound = _COMPARE[match.group(1).lower()], _moment(match.group(2))
    return lambda ev: bool(compare(_moment(ev["activityDateTime"]), bound))


@_clause(r"category\s+eq\s+'((?:[^']|'')*)'")
def _by_category(match: re.Match[str]) -> Callable[[Any], bool]:
    wanted = match.group(1).replace("''", "'")
    return lambda ev: bool(ev["category"] == wanted)


@_clause(r"resources/any\((\w+):\s*\1/resourceId\s+eq\s+'((?:[^']|'')*)'\)")
def _by_resource(match: re.Match[str]) -> Callable[[Any], bool]:
    wanted = match.group(2).replace("''", "'")
    return lambda ev: any(r["resourceId"] == wanted for r in ev["resources"])


def _predicates(expression: str) -> list[Callable[[Any], bool]]:
    predicates = []
    for part in re.split(r"\s+and\s+", expression.strip(), flags=re.IGNORECASE):
        text = part.strip()
        while text.startswith("(") and text.endswith(")"):
            text = text[1:-1].strip()
        for pattern, build in _CLAUSES:
            match = pattern.fullmatch(text)
            if match:
                predicates.append(build(match))
                break
        else:
            raise FilterError(f"Invalid filter clause: the query specified in the URI is not "
                              f"supported: '{part.strip()}'.")  # fmt: skip
    return predicates


def query(items: list[dict[str, Any]], options: dict[str, str]) -> list[dict[str, Any]]:
    """``items`` filtered by ``$filter`` and sorted by ``$orderby`` (both optional)."""
    expression = options.get("$filter")
    if expression is not None:
        predicates = _predicates(expression)
        items = [ev for ev in items if all(p(ev) for p in predicates)]
    order = options.get("$orderby")
    if order is not None:
        match = re.fullmatch(r"\s*activityDateTime(?:\s+(asc|desc))?\s*", order, re.IGNORECASE)
        if match is None:
            raise FilterError(f"Order by '{order}' is not supported for this resource.")
        descending = (match.group(1) or "asc").lower() == "desc"
        items = sorted(items, key=lambda ev: _moment(ev["activityDateTime"]), reverse=descending)
    return items


@dataclass(frozen=True)
class AppliedMutation:
    """A declared mutation in effect, as tests see it (``SimulatorServer.mutations``)."""

    position: int
    mutation: Mutation
    item_id: str | None  # None: churn of every device
    at: dt.datetime
    audit_event_id: str | None  # None: the mutation emitted no audit event


def applied(data: TenantData) -> list[AppliedMutation]:
    """The mutations in effect at the tenant's generation, in declaration order."""
    result = []
    for effect in data.state.effects:
        assert effect.at is not None
        item_id = None
        if effect.index >= 0:
            item_id = str(data.item_at(effect.collection, effect.index)["id"])
        event_id = None
        if effect.mutation.audit:
            event_id = stable_guid("auditEvent", data.tid, data.scenario.seed, effect.position)
        result.append(
            AppliedMutation(effect.position, effect.mutation, item_id, effect.at, event_id)
        )
    return result


def sample_event() -> dict[str, Any]:
    """One event of a template tenant (what ``$select`` may name)."""
    scenario = TenantScenario(
        tenant_id="00000000-0000-0000-0000-000000000001",
        display_name="Template",
        default_domain="template.onmicrosoft.com",
        app_count=1,
        mutations=[Mutation(0, "rename", "mobileApps", 0, name="x", audit=True, actor="a@b.c")],
    )
    return events(TenantData(scenario, dt.datetime.now(dt.UTC)))[0]
