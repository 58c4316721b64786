"""Deterministic tenant content: devices, policies, apps and the summaries derived from them.

Nothing is stored: item ``i`` of a tenant is computed from ``(tenant_id, seed, i)`` on
every request, so a 250,000-device tenant costs no memory and each page can be built
straight from its offset. One BLAKE2b digest per device feeds every random choice; the
summaries count the same cheap "traits" the devices are built from, so they always agree
with the device list.

Mutation: with ``drift = "renames"`` (the default), at ``generation`` g > 0 the last
``g * removed_per_generation(device_count)`` devices no longer exist, every 20th remaining device
(``i % 20 == 0``) and every 4th policy/configuration/app carry a ``(v{g})``-style rename, so a
later sync sees a known number of updated and removed items. ``drift = "churn"`` instead moves
only volatile device fields and the order of set-like arrays at every generation. The declared
mutations (``mutations.py``) apply on top of either.

Two clocks: dates that never move by themselves (enrolments, creation and modification times)
count from ``BASE_DATE``, so a restarted simulator serves a tenant at a generation exactly as
before; only the times that must look recent (last check-ins, grace periods) count back from the
server's start, and a sync compares devices on none of them.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import hashlib
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from tenantatlas.simulator import catalog
from tenantatlas.simulator.catalog import Traits
from tenantatlas.simulator.mutations import (
    DEVICES,
    MutationState,
    base_count,
    check_declaration,
    has_path,
)
from tenantatlas.simulator.scenarios import ScenarioError, TenantScenario
from tenantatlas.simulator.values import guid_from, iso, stable_guid

STALE_AFTER_DAYS = 7
# The fixed day generated enrolment, creation and modification dates count from (naive UTC).
BASE_DATE = dt.datetime(2026, 1, 1)

# Share of the population per complianceState, out of 65536 (compliant is the rest).
_COMPLIANCE_WEIGHTS = (
    ("noncompliant", 7864),  # 12 %
    ("inGracePeriod", 2621),  # 4 %
    ("unknown", 2621),  # 4 %
    ("conflict", 1311),  # 2 %
    ("error", 1311),  # 2 %
    ("configManager", 3932),  # 6 %
)
DEVICE_TYPE = "#microsoft.graph.managedDevice"
# Fields computable from the traits alone (see TenantData.devices).
CHEAP_DEVICE_FIELDS = frozenset(
    {
        "@odata.type", "id", "lastSyncDateTime", "operatingSystem", "complianceState",
        "managementAgent", "managedDeviceOwnerType", "exchangeAccessState",
    }
)  # fmt: skip
_OS_WEIGHTS = (("Windows", 141), ("iOS", 187), ("Android", 231), ("macOS", 256))
_EXCHANGE_WEIGHTS = (("none", 154), ("allowed", 230), ("blocked", 238), ("quarantined", 243))
# Every recent device's sync age stays below this many minutes (5 days + 255 * 5 minutes).
_FRESH_SPAN = 5 * 1440 + 255 * 5 + 1
_CHURN_MINUTES = 37


def removed_per_generation(device_count: int) -> int:
    """Devices removed from the end of the list by each generation step (1 %, at least 1)."""
    return max(1, device_count // 100)


def builtin_generation(scenario: TenantScenario) -> int:
    """The generation the built-in renames and removals follow (0 unless ``drift = "renames"``)."""
    return scenario.generation if scenario.drift == "renames" else 0


def effective_device_count(scenario: TenantScenario) -> int:
    """How many generated devices the tenant has at its generation (before declared changes)."""
    removed = builtin_generation(scenario) * removed_per_generation(scenario.device_count)
    return max(0, scenario.device_count - removed)


def is_renamed_device(index: int, generation: int) -> bool:
    """Whether device ``index`` carries a rename at ``generation``."""
    return generation > 0 and index % 20 == 0


def is_renamed_item(index: int, generation: int) -> bool:
    """Whether policy/configuration/app ``index`` carries a rename at ``generation``."""
    return generation > 0 and index % 4 == 0


def _device_hasher(tid: str, seed: int) -> Any:
    """A BLAKE2b state primed with the tenant part of every device digest (copied per device)."""
    return hashlib.blake2b(f"device|{tid}|{seed}|".encode(), digest_size=32)


def _pick(value: int, weights: tuple[tuple[str, int], ...], rest: str | None = None) -> str:
    for name, limit in weights:
        if value < limit:
            return name
    return rest if rest is not None else weights[-1][0]


def _cumulative(weights: tuple[tuple[str, int], ...]) -> tuple[tuple[str, int], ...]:
    total, result = 0, []
    for name, share in weights:
        total += share
        result.append((name, total))
    return tuple(result)


_COMPLIANCE_LIMITS = _cumulative(_COMPLIANCE_WEIGHTS)


def _traits(digest: bytes) -> Traits:
    compliance = _pick(int.from_bytes(digest[1:3]), _COMPLIANCE_LIMITS, rest="compliant")
    os_name = "Windows" if compliance == "configManager" else _pick(digest[0], _OS_WEIGHTS)
    owner = "personal" if digest[7] < 64 and os_name != "Windows" else "company"
    if compliance == "configManager":
        agent = "configurationManagerClientMdm"
    elif digest[6] < 20:
        agent = "easMdm"
    else:
        agent = "mdm"
    android_kind = ""
    if os_name == "Android":
        if owner == "personal":
            android_kind = "workProfile"
        else:
            android_kind = ("fullyManaged", "fullyManaged", "dedicated", "corporateWorkProfile")[
                digest[10] % 4
            ]
    if digest[3] < 20:  # about 8 % have not synced for more than a week
        age = (STALE_AFTER_DAYS + 1 + digest[4] % 110) * 1440 + digest[5] * 5
    else:
        age = (digest[4] % 6) * 1440 + digest[5] * 5
    exchange = _pick(digest[8], _EXCHANGE_WEIGHTS, rest="unknown")
    return Traits(compliance, os_name, agent, exchange, android_kind, owner, age)


class TenantData:
    """The generated content of one tenant at one generation.

    ``anchor`` is "now" for the times that must look recent: last sync times are anchor minus an
    age, so staleness is stable for the lifetime of a server (it is fixed when the server
    starts). ``epoch`` (``BASE_DATE``) is where every date that must not move counts from.
    """

    def __init__(
        self,
        scenario: TenantScenario,
        anchor: dt.datetime,
        timeline: Sequence[dt.datetime] | None = None,
    ) -> None:
        self.scenario = scenario
        # Naive UTC internally: formatting naive datetimes is several times cheaper.
        self.anchor = anchor.astimezone(dt.UTC).replace(tzinfo=None, microsecond=0)
        self.epoch = BASE_DATE
        self.tid = scenario.tenant_id.lower()
        self._builtin = builtin_generation(scenario)
        self.state = MutationState(scenario, timeline or [anchor] * (scenario.generation + 1))
        self._generated = effective_device_count(scenario)
        removed = self.state.removed.get(DEVICES, set())
        self._removed = sorted(i for i in removed if i < self._generated)
        self._added = self.state.added_indexes(DEVICES)
        self._present = self._generated - len(self._removed)
        self.device_total = self._present + len(self._added)
        self._touched = self.state.touched_devices()
        self._device_hasher = _device_hasher(self.tid, scenario.seed)

    # -- devices -----------------------------------------------------------------------
    def _device_digest(self, index: int) -> bytes:
        hasher = self._device_hasher.copy()
        hasher.update(b"%d" % index)
        return hasher.digest()

    def devices(
        self, offset: int, limit: int, select: list[str] | None = None
    ) -> Iterator[dict[str, Any]]:
        """Devices ``offset`` .. ``offset + limit - 1`` (clipped to the population).

        When ``select`` only asks for trait-level fields (what a compliance snapshot needs),
        the full device is never built: paging 250,000 devices stays a matter of seconds.
        """
        indexes = self._device_indexes(max(0, offset), min(self.device_total, offset + limit))
        if select is not None and set(select) <= {"id", "@odata.type"}:
            for index in indexes:
                yield {"@odata.type": DEVICE_TYPE, "id": guid_from(self._device_digest(index)[16:])}
            return
        if select is not None and set(select) <= CHEAP_DEVICE_FIELDS:
            for index in indexes:
                yield self._slim_device(index)
            return
        for index in indexes:
            yield self.device(index)

    def _device_indexes(self, start: int, end: int) -> Iterator[int]:
        """The indexes of present devices ``start`` .. ``end - 1`` (declared removals skipped,
        declared additions last)."""
        position, index = start, start
        for removed in self._removed:
            if removed <= index:
                index += 1
        skipped = set(self._removed)
        while position < min(end, self._present):
            while index in skipped:
                index += 1
            yield index
            index += 1
            position += 1
        for added in range(max(position, self._present), end):
            yield self._added[added - self._present]

    def sync_minutes(self, index: int, t: Traits) -> int:
        """Minutes since the device's last check-in: its traits' age, moved on by churn (recent
        devices stay recent, stale ones stay as they are)."""
        rounds = self.state.churn(index)
        if rounds == 0 or t.sync_age_minutes >= _FRESH_SPAN:
            return t.sync_age_minutes
        return (t.sync_age_minutes - _CHURN_MINUTES * rounds) % _FRESH_SPAN

    def churn(self, index: int) -> int:
        return self.state.churn(index)

    def _slim_device(self, index: int) -> dict[str, Any]:
        digest = self._device_digest(index)
        t = _traits(digest)
        slim = {
            "@odata.type": DEVICE_TYPE,
            "id": guid_from(digest[16:]),
            "lastSyncDateTime": iso(
                self.anchor - dt.timedelta(minutes=self.sync_minutes(index, t))
            ),
            "operatingSystem": t.os,
            "complianceState": t.compliance,
            "managementAgent": t.agent,
            "managedDeviceOwnerType": t.owner,
            "exchangeAccessState": t.exchange,
        }
        if index in self._touched:
            return self.state.apply(DEVICES, index, slim)
        return slim

    def _raw_device(self, index: int) -> dict[str, Any]:
        digest = self._device_digest(index)
        return catalog.build_device(self, index, digest, _traits(digest))

    def device(self, index: int) -> dict[str, Any]:
        device = self._raw_device(index)
        if index in self._touched:
            return self.state.apply(DEVICES, index, device)
        return device

    def item_at(self, collection: str, index: int, upto: int | None = None) -> dict[str, Any]:
        """Item ``index`` of ``collection`` as the mutations before position ``upto`` left it."""
        if collection == DEVICES:
            raw = self._raw_device(index)
        else:
            raw = _BUILDERS[collection](self, index)
        return self.state.apply(collection, index, raw, upto)

    def rename_suffix(self, index: int) -> str:
        return f"-v{self._builtin}" if is_renamed_device(index, self._builtin) else ""

    def item_renamed(self, index: int) -> bool:
        return is_renamed_item(index, self._builtin)

    # -- summaries ---------------------------------------------------------------------
    def counts(self) -> dict[str, int]:
        """Counts by trait, shared by both summary singletons (declared changes included)."""
        counts = _population_counts(self.tid, self.scenario.seed, self._generated)
        if not (self._removed or self._added or self._touched):
            return counts
        counts = dict(counts)
        for index in self._removed:
            _count(counts, _traits(self._device_digest(index)), -1)
        for index in self._added:  # checked in when added: never stale
            _count(counts, _traits(self._device_digest(index)), 1, stale=False)
        removed = self.state.removed.get(DEVICES, set())
        for index in self._touched - removed:
            new = self.state.device_value(index, "complianceState")
            old = _traits(self._device_digest(index)).compliance
            if new is not None and new != old:
                counts[f"compliance:{old}"] -= 1
                counts[f"compliance:{new}"] += 1
        return counts

    def compliance_summary(self) -> dict[str, Any]:
        c = self.counts()
        return {
            "id": stable_guid("complianceSummary", self.tid),
            "inGracePeriodCount": c["compliance:inGracePeriod"],
            "configManagerCount": c["compliance:configManager"],
            "unknownDeviceCount": c["compliance:unknown"],
            "notApplicableDeviceCount": 0,
            "compliantDeviceCount": c["compliance:compliant"],
            "remediatedDeviceCount": 0,
            "nonCompliantDeviceCount": c["compliance:noncompliant"],
            "errorDeviceCount": c["compliance:error"],
            "conflictDeviceCount": c["compliance:conflict"],
        }

    def device_overview(self) -> dict[str, Any]:
        c = self.counts()
        return {
            "id": stable_guid("managedDeviceOverview", self.tid),
            "enrolledDeviceCount": self.device_total,
            "mdmEnrolledCount": self.device_total,
            "dualEnrolledDeviceCount": c["agent:easMdm"],
            "deviceOperatingSystemSummary": {
                "androidCount": c["os:Android"],
                "iosCount": c["os:iOS"],
                "macOSCount": c["os:macOS"],
                "windowsMobileCount": 0,
                "windowsCount": c["os:Windows"],
                "unknownCount": 0,
                "androidDedicatedCount": c["android:dedicated"],
                "androidDeviceAdminCount": 0,
                "androidFullyManagedCount": c["android:fullyManaged"],
                "androidWorkProfileCount": c["android:workProfile"],
                "androidCorporateWorkProfileCount": c["android:corporateWorkProfile"],
                "configMgrDeviceCount": c["agent:configurationManagerClientMdm"],
            },
            "deviceExchangeAccessStateSummary": {
                "allowedDeviceCount": c["exchange:allowed"],
                "blockedDeviceCount": c["exchange:blocked"],
                "quarantinedDeviceCount": c["exchange:quarantined"],
                "unknownDeviceCount": c["exchange:unknown"],
                "unavailableDeviceCount": c["exchange:none"],
            },
        }

    # -- small collections -------------------------------------------------------------
    def collection(self, name: str) -> list[dict[str, Any]]:
        """Every present item of a small collection, declared mutations applied."""
        removed = self.state.removed.get(name, set())
        generated = [i for i in range(base_count(self.scenario, name)) if i not in removed]
        build = _BUILDERS[name]
        return [
            self.state.apply(name, i, build(self, i))
            for i in generated + self.state.added_indexes(name)
        ]

    def compliance_policies(self) -> list[dict[str, Any]]:
        return self.collection("deviceCompliancePolicies")

    def device_configurations(self) -> list[dict[str, Any]]:
        return self.collection("deviceConfigurations")

    def configuration_policies(self) -> list[dict[str, Any]]:
        return self.collection("configurationPolicies")

    def mobile_apps(self) -> list[dict[str, Any]]:
        return self.collection("mobileApps")

    def organization(self) -> dict[str, Any]:
        return catalog.build_organization(self)


_BUILDERS: dict[str, Callable[[Any, int], dict[str, Any]]] = {
    "deviceCompliancePolicies": catalog.build_compliance_policy,
    "deviceConfigurations": catalog.build_device_configuration,
    "configurationPolicies": catalog.build_configuration_policy,
    "mobileApps": catalog.build_mobile_app,
}


def validate(scenario: TenantScenario) -> None:
    """Refuse declared mutations that name a missing item, path or array."""
    check_declaration(scenario)
    if not scenario.mutations:
        return
    last = max(m.epoch for m in scenario.mutations)
    probe = TenantData(
        dataclasses.replace(scenario, generation=last), dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    )
    known: dict[str, int] = {}
    for effect in probe.state.all_effects:
        m, where = effect.mutation, f"{scenario.tenant_id}: mutations[{effect.position}]"
        known.setdefault(m.collection, base_count(scenario, m.collection))
        if m.kind == "add":
            known[m.collection] += 1
            continue
        if m.kind == "churn" and m.index is None:
            continue
        if not 0 <= effect.index < known[m.collection]:
            raise ScenarioError(f"{where}: {m.collection} has no item {effect.index}")
        if m.kind in ("set", "reorder"):
            item = probe.item_at(m.collection, effect.index, effect.position)
            if not has_path(item, m.path):
                raise ScenarioError(f"{where}: the item has no {m.path!r}")
            if m.kind == "reorder" and not isinstance(item[m.path], list):
                raise ScenarioError(f"{where}: {m.path!r} is not an array")


def _count(counts: dict[str, int], t: Traits, sign: int, *, stale: bool = True) -> None:
    for key in (f"compliance:{t.compliance}", f"os:{t.os}", f"agent:{t.agent}",
                f"exchange:{t.exchange}"):  # fmt: skip
        counts[key] += sign
    if t.android_kind:
        counts[f"android:{t.android_kind}"] += sign
    if stale and t.sync_age_minutes > STALE_AFTER_DAYS * 1440:
        counts["stale"] += sign


@functools.lru_cache(maxsize=64)
def _population_counts(tid: str, seed: int, total: int) -> dict[str, int]:
    """Counts over the whole population; cached because it walks every device's traits.

    Staleness is an age (``sync_age_minutes``), so the counts do not depend on the anchor.
    """
    counts: dict[str, int] = {
        f"compliance:{name}": 0 for name in ("compliant", *(n for n, _ in _COMPLIANCE_WEIGHTS))
    }
    for key in ("os:Windows", "os:iOS", "os:Android", "os:macOS", "stale"):
        counts[key] = 0
    for key in ("android:workProfile", "android:fullyManaged", "android:dedicated"):
        counts[key] = 0
    counts["android:corporateWorkProfile"] = 0
    for key in ("agent:mdm", "agent:easMdm", "agent:configurationManagerClientMdm"):
        counts[key] = 0
    for key in ("none", "allowed", "blocked", "quarantined", "unknown"):
        counts[f"exchange:{key}"] = 0
    stale_minutes = STALE_AFTER_DAYS * 1440
    primed = _device_hasher(tid, seed)
    for index in range(total):
        hasher = primed.copy()
        hasher.update(b"%d" % index)
        t = _traits(hasher.digest())
        counts[f"compliance:{t.compliance}"] += 1
        counts[f"os:{t.os}"] += 1
        counts[f"agent:{t.agent}"] += 1
        counts[f"exchange:{t.exchange}"] += 1
        if t.android_kind:
            counts[f"android:{t.android_kind}"] += 1
        if t.sync_age_minutes > stale_minutes:
            counts["stale"] += 1
    return counts
