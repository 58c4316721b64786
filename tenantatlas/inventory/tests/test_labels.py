"""Product names instead of Graph type names, and the platform column of policies and apps."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from django.urls import reverse

from tenantatlas.inventory import labels
from tenantatlas.inventory.labels import (
    item_platform,
    item_type,
    readable,
    settings_catalog_platforms,
    type_label,
    type_platform,
)
from tenantatlas.operations.tests.factories import make_item
from tenantatlas.testing import client_for

SIMULATOR = Path(labels.__file__).resolve().parent.parent / "simulator"
G = "#microsoft.graph."


def _simulator_types() -> set[str]:
    """Every Graph type the simulator emits, as its sources name them."""
    found: set[str] = set()
    for source in ("catalog.py", "data.py"):
        text = (SIMULATOR / source).read_text()
        found |= set(re.findall(r"#microsoft\.graph\.([A-Za-z0-9]+)", text))
        # The catalog's tables name the type first: ("iosVppApp", "Intune Company Portal", …).
        found |= set(re.findall(r'^\s+\("([a-z][A-Za-z0-9]+)", "', text, flags=re.MULTILINE))
    return {name for name in found if not re.fullmatch(r"windows10|macOS|iOS", name)}


def test_it_names_every_type_the_simulator_emits() -> None:
    emitted = _simulator_types()

    assert {"iosVppApp", "windows10CompliancePolicy", "managedDevice"} <= emitted
    assert sorted(emitted - set(labels.TYPES)) == []


@pytest.mark.parametrize(
    ("odata_type", "label", "platform"),
    [
        ("iosVppApp", "iOS VPP app", "iOS/iPadOS"),
        ("windows10CompliancePolicy", "Windows 10/11 compliance policy", "Windows"),
        ("win32LobApp", "Windows app (Win32)", "Windows"),
        ("androidWorkProfileCompliancePolicy", None, "Android Enterprise"),
        ("macOSOfficeSuiteApp", "Microsoft 365 Apps (macOS)", "macOS"),
        ("webApp", "Web link", "Web"),
        ("aospDeviceOwnerCompliancePolicy", "Android (AOSP) compliance policy", "Android (AOSP)"),
    ],
)
def test_it_uses_intune_names_and_platforms(
    odata_type: str, label: str | None, platform: str
) -> None:
    assert type_platform(G + odata_type) == platform
    if label:
        assert type_label(G + odata_type) == label
    assert not type_label(G + odata_type).startswith("#")


@pytest.mark.parametrize(
    ("name", "label", "platform"),
    [
        ("windows11FutureCompliancePolicy", "Windows 11 future compliance policy", "Windows"),
        ("iosNewWiFiConfiguration", "iOS new Wi-Fi configuration", "iOS/iPadOS"),
        ("androidDeviceOwnerKioskThing", "Android device owner kiosk thing", "Android Enterprise"),
        ("macOSDmgLikeApp", "macOS DMG like app", "macOS"),
        ("someFutureSCEPProfile", "Some future SCEP profile", ""),
    ],
)
def test_it_derives_a_readable_name_for_a_type_it_does_not_know(
    name: str, label: str, platform: str
) -> None:
    assert name not in labels.TYPES
    assert type_label(G + name) == label
    assert readable(name) == label
    assert type_platform(G + name) == platform


def test_it_names_settings_catalog_policies_by_template_and_platforms() -> None:
    kind = "configuration_policy"

    assert item_type(kind, "", "none") == "Settings catalog policy"
    assert item_type(kind, "", None) == "Settings catalog policy"
    assert item_type(kind, "", "baseline") == "Security baseline"
    assert item_type(kind, "", "endpointSecurityFirewall") == "Endpoint security: firewall"
    assert item_platform(kind, "", "windows10") == "Windows"
    assert item_platform(kind, "", "iOS,macOS") == "iOS/iPadOS, macOS"
    assert settings_catalog_platforms("linux") == "Linux"
    assert settings_catalog_platforms("none") == ""
    assert settings_catalog_platforms(None) == ""


def test_it_shows_product_names_and_platforms_in_the_list_and_on_the_item(
    alice: Any, contoso: Any
) -> None:
    ws = contoso.workspace
    make_item(ws, contoso, kind="mobile_app", display_name="Portal", odata_type=G + "iosVppApp")
    make_item(ws, contoso, kind="mobile_app", display_name="Agent", odata_type=G + "win32LobApp")
    future = make_item(
        ws, contoso, kind="mobile_app", display_name="Future", odata_type=G + "visionOSStoreApp"
    )
    policy = make_item(
        ws,
        contoso,
        kind="configuration_policy",
        display_name="Firewall",
        raw={
            "platforms": "windows10",
            "templateReference": {"templateFamily": "endpointSecurityFirewall"},
        },
    )
    client = client_for(alice)

    apps = client.get(reverse("inventory:list", args=["acme"]), {"kind": "mobile_app"})
    catalog = client.get(
        reverse("inventory:list", args=["acme"]), {"kind": "configuration_policy"}
    ).content.decode()
    item = client.get(reverse("inventory:item", args=["acme", future.pk])).content.decode()
    policy_page = client.get(reverse("inventory:item", args=["acme", policy.pk])).content.decode()

    body = apps.content.decode()
    assert "<td>iOS VPP app</td>" in body
    assert "<td>iOS/iPadOS</td>" in body
    assert "<td>Windows app (Win32)</td>" in body
    assert "<td>visionOS store app</td>" in body
    assert G not in body
    assert "<td>Endpoint security: firewall</td>" in catalog
    assert "<td>Windows</td>" in catalog
    assert "<dt>Type</dt><dd>visionOS store app</dd>" in item
    assert "<dt>Platform</dt><dd>Windows</dd>" in policy_page


def test_it_filters_policies_and_apps_by_platform(alice: Any, contoso: Any) -> None:
    ws = contoso.workspace
    for name, odata_type in [
        ("Portal", "iosVppApp"),
        ("Clip", "iosiPadOSWebClip"),
        ("Agent", "win32LobApp"),
        ("Teams", "androidStoreApp"),
        ("Play", "androidManagedStoreApp"),
        ("Future iOS", "iosFutureApp"),
    ]:
        make_item(ws, contoso, kind="mobile_app", display_name=name, odata_type=G + odata_type)
    for name, platforms in [("Win", "windows10"), ("Apple", "iOS,macOS"), ("Tux", "linux")]:
        make_item(
            ws,
            contoso,
            kind="configuration_policy",
            display_name=name,
            raw={"platforms": platforms},
        )
    client = client_for(alice)

    def names(kind: str, platform: str) -> list[str]:
        response = client.get(
            reverse("inventory:list", args=["acme"]), {"kind": kind, "platform": platform}
        )
        assert response.status_code == 200
        return [item.display_name for item in response.context["page"].items]

    assert names("mobile_app", "iOS/iPadOS") == ["Clip", "Future iOS", "Portal"]
    assert names("mobile_app", "ipados") == ["Clip", "Future iOS", "Portal"]
    assert names("mobile_app", "Windows") == ["Agent"]
    assert names("mobile_app", "Android") == ["Play", "Teams"]
    assert names("mobile_app", "Android Enterprise") == ["Play"]
    assert names("mobile_app", "Amiga") == []
    assert names("configuration_policy", "macOS") == ["Apple"]
    assert names("configuration_policy", "iOS") == ["Apple"]
    assert names("configuration_policy", "windows") == ["Win"]
    assert names("configuration_policy", "Linux") == ["Tux"]
    assert names("configuration_policy", "Android") == []
