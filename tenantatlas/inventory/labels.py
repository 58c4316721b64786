"""Product names for Graph types, and the platform an inventory item is for.

The inventory stores Graph's `@odata.type` (`#microsoft.graph.iosVppApp`); people read the names
the Intune admin center uses ("iOS VPP app"). `type_label` answers that name for every type the
product knows and a readable name derived from any other one (never the raw Graph string).
`item_platform` answers the platform a policy or app is for, from its type, or for a settings
catalog policy from its `platforms` property (Graph's `deviceManagementConfigurationPlatforms`
flags, e.g. `"iOS,macOS"`). `platform_filter` turns a platform typed in the list's filter into
the database condition that finds the same items.
"""

from __future__ import annotations

import re
from typing import Any

from django.db.models import Q

from tenantatlas.inventory.models import InventoryKind

NAMESPACE = "#microsoft.graph."

WINDOWS = "Windows"
IOS = "iOS/iPadOS"
MACOS = "macOS"
ANDROID = "Android"
ANDROID_ENTERPRISE = "Android Enterprise"
ANDROID_AOSP = "Android (AOSP)"
LINUX = "Linux"
WEB = "Web"
# In the order the filter suggests them.
PLATFORMS = (WINDOWS, IOS, MACOS, ANDROID, ANDROID_ENTERPRISE, ANDROID_AOSP, LINUX, WEB)
# Typing "Android" finds every Android management mode.
_FAMILIES = {ANDROID: (ANDROID, ANDROID_ENTERPRISE, ANDROID_AOSP)}
_ALIASES = {
    **{platform.lower(): platform for platform in PLATFORMS},
    "ios": IOS,
    "ipados": IOS,
    "aosp": ANDROID_AOSP,
    "android aosp": ANDROID_AOSP,
    "android device administrator": ANDROID,
    "windows 10 and later": WINDOWS,
    "windows 10/11": WINDOWS,
}
# What a device reports as its operating system, for each platform spelled differently.
_DEVICE_SYSTEMS = {IOS: ("iOS", "iPadOS")}

# Graph type (without the namespace) → (Intune admin center name, platform).
TYPES: dict[str, tuple[str, str]] = {
    "managedDevice": ("Managed device", ""),
    # Compliance policies
    "windows10CompliancePolicy": ("Windows 10/11 compliance policy", WINDOWS),
    "windows81CompliancePolicy": ("Windows 8.1 compliance policy", WINDOWS),
    "windows10MobileCompliancePolicy": ("Windows 10 Mobile compliance policy", WINDOWS),
    "windowsPhone81CompliancePolicy": ("Windows Phone 8.1 compliance policy", WINDOWS),
    "iosCompliancePolicy": ("iOS/iPadOS compliance policy", IOS),
    "macOSCompliancePolicy": ("macOS compliance policy", MACOS),
    "androidCompliancePolicy": ("Android device administrator compliance policy", ANDROID),
    "androidWorkProfileCompliancePolicy": (
        "Android Enterprise personally-owned work profile compliance policy",
        ANDROID_ENTERPRISE,
    ),
    "androidDeviceOwnerCompliancePolicy": (
        "Android Enterprise fully managed, dedicated and corporate-owned work profile "
        "compliance policy",
        ANDROID_ENTERPRISE,
    ),
    "androidForWorkCompliancePolicy": ("Android for Work compliance policy", ANDROID_ENTERPRISE),
    "aospDeviceOwnerCompliancePolicy": ("Android (AOSP) compliance policy", ANDROID_AOSP),
    # Device configuration profiles (templates)
    "windows10GeneralConfiguration": ("Windows device restrictions", WINDOWS),
    "windows10EndpointProtectionConfiguration": ("Windows endpoint protection", WINDOWS),
    "windowsUpdateForBusinessConfiguration": ("Windows update ring", WINDOWS),
    "windows10CustomConfiguration": ("Windows custom profile (OMA-URI)", WINDOWS),
    "sharedPCConfiguration": ("Windows shared multi-user device", WINDOWS),
    "editionUpgradeConfiguration": ("Windows edition upgrade and mode switch", WINDOWS),
    "windowsHealthMonitoringConfiguration": ("Windows health monitoring", WINDOWS),
    "windowsIdentityProtectionConfiguration": ("Windows Identity Protection", WINDOWS),
    "windowsDefenderAdvancedThreatProtectionConfiguration": (
        "Microsoft Defender for Endpoint (Windows)",
        WINDOWS,
    ),
    "windowsDeliveryOptimizationConfiguration": ("Windows delivery optimization", WINDOWS),
    "windowsDomainJoinConfiguration": ("Windows domain join", WINDOWS),
    "windowsKioskConfiguration": ("Windows kiosk", WINDOWS),
    "windows10TeamGeneralConfiguration": ("Surface Hub device restrictions", WINDOWS),
    "windows10SecureAssessmentConfiguration": ("Windows education (Take a Test)", WINDOWS),
    "windowsWifiConfiguration": ("Windows Wi-Fi", WINDOWS),
    "windows10VpnConfiguration": ("Windows VPN", WINDOWS),
    "windows81TrustedRootCertificate": ("Windows trusted certificate", WINDOWS),
    "windows81SCEPCertificateProfile": ("Windows SCEP certificate", WINDOWS),
    "windows10PkcsCertificateProfile": ("Windows PKCS certificate", WINDOWS),
    "windows81GeneralConfiguration": ("Windows 8.1 device restrictions", WINDOWS),
    "windowsPhone81GeneralConfiguration": ("Windows Phone 8.1 device restrictions", WINDOWS),
    "iosGeneralDeviceConfiguration": ("iOS/iPadOS device restrictions", IOS),
    "iosCustomConfiguration": ("iOS/iPadOS custom profile", IOS),
    "iosDeviceFeaturesConfiguration": ("iOS/iPadOS device features", IOS),
    "iosUpdateConfiguration": ("iOS/iPadOS update policy", IOS),
    "iosEasEmailProfileConfiguration": ("iOS/iPadOS email", IOS),
    "iosWiFiConfiguration": ("iOS/iPadOS Wi-Fi", IOS),
    "iosVpnConfiguration": ("iOS/iPadOS VPN", IOS),
    "iosTrustedRootCertificate": ("iOS/iPadOS trusted certificate", IOS),
    "iosScepCertificateProfile": ("iOS/iPadOS SCEP certificate", IOS),
    "iosPkcsCertificateProfile": ("iOS/iPadOS PKCS certificate", IOS),
    "macOSGeneralDeviceConfiguration": ("macOS device restrictions", MACOS),
    "macOSCustomConfiguration": ("macOS custom profile", MACOS),
    "macOSDeviceFeaturesConfiguration": ("macOS device features", MACOS),
    "macOSEndpointProtectionConfiguration": ("macOS endpoint protection", MACOS),
    "macOSExtensionsConfiguration": ("macOS extensions", MACOS),
    "macOSSoftwareUpdateConfiguration": ("macOS software update", MACOS),
    "androidGeneralDeviceConfiguration": (
        "Android device administrator device restrictions",
        ANDROID,
    ),
    "androidCustomConfiguration": ("Android device administrator custom profile", ANDROID),
    "androidWorkProfileGeneralDeviceConfiguration": (
        "Android Enterprise work profile device restrictions",
        ANDROID_ENTERPRISE,
    ),
    "androidWorkProfileCustomConfiguration": (
        "Android Enterprise work profile custom profile",
        ANDROID_ENTERPRISE,
    ),
    "androidDeviceOwnerGeneralDeviceConfiguration": (
        "Android Enterprise fully managed device restrictions",
        ANDROID_ENTERPRISE,
    ),
    "aospDeviceOwnerDeviceConfiguration": ("Android (AOSP) device restrictions", ANDROID_AOSP),
    # Apps
    "win32LobApp": ("Windows app (Win32)", WINDOWS),
    "win32CatalogApp": ("Enterprise App Catalog app (Win32)", WINDOWS),
    "winGetApp": ("Microsoft Store app (new)", WINDOWS),
    "windowsMicrosoftEdgeApp": ("Microsoft Edge (Windows 10 and later)", WINDOWS),
    "officeSuiteApp": ("Microsoft 365 Apps (Windows 10 and later)", WINDOWS),
    "windowsMobileMSI": ("Windows MSI line-of-business app", WINDOWS),
    "windowsUniversalAppX": ("Windows universal line-of-business app", WINDOWS),
    "windowsAppX": ("Windows AppX line-of-business app", WINDOWS),
    "windowsStoreApp": ("Microsoft Store app (legacy)", WINDOWS),
    "microsoftStoreForBusinessApp": ("Microsoft Store for Business app", WINDOWS),
    "windowsWebApp": ("Windows web link", WINDOWS),
    "webApp": ("Web link", WEB),
    "iosStoreApp": ("iOS store app", IOS),
    "iosVppApp": ("iOS VPP app", IOS),
    "iosLobApp": ("iOS/iPadOS line-of-business app", IOS),
    "iosiPadOSWebClip": ("iOS/iPadOS web clip", IOS),
    "managedIOSStoreApp": ("Managed iOS store app", IOS),
    "managedIOSLobApp": ("Managed iOS line-of-business app", IOS),
    "macOSMicrosoftEdgeApp": ("Microsoft Edge (macOS)", MACOS),
    "macOSOfficeSuiteApp": ("Microsoft 365 Apps (macOS)", MACOS),
    "macOSMicrosoftDefenderApp": ("Microsoft Defender for Endpoint (macOS)", MACOS),
    "macOSLobApp": ("macOS line-of-business app", MACOS),
    "macOSDmgApp": ("macOS app (DMG)", MACOS),
    "macOSPkgApp": ("macOS app (PKG)", MACOS),
    "macOsVppApp": ("macOS VPP app", MACOS),
    "macOSWebClip": ("macOS web clip", MACOS),
    "androidStoreApp": ("Android store app", ANDROID),
    "androidLobApp": ("Android line-of-business app", ANDROID),
    "managedAndroidStoreApp": ("Managed Android store app", ANDROID),
    "managedAndroidLobApp": ("Managed Android line-of-business app", ANDROID),
    "androidManagedStoreApp": ("Managed Google Play store app", ANDROID_ENTERPRISE),
    "androidManagedStoreWebApp": ("Managed Google Play web link", ANDROID_ENTERPRISE),
    "androidForWorkApp": ("Android for Work app", ANDROID_ENTERPRISE),
}

# A type the product does not know gets its platform from how its name starts (longest first).
_PREFIXES: tuple[tuple[str, str], ...] = (
    ("androidWorkProfile", ANDROID_ENTERPRISE),
    ("androidDeviceOwner", ANDROID_ENTERPRISE),
    ("androidManagedStore", ANDROID_ENTERPRISE),
    ("androidForWork", ANDROID_ENTERPRISE),
    ("managedAndroid", ANDROID),
    ("managedIOS", IOS),
    ("android", ANDROID),
    ("aosp", ANDROID_AOSP),
    ("ios", IOS),
    ("macOS", MACOS),
    ("windows", WINDOWS),
    ("win32", WINDOWS),
    ("winGet", WINDOWS),
)

# Graph's deviceManagementConfigurationPlatforms values (settings catalog `platforms`).
SETTINGS_CATALOG_PLATFORMS = {
    "windows10": WINDOWS,
    "windows10X": WINDOWS,
    "macOS": MACOS,
    "iOS": IOS,
    "android": ANDROID,
    "androidEnterprise": ANDROID_ENTERPRISE,
    "aosp": ANDROID_AOSP,
    "linux": LINUX,
    "visionOS": "visionOS",
    "tvOS": "tvOS",
}
SETTINGS_CATALOG = "Settings catalog policy"
# templateReference.templateFamily of a settings catalog policy made from a template.
TEMPLATE_FAMILIES = {
    "baseline": "Security baseline",
    "endpointSecurityAntivirus": "Endpoint security: antivirus",
    "endpointSecurityDiskEncryption": "Endpoint security: disk encryption",
    "endpointSecurityFirewall": "Endpoint security: firewall",
    "endpointSecurityEndpointDetectionAndResponse": "Endpoint security: EDR",
    "endpointSecurityAttackSurfaceReduction": "Endpoint security: attack surface reduction",
    "endpointSecurityAccountProtection": "Endpoint security: account protection",
    "endpointSecurityApplicationControl": "Endpoint security: app control",
    "endpointSecurityEndpointPrivilegeManagement": "Endpoint Privilege Management",
}

# Words of a Graph name as people write them.
_WORDS = {
    "ios": "iOS",
    "macos": "macOS",
    "ipados": "iPadOS",
    "visionos": "visionOS",
    "tvos": "tvOS",
    "os": "OS",
    "aosp": "AOSP",
    "win32": "Win32",
    "lob": "line-of-business",
    "vpp": "VPP",
    "vpn": "VPN",
    "wifi": "Wi-Fi",
    "scep": "SCEP",
    "pkcs": "PKCS",
    "pfx": "PFX",
    "msi": "MSI",
    "dmg": "DMG",
    "pkg": "PKG",
    "eas": "EAS",
    "appx": "AppX",
    "windows": "Windows",
    "android": "Android",
    "microsoft": "Microsoft",
    "edge": "Edge",
    "defender": "Defender",
    "office": "Office",
    "intune": "Intune",
    "81": "8.1",
}
_SPLIT = re.compile(
    r"macOs|macOS|iPadOS|visionOS|tvOS|ios(?=iPad)|win32|Wi-?Fi|[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+"
    r"|\d+(?:X(?![a-z]))?"
)


def short_type(odata_type: str) -> str:
    return odata_type.removeprefix(NAMESPACE).strip()


def readable(name: str) -> str:
    """`windows10CompliancePolicy` → "Windows 10 compliance policy" (for types not in TYPES)."""
    words = [
        _WORDS.get(word.lower(), word if word[0].isdigit() else word.lower())
        for word in _SPLIT.findall(name)
    ]
    if not words:
        return name
    first = words[0]
    words[0] = first[:1].upper() + first[1:] if first.islower() else first
    return " ".join(words)


def type_label(odata_type: str, kind: str = "") -> str:
    """The product name of a Graph type; "" when there is no type (and no kind implying one)."""
    name = short_type(odata_type)
    if not name:
        return SETTINGS_CATALOG if kind == InventoryKind.CONFIGURATION_POLICY else ""
    known = TYPES.get(name)
    return known[0] if known else readable(name)


def template_label(family: Any) -> str:
    """A settings catalog policy's kind: its template family, else "Settings catalog policy"."""
    if isinstance(family, str) and family and family != "none":
        return TEMPLATE_FAMILIES.get(family) or readable(family)
    return SETTINGS_CATALOG


def type_platform(odata_type: str) -> str:
    name = short_type(odata_type)
    if name in TYPES:
        return TYPES[name][1]
    lowered = name.lower()
    return next((p for prefix, p in _PREFIXES if lowered.startswith(prefix.lower())), "")


def settings_catalog_platforms(value: Any) -> str:
    """`"iOS,macOS"` → "iOS/iPadOS, macOS"; `none` and empty → ""."""
    if not isinstance(value, str):
        return ""
    names: list[str] = []
    for token in (t.strip() for t in value.split(",")):
        if token and token != "none":
            name = SETTINGS_CATALOG_PLATFORMS.get(token, token)
            if name not in names:
                names.append(name)
    return ", ".join(names)


def item_platform(kind: str, odata_type: str, graph_platforms: Any = None) -> str:
    """The platform a policy or app is for (a device's platform is its operating system)."""
    if kind == InventoryKind.CONFIGURATION_POLICY:
        return settings_catalog_platforms(graph_platforms)
    return type_platform(odata_type)


def chosen_platforms(typed: str) -> tuple[str, ...]:
    """The platforms a typed filter value means ("Android" means all three Android modes)."""
    platform = _ALIASES.get(" ".join(typed.lower().split()))
    if platform is None:
        return ()
    return _FAMILIES.get(platform, (platform,))


def _flag_token(field: str, token: str) -> Q:
    """`token` is one of the comma-separated flags in `field`."""
    return (
        Q(**{f"{field}__iexact": token})
        | Q(**{f"{field}__istartswith": f"{token},"})
        | Q(**{f"{field}__iendswith": f",{token}"})
        | Q(**{f"{field}__icontains": f",{token},"})
    )


def _type_condition(platforms: tuple[str, ...]) -> Q:
    known = [NAMESPACE + name for name, (_, p) in TYPES.items() if p in platforms]
    condition = Q(odata_type__in=known)
    unknown = Q()
    for prefix, platform in _PREFIXES:
        if platform in platforms:
            unknown |= Q(odata_type__istartswith=NAMESPACE + prefix)
    if unknown:
        all_known = [NAMESPACE + name for name in TYPES]
        condition |= unknown & ~Q(odata_type__in=all_known)
    return condition


def platform_filter(kind: str, typed: str, *, graph_platforms: str = "graph_platforms") -> Q:
    """The items of `kind` for the platform typed in the filter.

    Devices match their operating system; settings catalog policies match a flag of their
    `platforms` (the queryset annotates it as `graph_platforms`); other policies and apps match
    the types of that platform. A value that names no platform matches the stored column.
    """
    platforms = chosen_platforms(typed)
    if kind == InventoryKind.MANAGED_DEVICE or not platforms:
        systems = [s for p in platforms for s in _DEVICE_SYSTEMS.get(p, (p,))] or [typed]
        condition = Q()
        for system in systems:
            condition |= Q(platform__iexact=system)
        return condition
    if kind == InventoryKind.CONFIGURATION_POLICY:
        tokens = [t for t, p in SETTINGS_CATALOG_PLATFORMS.items() if p in platforms]
        condition = Q(pk__in=[])
        for token in tokens:
            condition |= _flag_token(graph_platforms, token)
        return condition
    return _type_condition(platforms)


def item_type(kind: str, odata_type: str, template_family: Any = None) -> str:
    """What the list's Type column says: the type's name, or a settings catalog policy's kind."""
    if kind == InventoryKind.CONFIGURATION_POLICY and not short_type(odata_type):
        return template_label(template_family)
    return type_label(odata_type, kind)
