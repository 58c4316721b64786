"""How Microsoft Graph's Intune objects compare between syncs, per inventory kind.

Facts behind each rule (docs/microsoft-facts.md has the sources): a managedDevice's
`lastSyncDateTime`, `freeStorageSpaceInBytes` and `exchangeLastSuccessfulSyncDateTime` change
without any admin action, so a device is compared on a chosen set of fields only; an edit gives
compliance policies and device configurations a new `lastModifiedDateTime` and `version`, and apps
and settings catalog policies a new `lastModifiedDateTime` — bookkeeping, not a setting; scope tags
(`roleScopeTagIds`) and a settings catalog policy's settings are sets; `@odata.*` annotations are
never content.
"""

from __future__ import annotations

from tenantatlas.inventory.diffs import Normalisation
from tenantatlas.inventory.models import InventoryKind

_BOOKKEEPING = frozenset({"createdDateTime", "lastModifiedDateTime", "version"})

DEVICE = Normalisation(
    tracked=frozenset(
        {
            "deviceName",
            "complianceState",
            "operatingSystem",
            "osVersion",
            "managedDeviceOwnerType",
            "userPrincipalName",
            "isEncrypted",
            "managementState",
        }
    ),
)
POLICY = Normalisation(
    volatile=_BOOKKEEPING,
    sets={
        "roleScopeTagIds": None,
        "scheduledActionsForRule": "ruleName",
        "scheduledActionsForRule.scheduledActionConfigurations": "actionType",
        "validOperatingSystemBuildRanges": None,
        "bluetoothAllowedServices": None,
    },
)
SETTINGS_CATALOG = Normalisation(
    volatile=_BOOKKEEPING | {"settingCount", "isAssigned"},
    sets={"roleScopeTagIds": None, "settings": "settingInstance.settingDefinitionId"},
)
APP = Normalisation(
    volatile=_BOOKKEEPING
    | {"uploadState", "dependentAppCount", "supersededAppCount", "supersedingAppCount"},
    sets={"roleScopeTagIds": None, "categories": "id"},
)

NORMALISATION = {
    InventoryKind.MANAGED_DEVICE: DEVICE,
    InventoryKind.COMPLIANCE_POLICY: POLICY,
    InventoryKind.DEVICE_CONFIGURATION: POLICY,
    InventoryKind.CONFIGURATION_POLICY: SETTINGS_CATALOG,
    InventoryKind.MOBILE_APP: APP,
}
