"""The settings a few concrete policy types carry, with Microsoft's v1.0 property names.

Graph returns a derived type's own properties after the inherited ones, so a Windows compliance
policy read from ``deviceCompliancePolicies`` carries ``passwordMinimumLength`` and friends.
Only properties confirmed on Microsoft's resource pages (and kept in the schema extract) are
emitted; other concrete types carry the inherited properties only. Values vary by index so two
policies of one type differ, and are the same on every call.
"""

from __future__ import annotations

from typing import Any

#: Arrays whose order carries no meaning (Graph may return them in any order).
SET_LIKE_ARRAYS = ("roleScopeTagIds", "bluetoothAllowedServices")

_BLUETOOTH_SERVICES = (
    "0000110A-0000-1000-8000-00805F9B34FB",  # audio source
    "0000110B-0000-1000-8000-00805F9B34FB",  # audio sink
    "00001124-0000-1000-8000-00805F9B34FB",  # human interface device
    "0000111E-0000-1000-8000-00805F9B34FB",  # hands-free
)


def _windows10_compliance(index: int) -> dict[str, Any]:
    return {
        "passwordRequired": True,
        "passwordBlockSimple": index % 2 == 0,
        "passwordMinimumLength": (8, 10, 12)[index % 3],
        "osMinimumVersion": ("10.0.19045", "10.0.22631")[index % 2],
        "bitLockerEnabled": True,
        "secureBootEnabled": True,
        "codeIntegrityEnabled": index % 3 != 1,
        "storageRequireEncryption": True,
    }


def _ios_compliance(index: int) -> dict[str, Any]:
    return {
        "passcodeBlockSimple": True,
        "passcodeMinimumLength": (6, 4, 8)[index % 3],
        "passcodeRequired": True,
        "osMinimumVersion": ("17.0", "17.6", "18.0")[index % 3],
    }


def _windows10_general(index: int) -> dict[str, Any]:
    count = 2 + index % 3
    return {
        "bluetoothAllowedServices": list(_BLUETOOTH_SERVICES[:count]),
        "bluetoothBlockAdvertising": index % 2 == 1,
        "bluetoothBlockDiscoverableMode": True,
    }


_BUILDERS = {
    "windows10CompliancePolicy": _windows10_compliance,
    "iosCompliancePolicy": _ios_compliance,
    "windows10GeneralConfiguration": _windows10_general,
}


def settings_for(odata_type: str, index: int) -> dict[str, Any]:
    """The derived-type settings of item ``index`` of ``odata_type`` (empty when none)."""
    builder = _BUILDERS.get(odata_type)
    return builder(index) if builder is not None else {}


def scope_tags(index: int) -> list[str]:
    """A settings catalog policy's role scope tag ids ("0" is Default)."""
    extra = [str(1 + (index * 3 + n) % 9) for n in range(index % 3)]
    return ["0", *dict.fromkeys(extra)]
