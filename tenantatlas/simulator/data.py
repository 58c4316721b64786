"""Deterministic tenant content: devices, policies, apps and the summaries derived from them.

Nothing is stored: item ``i`` of a tenant is computed from ``(tenant_id, seed, i)`` on
every request, so a 250,000-device tenant costs no memory and each page can be built
straight from its offset. One BLAKE2b digest per device feeds every random choice; the
summaries count the same cheap "traits" the devices are built from, so they always agree
with the device list.

Mutation: at ``generation`` g > 0 the last ``g * removed_per_generation(device_count)``
devices no longer exist, every 20th remaining device (``i % 20 == 0``) and every 4th
policy/configuration/app carry a ``(v{g})``-style rename, so a later sync sees a known
number of updated and removed items.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
from collections.abc import Iterator
from typing import Any

from tenantatlas.simulator import catalog
from tenantatlas.simulator.catalog import Traits
from tenantatlas.simulator.scenarios import TenantScenario
from tenantatlas.simulator.values import guid_from, iso, stable_guid

STALE_AFTER_DAYS = 7

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


def removed_per_generation(device_count: int) -> int:
    """Devices removed from the end of the list by each generation step (1 %, at least 1)."""
    return max(1, device_count // 100)


def effective_device_count(scenario: TenantScenario) -> int:
    """How many devices the tenant has at its current generation."""
    removed = scenario.generation * removed_per_generation(scenario.device_count)
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
    """The generated content of one tenant at one generation, relative to ``anchor``.

    ``anchor`` is "now" for the data: last sync times are anchor minus an age, so staleness
    is stable for the lifetime of a server (it is fixed when the server starts).
    """

    def __init__(self, scenario: TenantScenario, anchor: dt.datetime) -> None:
        self.scenario = scenario
        # Naive UTC internally: formatting naive datetimes is several times cheaper.
        self.anchor = anchor.astimezone(dt.UTC).replace(tzinfo=None, microsecond=0)
        self.tid = scenario.tenant_id.lower()
        self.device_total = effective_device_count(scenario)
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
        indexes = range(max(0, offset), min(self.device_total, offset + limit))
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

    def _slim_device(self, index: int) -> dict[str, Any]:
        digest = self._device_digest(index)
        t = _traits(digest)
        return {
            "@odata.type": DEVICE_TYPE,
            "id": guid_from(digest[16:]),
            "lastSyncDateTime": iso(self.anchor - dt.timedelta(minutes=t.sync_age_minutes)),
            "operatingSystem": t.os,
            "complianceState": t.compliance,
            "managementAgent": t.agent,
            "managedDeviceOwnerType": t.owner,
            "exchangeAccessState": t.exchange,
        }

    def device(self, index: int) -> dict[str, Any]:
        digest = self._device_digest(index)
        t = _traits(digest)
        return catalog.build_device(self, index, digest, t)

    def rename_suffix(self, index: int) -> str:
        generation = self.scenario.generation
        return f"-v{generation}" if is_renamed_device(index, generation) else ""

    def item_renamed(self, index: int) -> bool:
        return is_renamed_item(index, self.scenario.generation)

    # -- summaries ---------------------------------------------------------------------
    def counts(self) -> dict[str, int]:
        """Counts by trait, shared by both summary singletons."""
        return _population_counts(self.tid, self.scenario.seed, self.device_total)

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
    def compliance_policies(self) -> list[dict[str, Any]]:
        return [
            catalog.build_compliance_policy(self, i)
            for i in range(self.scenario.compliance_policy_count)
        ]

    def device_configurations(self) -> list[dict[str, Any]]:
        return [
            catalog.build_device_configuration(self, i)
            for i in range(self.scenario.configuration_count)
        ]

    def configuration_policies(self) -> list[dict[str, Any]]:
        return [
            catalog.build_configuration_policy(self, i)
            for i in range(self.scenario.configuration_policy_count)
        ]

    def mobile_apps(self) -> list[dict[str, Any]]:
        return [catalog.build_mobile_app(self, i) for i in range(self.scenario.app_count)]

    def organization(self) -> dict[str, Any]:
        return catalog.build_organization(self)


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
