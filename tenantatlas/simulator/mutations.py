"""Declared mutations by epoch: which are in effect at a generation, what they change, and when.

The state at generation g applies every mutation of ``TenantScenario.mutations`` with
``epoch <= g``, in declaration order (epochs must not decrease along the list).

**Times.** ``timeline[e]`` is when the tenant entered epoch e: the server records it when
``add_tenant`` registers the tenant (for every epoch up to its generation) and when
``set_generation`` (or ``add_tenant`` with a higher generation) moves it on. A mutation of
epoch e happened one microsecond after ``timeline[e]``, and one microsecond after the mutation
declared before it when that is later (so times follow the declaration order even when a tenant
is registered straight at a later generation): after whatever the tenant served before it
entered the epoch, and before anything it serves afterwards. The mutated item's
``lastModifiedDateTime`` and the audit event's ``activityDateTime`` are that time.
"""

from __future__ import annotations

import copy
import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from tenantatlas.simulator.item_settings import SET_LIKE_ARRAYS
from tenantatlas.simulator.scenarios import (
    COLLECTIONS,
    DRIFTS,
    MUTATION_KINDS,
    Mutation,
    ScenarioError,
    TenantScenario,
)
from tenantatlas.simulator.values import stable_guid

DEVICES = "managedDevices"
VOLATILE_DEVICE_FIELDS = (
    "lastSyncDateTime",
    "freeStorageSpaceInBytes",
    "exchangeLastSuccessfulSyncDateTime",
)
_COMPLIANCE_STATES = (
    "unknown", "compliant", "noncompliant", "conflict", "error", "inGracePeriod", "configManager",
)  # fmt: skip
_MANAGEMENT_STATES = (
    "managed", "retirePending", "retireFailed", "wipePending", "wipeFailed", "unhealthy",
    "deletePending", "retireIssued", "wipeIssued", "wipeCanceled", "retireCanceled", "discovered",
)  # fmt: skip
#: Device properties a ``set`` may change, with the values Graph allows (None: any string).
DEVICE_TRACKED: dict[str, tuple[Any, ...] | None] = {
    "complianceState": _COMPLIANCE_STATES,
    "osVersion": None,
    "managedDeviceOwnerType": ("company", "personal", "unknown"),
    "userPrincipalName": None,
    "isEncrypted": (True, False),
    "managementState": _MANAGEMENT_STATES,
}
#: Reported by the device or evaluated by the service: no admin action, so no audit event.
UNAUDITED_DEVICE_FIELDS = frozenset({"complianceState", "osVersion", "isEncrypted"})
SERVER_MAINTAINED = frozenset(
    {"id", "@odata.type", "createdDateTime", "lastModifiedDateTime", "version"}
)
NAME_FIELD = {DEVICES: "deviceName", "configurationPolicies": "name"}
_COUNT_FIELD = {
    "deviceCompliancePolicies": "compliance_policy_count",
    "deviceConfigurations": "configuration_count",
    "configurationPolicies": "configuration_policy_count",
    "mobileApps": "app_count",
    DEVICES: "device_count",
}


def base_count(scenario: TenantScenario, collection: str) -> int:
    """How many items the scenario generates in ``collection`` (before adds and removals)."""
    return int(getattr(scenario, _COUNT_FIELD[collection]))


def graph_time(moment: dt.datetime) -> str:
    """Graph's DateTimeOffset with seven fractional digits, as Intune writes change times."""
    moment = moment.astimezone(dt.UTC)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{moment.microsecond:06d}0Z"


@dataclass(frozen=True)
class Effect:
    """A declared mutation resolved to its item (``index`` -1: every device) and time."""

    position: int
    mutation: Mutation
    index: int
    at: dt.datetime | None

    @property
    def collection(self) -> str:
        return self.mutation.collection


def resolve(scenario: TenantScenario, timeline: Sequence[dt.datetime]) -> list[Effect]:
    """Every declared mutation with its item index and time (None when not yet in effect)."""
    added: dict[str, int] = defaultdict(int)
    effects = []
    previous: dt.datetime | None = None
    tick = dt.timedelta(microseconds=1)
    for position, mutation in enumerate(scenario.mutations):
        collection = mutation.collection
        if mutation.kind == "add":
            index = base_count(scenario, collection) + added[collection]
            added[collection] += 1
        else:
            index = -1 if mutation.index is None else mutation.index
        at = None
        if mutation.epoch <= scenario.generation and mutation.epoch < len(timeline):
            at = timeline[mutation.epoch] + tick
            if previous is not None and at <= previous:
                at = previous + tick
            previous = at
        effects.append(Effect(position, mutation, index, at))
    return effects


class MutationState:
    """What the declared mutations (and the ``churn`` drift) change at the tenant's generation."""

    def __init__(self, scenario: TenantScenario, timeline: Sequence[dt.datetime]) -> None:
        generation = scenario.generation
        self.drift_rounds = generation if scenario.drift == "churn" else 0
        self.all_effects = resolve(scenario, timeline)
        self.effects = [e for e in self.all_effects if e.mutation.epoch <= generation]
        self.added: dict[str, list[Effect]] = defaultdict(list)
        self.removed: dict[str, set[int]] = defaultdict(set)
        self.changes: dict[tuple[str, int], list[Effect]] = defaultdict(list)
        self.reorders: dict[tuple[str, int], list[Effect]] = defaultdict(list)
        self.churn_all = 0
        self.churn_one: dict[int, int] = defaultdict(int)
        for effect in self.effects:
            self._take(effect)

    def _take(self, effect: Effect) -> None:
        kind, key = effect.mutation.kind, (effect.collection, effect.index)
        if kind == "add":
            self.added[effect.collection].append(effect)
        elif kind == "remove":
            self.removed[effect.collection].add(effect.index)
        elif kind in ("set", "rename"):
            self.changes[key].append(effect)
        elif kind == "reorder":
            self.reorders[key].append(effect)
        elif effect.index < 0:
            self.churn_all += 1
        else:
            self.churn_one[effect.index] += 1

    def churn(self, index: int) -> int:
        """How many times device ``index``'s volatile fields have moved on."""
        return self.drift_rounds + self.churn_all + self.churn_one.get(index, 0)

    def added_indexes(self, collection: str) -> list[int]:
        removed = self.removed.get(collection, set())
        return [e.index for e in self.added.get(collection, []) if e.index not in removed]

    def touched_devices(self) -> set[int]:
        """Devices whose payload a declared ``set``, ``rename`` or ``add`` changes."""
        touched = {i for (c, i) in self.changes if c == DEVICES}
        return touched | {e.index for e in self.added.get(DEVICES, [])}

    def device_value(self, index: int, path: str) -> Any:
        """The value the last ``set`` in effect gave ``path`` on device ``index`` (or None)."""
        values = [
            e.mutation.value for e in self.changes.get((DEVICES, index), [])
            if e.mutation.kind == "set" and e.mutation.path == path
        ]  # fmt: skip
        return values[-1] if values else None

    def apply(
        self, collection: str, index: int, item: dict[str, Any], upto: int | None = None
    ) -> dict[str, Any]:
        """``item`` as the mutations before position ``upto`` (all when None) left it."""
        key = (collection, index)
        touched = self.changes.get(key) or self.reorders.get(key) or self.drift_rounds
        if not touched and not any(e.index == index for e in self.added.get(collection, [])):
            return item
        item = copy.deepcopy(item)

        def before(effect: Effect) -> bool:
            return upto is None or effect.position < upto

        for effect in self.added.get(collection, []):
            if effect.index == index and before(effect):
                _created(collection, item, effect)
        changes = [e for e in self.changes.get(key, []) if before(e)]
        for effect in changes:
            _change(collection, item, effect.mutation)
        if changes and collection != DEVICES and changes[-1].at is not None:
            if "version" in item:
                item["version"] += len(changes)
            item["lastModifiedDateTime"] = graph_time(changes[-1].at)
        reorders = [e.mutation.path for e in self.reorders.get(key, []) if before(e)]
        for path, value in list(item.items()):
            if isinstance(value, list) and len(value) > 1:
                rounds = reorders.count(path) + (
                    self.drift_rounds if path in SET_LIKE_ARRAYS else 0
                )
                shift = rounds % len(value)
                item[path] = value[shift:] + value[:shift]
        return item


def _created(collection: str, item: dict[str, Any], effect: Effect) -> None:
    if effect.at is not None:
        stamp = graph_time(effect.at)
        for field in ("createdDateTime", "lastModifiedDateTime", "enrolledDateTime"):
            if field in item:
                item[field] = stamp
        if "lastSyncDateTime" in item:
            item["lastSyncDateTime"] = stamp
    if "version" in item:
        item["version"] = 1
    name_field = NAME_FIELD.get(collection, "displayName")
    if effect.mutation.name and name_field in item:
        item[name_field] = effect.mutation.name


def _change(collection: str, item: dict[str, Any], mutation: Mutation) -> None:
    if mutation.kind == "rename":
        name_field = NAME_FIELD.get(collection, "displayName")
        if name_field in item:
            item[name_field] = mutation.name
        return
    if collection == DEVICES and mutation.path == "userPrincipalName":
        for field, value in primary_user(mutation.value).items():
            if field in item:
                item[field] = value
        return
    put(item, mutation.path, mutation.value)


def primary_user(upn: str) -> dict[str, Any]:
    """The device properties that follow its primary user."""
    local = upn.split("@", 1)[0]
    words = [w for w in local.replace("_", ".").split(".") if w]
    display = " ".join(w.rstrip("0123456789").capitalize() for w in words) or upn
    return {
        "userId": stable_guid("user", upn.lower()),
        "userPrincipalName": upn,
        "emailAddress": upn,
        "userDisplayName": display,
    }


def get(item: dict[str, Any], path: str) -> Any:
    value: Any = item
    for part in path.split("."):
        value = value[part]
    return value


def put(item: dict[str, Any], path: str, value: Any) -> None:
    """Set an existing dotted path (a slim device may lack the field: then nothing changes)."""
    *parents, last = path.split(".")
    target: Any = item
    for part in parents:
        target = target.get(part) if isinstance(target, dict) else None
    if isinstance(target, dict) and last in target:
        target[last] = copy.deepcopy(value)


def has_path(item: dict[str, Any], path: str) -> bool:
    try:
        get(item, path)
    except (KeyError, TypeError):
        return False
    return True


def check_declaration(scenario: TenantScenario) -> None:
    """Refuse what cannot be simulated faithfully (paths are checked by ``data.validate``)."""
    if scenario.drift not in DRIFTS:
        raise ScenarioError(f"drift must be one of {', '.join(DRIFTS)}")
    last_epoch = 0
    for i, m in enumerate(scenario.mutations):
        where = f"{scenario.tenant_id}: mutations[{i}]"
        if m.kind not in MUTATION_KINDS or m.collection not in COLLECTIONS:
            raise ScenarioError(f"{where}: unknown kind {m.kind!r} or collection {m.collection!r}")
        if m.epoch < last_epoch or m.epoch < 0:
            raise ScenarioError(f"{where}: epochs must not decrease along the list")
        last_epoch = m.epoch
        needs_index = m.kind in ("set", "remove", "rename", "reorder")
        if needs_index and m.index is None:
            raise ScenarioError(f"{where}: {m.kind} needs the item's index")
        if m.kind == "churn" and m.collection != DEVICES:
            raise ScenarioError(f"{where}: churn changes devices only")
        if m.kind in ("churn", "reorder") and m.audit:
            raise ScenarioError(f"{where}: {m.kind} is no admin action and emits no audit event")
        if m.kind == "rename" and not m.name:
            raise ScenarioError(f"{where}: rename needs a name")
        if m.audit and "@" not in m.actor:
            raise ScenarioError(f"{where}: an audited mutation needs an actor UPN")
        if m.kind == "set":
            _check_set(m, where)


def _check_set(m: Mutation, where: str) -> None:
    if m.path in SERVER_MAINTAINED or not m.path:
        raise ScenarioError(f"{where}: {m.path!r} cannot be set (Graph maintains it)")
    if m.collection != DEVICES:
        return
    if m.path not in DEVICE_TRACKED:
        raise ScenarioError(f"{where}: a device set changes one of {', '.join(DEVICE_TRACKED)}")
    allowed = DEVICE_TRACKED[m.path]
    if (allowed is None and not isinstance(m.value, str)) or (allowed and m.value not in allowed):
        raise ScenarioError(f"{where}: {m.value!r} is not a value of {m.path}")
    if m.audit and m.path in UNAUDITED_DEVICE_FIELDS:
        raise ScenarioError(f"{where}: {m.path} changes without an admin action (no audit event)")
