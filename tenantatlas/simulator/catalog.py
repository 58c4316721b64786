"""Realistic item payloads: names, models, OS versions and the exact Graph property shapes.

Only properties that exist on the v1.0 types (see the schema conformance test) are emitted,
and abstract types always carry a concrete ``@odata.type``.
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass
from typing import Any, Protocol

from tenantatlas.simulator.item_settings import scope_tags, settings_for
from tenantatlas.simulator.scenarios import TenantScenario
from tenantatlas.simulator.values import NO_DATE, NO_GRACE_PERIOD, guid_from, iso, stable_guid


class GeneratedTenant(Protocol):
    """What the builders read of the tenant they build for (``data.TenantData`` is one)."""

    scenario: TenantScenario
    anchor: dt.datetime  # "now" (naive UTC): what must look recent counts back from it
    epoch: dt.datetime  # a fixed day (naive UTC): what must not move counts from it
    tid: str

    def rename_suffix(self, index: int) -> str:
        """The suffix device ``index`` carries at the tenant's generation (``""`` if none)."""
        ...

    def item_renamed(self, index: int) -> bool:
        """Whether policy/configuration/app ``index`` carries a rename at this generation."""
        ...

    def sync_minutes(self, index: int, t: Traits) -> int:
        """Minutes since device ``index`` last checked in (its traits' age, moved by churn)."""
        ...

    def churn(self, index: int) -> int:
        """How many times device ``index``'s volatile fields have moved on (0: never)."""
        ...


@dataclass(frozen=True, slots=True)
class Traits:
    """The few choices summaries need, cheap to compute for every device."""

    compliance: str
    os: str
    agent: str
    exchange: str
    android_kind: str
    owner: str
    sync_age_minutes: int


FIRST_NAMES = (
    "Adele", "Alex", "Diego", "Grady", "Henrietta", "Isaiah", "Johanna", "Joni", "Lee",
    "Lidia", "Lynne", "Megan", "Miriam", "Nestor", "Patti", "Pradeep", "Amara", "Kenji",
)  # fmt: skip
LAST_NAMES = (
    "Vance", "Wilber", "Garcia", "Archie", "Cantrell", "Langer", "Lauer", "Sherman", "Gu",
    "Holloway", "Robbins", "Bowen", "Graham", "Motsepe", "Johnson", "Gupta", "Okafor", "Sato",
)  # fmt: skip

HARDWARE = {
    "Windows": (
        ("Dell Inc.", "Latitude 7440"),
        ("LENOVO", "ThinkPad T14 Gen 4"),
        ("HP", "HP EliteBook 840 G10"),
        ("Microsoft Corporation", "Surface Laptop 5"),
    ),
    "iOS": (
        ("Apple", "iPhone 15"),
        ("Apple", "iPhone 14 Pro"),
        ("Apple", "iPad Air (5th generation)"),
    ),
    "Android": (("samsung", "SM-S911B"), ("Google", "Pixel 8"), ("samsung", "SM-A546B")),
    "macOS": (("Apple", "MacBookPro18,3"), ("Apple", "MacBookAir10,1"), ("Apple", "Mac14,2")),
}
OS_VERSIONS = {
    "Windows": ("10.0.22631.4460", "10.0.26100.2314", "10.0.19045.5131", "10.0.22621.4317"),
    "iOS": ("18.1", "17.6.1", "18.0.1"),
    "Android": ("14", "13", "15"),
    "macOS": ("15.1", "14.7.1", "13.7.1"),
}
ENROLLMENT = {
    "Windows": ("windowsAzureADJoin", "Windows Autopilot - User driven"),
    "iOS": ("appleBulkWithUser", "Corporate iOS (ADE)"),
    "Android": ("userEnrollment", None),
    "macOS": ("appleBulkWithUser", "Corporate macOS (ADE)"),
}
GIB = 1024**3


@functools.lru_cache(maxsize=4096)
def _user_guid(tid: str, user_index: int) -> str:
    return stable_guid("user", tid, user_index)


def _name(index: int) -> tuple[str, str]:
    return FIRST_NAMES[index % len(FIRST_NAMES)], LAST_NAMES[(index // 7) % len(LAST_NAMES)]


@dataclass(frozen=True, slots=True)
class _Holder:
    """The user a device is enrolled for, and when and under which name it was enrolled."""

    user_index: int
    first: str
    last: str
    upn: str
    enrolled: dt.datetime
    serial: str
    suffix: str
    sync_minutes: int
    churn: int


def build_device(data: GeneratedTenant, index: int, digest: bytes, t: Traits) -> dict[str, Any]:
    """One managedDevice; every value comes from ``digest`` so it is the same on every call."""
    user_index = int.from_bytes(digest[11:13]) % max(1, data.scenario.device_count * 4 // 5)
    first, last = _name(user_index)
    holder = _Holder(
        user_index=user_index,
        first=first,
        last=last,
        upn=f"{first.lower()}.{last.lower()}{user_index}@{data.scenario.default_domain}",
        enrolled=data.epoch - dt.timedelta(days=30 + digest[12] * 3, minutes=digest[13] * 7),
        serial=digest[20:26].hex().upper(),
        suffix=data.rename_suffix(index),
        sync_minutes=data.sync_minutes(index, t),
        churn=data.churn(index),
    )
    return {
        **_enrolment_properties(data, digest, t, holder),
        **_hardware_properties(data, digest, t, holder),
    }


def _device_name(domain: str, t: Traits, holder: _Holder) -> str:
    enrolled = holder.enrolled
    if t.os == "Windows":
        return f"{domain[:3].upper()}-{holder.serial[:7]}{holder.suffix}"
    if t.os == "macOS":
        return f"{holder.first}'s MacBook{holder.suffix}"
    hour = enrolled.hour % 12 or 12
    stamp = f"{enrolled.month}/{enrolled.day}/{enrolled.year}_{hour}:{enrolled.minute:02d}"
    return f"{holder.first}_{t.os}_{stamp} {'AM' if enrolled.hour < 12 else 'PM'}{holder.suffix}"


def _enrollment_type(t: Traits) -> str:
    if t.os == "Android" and t.android_kind != "workProfile":
        return "deviceEnrollmentManager" if t.android_kind == "dedicated" else "userEnrollment"
    return ENROLLMENT[t.os][0]


def _enrolment_properties(
    data: GeneratedTenant, digest: bytes, t: Traits, holder: _Holder
) -> dict[str, Any]:
    """The first half of a managedDevice, in Graph's property order: who, when, how managed."""
    enrolled = holder.enrolled
    eas = t.agent == "easMdm"
    return {
        "@odata.type": "#microsoft.graph.managedDevice",
        "id": guid_from(digest[16:]),
        "userId": _user_guid(data.tid, holder.user_index),
        "deviceName": _device_name(data.scenario.default_domain, t, holder),
        "managedDeviceOwnerType": t.owner,
        "enrolledDateTime": iso(enrolled),
        "lastSyncDateTime": iso(data.anchor - dt.timedelta(minutes=holder.sync_minutes)),
        "operatingSystem": t.os,
        "complianceState": t.compliance,
        "jailBroken": "False" if t.os in ("iOS", "Android") else "Unknown",
        "managementAgent": t.agent,
        "osVersion": OS_VERSIONS[t.os][digest[16] % len(OS_VERSIONS[t.os])],
        "easActivated": eas,
        "easDeviceId": digest[17:25].hex().upper() if eas else "",
        "easActivationDateTime": iso(enrolled) if eas else NO_DATE,
        "azureADRegistered": True,
        "deviceEnrollmentType": _enrollment_type(t),
    }


def _hardware_properties(
    data: GeneratedTenant, digest: bytes, t: Traits, holder: _Holder
) -> dict[str, Any]:
    """The second half of a managedDevice, in Graph's property order: hardware and state."""
    manufacturer, model = HARDWARE[t.os][digest[9] % len(HARDWARE[t.os])]
    is_phone = t.os in ("iOS", "Android") and "iPad" not in model
    grace = NO_GRACE_PERIOD
    if t.compliance == "inGracePeriod":
        grace = iso(data.anchor + dt.timedelta(days=digest[14] % 7 + 1))
    total_storage = (128, 256, 512)[digest[15] % 3] * GIB
    free_share = 20 + (digest[27] + 7 * holder.churn) % 60
    exchange_sync = NO_DATE
    if holder.churn and t.agent == "easMdm":
        minutes = holder.sync_minutes + 1 + digest[28] % 50
        exchange_sync = iso(data.anchor - dt.timedelta(minutes=minutes))
    enrolled = holder.enrolled
    return {
        "activationLockBypassCode": None,
        "emailAddress": holder.upn,
        "azureADDeviceId": guid_from(digest[8:24]),
        "deviceRegistrationState": "registered",
        "deviceCategoryDisplayName": "Unknown Category",
        "isSupervised": t.os == "iOS" and t.owner == "company",
        "exchangeLastSuccessfulSyncDateTime": exchange_sync,
        "exchangeAccessState": t.exchange,
        "remoteAssistanceSessionUrl": None,
        "remoteAssistanceSessionErrorDetails": None,
        "isEncrypted": digest[18] > 12,
        "userPrincipalName": holder.upn,
        "model": model,
        "manufacturer": manufacturer,
        "imei": f"35{int.from_bytes(digest[19:26]) % 10**13:013d}" if is_phone else "",
        "complianceGracePeriodExpirationDateTime": grace,
        "serialNumber": holder.serial,
        "phoneNumber": "",
        "androidSecurityPatchLevel": "2024-11-01" if t.os == "Android" else "",
        "userDisplayName": f"{holder.first} {holder.last}",
        "configurationManagerClientEnabledFeatures": None,
        "wiFiMacAddress": digest[26:32].hex().upper(),
        "deviceHealthAttestationState": None,
        "subscriberCarrier": "",
        "meid": "",
        "totalStorageSpaceInBytes": total_storage,
        "freeStorageSpaceInBytes": total_storage * free_share // 100,
        "managedDeviceName": f"{holder.first}_{t.os}_{enrolled.date().isoformat()}{holder.suffix}",
        "ethernetMacAddress": None,
        "physicalMemoryInBytes": 0,
        "managementCertificateExpirationDate": iso(enrolled + dt.timedelta(days=365)),
        "udid": None,
        "iccid": None,
        "notes": None,
        "enrollmentProfileName": ENROLLMENT[t.os][1],
        "requireUserEnrollmentApproval": None,
        "managementState": "managed",
        "deviceActionResults": [],
    }


COMPLIANCE_POLICIES = (
    ("windows10CompliancePolicy", "Windows 10/11 - Baseline compliance"),
    ("iosCompliancePolicy", "iOS/iPadOS - Minimum OS and passcode"),
    ("androidWorkProfileCompliancePolicy", "Android Enterprise - Personal work profile"),
    ("macOSCompliancePolicy", "macOS - FileVault and firewall"),
    ("androidCompliancePolicy", "Android device administrator - Legacy"),
    ("windows81CompliancePolicy", "Windows 8.1 - Legacy kiosks"),
    ("windows10MobileCompliancePolicy", "Windows 10 Mobile - Retired fleet"),
    ("windowsPhone81CompliancePolicy", "Windows Phone 8.1 - Retired fleet"),
)
DEVICE_CONFIGURATIONS = (
    ("windows10GeneralConfiguration", "Windows - Device restrictions"),
    ("windows10EndpointProtectionConfiguration", "Windows - Endpoint protection"),
    ("windowsUpdateForBusinessConfiguration", "Windows - Update ring Broad"),
    ("windows10CustomConfiguration", "Windows - OMA-URI custom settings"),
    ("iosGeneralDeviceConfiguration", "iOS - Device restrictions"),
    ("macOSGeneralDeviceConfiguration", "macOS - Device restrictions"),
    ("androidWorkProfileGeneralDeviceConfiguration", "Android work profile - Restrictions"),
    ("sharedPCConfiguration", "Windows - Shared PC (front desk)"),
    ("iosCustomConfiguration", "iOS - Custom Wi-Fi profile"),
    ("editionUpgradeConfiguration", "Windows - Edition upgrade to Enterprise"),
)
CONFIGURATION_POLICIES = (
    ("windows10", "mdm,microsoftSense", "endpointSecurityAntivirus", "Defender Antivirus"),
    ("windows10", "mdm", "none", None),
    ("macOS", "mdm", "none", None),
    ("windows10", "mdm,microsoftSense", "endpointSecurityFirewall", "Windows Firewall"),
    ("iOS", "mdm", "none", None),
    ("windows10", "mdm", "baseline", "Security Baseline for Windows 10 and later"),
)
CONFIGURATION_POLICY_NAMES = (
    "EDR - Defender Antivirus", "Windows - Settings catalog baseline", "macOS - Login items",
    "Firewall - Domain profile", "iOS - Managed Safari", "Security baseline - November 2024",
)  # fmt: skip
MOBILE_APPS = (
    ("windowsMicrosoftEdgeApp", "Microsoft Edge for Windows 10 and later", "Microsoft"),
    ("macOSMicrosoftEdgeApp", "Microsoft Edge for macOS", "Microsoft"),
    ("iosStoreApp", "Microsoft Authenticator", "Microsoft Corporation"),
    ("androidStoreApp", "Microsoft Teams", "Microsoft Corporation"),
    ("iosVppApp", "Intune Company Portal", "Microsoft Corporation"),
    ("macOSOfficeSuiteApp", "Microsoft 365 Apps for macOS", "Microsoft"),
    ("webApp", "Intranet portal", "IT Department"),
    ("macOSMicrosoftDefenderApp", "Microsoft Defender for Endpoint (macOS)", "Microsoft"),
    ("windowsWebApp", "HR self-service", "IT Department"),
    ("iosiPadOSWebClip", "IT help desk", "IT Department"),
    ("microsoftStoreForBusinessApp", "Company Portal", "Microsoft Corporation"),
    ("androidStoreApp", "Microsoft Outlook", "Microsoft Corporation"),
)


def _item_common(
    data: GeneratedTenant, kind: str, index: int, base_name: str, cycle: int
) -> dict[str, Any]:
    generation = data.scenario.generation
    renamed = data.item_renamed(index)
    round_ = index // cycle
    name = base_name if round_ == 0 else f"{base_name} #{round_ + 1}"
    created = data.epoch - dt.timedelta(days=400 - (index * 7) % 300, hours=index % 24)
    modified = created + dt.timedelta(days=3 + index % 40)
    if renamed:
        name = f"{name} (v{generation})"
        modified = data.epoch + dt.timedelta(hours=generation)
    return {
        "id": stable_guid(kind, data.tid, data.scenario.seed, index),
        "name": name,
        "createdDateTime": iso(created),
        "lastModifiedDateTime": iso(modified),
        "version": 1 + (generation if renamed else 0) + index % 3,
    }


def _policy(
    data: GeneratedTenant, kind: str, index: int, table: tuple[tuple[str, str], ...]
) -> dict[str, Any]:
    odata_type, base_name = table[index % len(table)]
    common = _item_common(data, kind, index, base_name, len(table))
    return {
        "@odata.type": f"#microsoft.graph.{odata_type}",
        "id": common["id"],
        "createdDateTime": common["createdDateTime"],
        "description": f"Managed by IT. {base_name}.",
        "lastModifiedDateTime": common["lastModifiedDateTime"],
        "displayName": common["name"],
        "version": common["version"],
        **settings_for(odata_type, index),
    }


def build_compliance_policy(data: GeneratedTenant, index: int) -> dict[str, Any]:
    return _policy(data, "compliancePolicy", index, COMPLIANCE_POLICIES)


def build_device_configuration(data: GeneratedTenant, index: int) -> dict[str, Any]:
    return _policy(data, "deviceConfiguration", index, DEVICE_CONFIGURATIONS)


def build_configuration_policy(data: GeneratedTenant, index: int) -> dict[str, Any]:
    """A settings catalog policy (beta shape: ``name``, not ``displayName``)."""
    platform, technologies, family, template = CONFIGURATION_POLICIES[
        index % len(CONFIGURATION_POLICIES)
    ]
    base_name = CONFIGURATION_POLICY_NAMES[index % len(CONFIGURATION_POLICY_NAMES)]
    common = _item_common(
        data, "configurationPolicy", index, base_name, len(CONFIGURATION_POLICIES)
    )
    return {
        "createdDateTime": common["createdDateTime"],
        "creationSource": None,
        "description": "",
        "lastModifiedDateTime": common["lastModifiedDateTime"],
        "name": common["name"],
        "platforms": platform,
        "priorityMetaData": None,
        "roleScopeTagIds": scope_tags(index),
        "settingCount": 3 + index % 20,
        "technologies": technologies,
        "id": common["id"],
        "isAssigned": index % 3 != 2,
        "templateReference": {
            "templateId": ""
            if template is None
            else common["id"][:8] + "-0000-0000-0000-000000000001",
            "templateFamily": family,
            "templateDisplayName": template,
            "templateDisplayVersion": None if template is None else "Version 1",
        },
    }


def build_mobile_app(data: GeneratedTenant, index: int) -> dict[str, Any]:
    odata_type, base_name, publisher = MOBILE_APPS[index % len(MOBILE_APPS)]
    common = _item_common(data, "mobileApp", index, base_name, len(MOBILE_APPS))
    return {
        "@odata.type": f"#microsoft.graph.{odata_type}",
        "id": common["id"],
        "displayName": common["name"],
        "description": base_name,
        "publisher": publisher,
        "largeIcon": None,
        "createdDateTime": common["createdDateTime"],
        "lastModifiedDateTime": common["lastModifiedDateTime"],
        "isFeatured": index % 5 == 0,
        "privacyInformationUrl": "https://privacy.microsoft.com/privacystatement",
        "informationUrl": None,
        "owner": "",
        "developer": "",
        "notes": "",
        "publishingState": "published",
    }


def _verified_domain(name: str, *, default: bool, initial: bool) -> dict[str, Any]:
    return {
        "capabilities": "Email, OfficeCommunicationsOnline",
        "isDefault": default,
        "isInitial": initial,
        "name": name,
        "type": "Managed",
    }


def build_organization(data: GeneratedTenant) -> dict[str, Any]:
    scenario = data.scenario
    domain = scenario.default_domain
    initial = domain
    if not domain.endswith(".onmicrosoft.com"):
        initial = f"{domain.split('.')[0]}.onmicrosoft.com"
    domains = [_verified_domain(domain, default=True, initial=domain == initial)]
    if domain != initial:
        domains.append(_verified_domain(initial, default=False, initial=True))
    return {
        "id": scenario.organization_id or scenario.tenant_id,
        "deletedDateTime": None,
        "businessPhones": ["+1 425 555 0100"],
        "city": "Redmond",
        "country": None,
        "countryLetterCode": "US",
        "createdDateTime": iso(dt.datetime(2019, 3, 14, 9, 26, 53, tzinfo=dt.UTC)),
        "defaultUsageLocation": None,
        "displayName": scenario.display_name,
        "marketingNotificationEmails": [],
        "onPremisesLastSyncDateTime": None,
        "onPremisesSyncEnabled": None,
        "postalCode": "98052",
        "preferredLanguage": "en",
        "securityComplianceNotificationMails": [],
        "securityComplianceNotificationPhones": [],
        "state": "WA",
        "street": "1 Microsoft Way",
        "technicalNotificationMails": [f"admin@{initial}"],
        "tenantType": "AAD",
        "assignedPlans": [],
        "provisionedPlans": [],
        "verifiedDomains": domains,
    }
