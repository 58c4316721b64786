"""The inventory pages in Chromium: devices list, stale filter, CSV export, compliance history.

Inventory rows and snapshots are seeded in the database (no sync); the pages are opened at a
laptop width (1366 px) and a phone width (390 px), where no page may be wider than the window
(tables scroll inside their own box). Screenshots go to ``test-artifacts/screenshots/``.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from typing import Any

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from tenantatlas.operations.tests.factories import make_item, make_snapshot
from tenantatlas.testing import make_connection
from tests.e2e.conftest import assert_fits, csp_problems, screenshot, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("fast_passwords")]

WIDTHS = {"laptop": (1366, 860), "phone": (390, 844)}
G = "#microsoft.graph."


def _seed(acme: Any, alice: Any) -> Any:
    contoso = make_connection(acme, alice, name="Contoso")
    now = timezone.now()
    states = ["compliant", "noncompliant", "inGracePeriod", "compliant", "unknown"]
    for i in range(12):
        make_item(
            acme,
            contoso,
            display_name=f"CON-LAPTOP-{i:02d}",
            user_principal_name=f"user{i}@contoso.test",
            platform="Windows" if i % 2 else "iOS",
            os_version="10.0.22631.4460" if i % 2 else "18.1",
            compliance_state=states[i % len(states)],
            last_sync_at=None if i == 3 else now - dt.timedelta(days=30 if i % 4 == 0 else 1),
        )
    make_item(
        acme, contoso, kind="mobile_app", display_name="Company Portal", odata_type=G + "iosVppApp"
    )
    for day, (ok, bad) in enumerate([(70, 20), (75, 18), (80, 12)]):
        make_snapshot(
            acme,
            contoso,
            compliant=ok,
            noncompliant=bad,
            in_grace_period=3,
            conflict=1,
            error=1,
            unknown=2,
            config_manager=1,
            stale=4 + day,
            taken_at=now - dt.timedelta(days=2 - day),
        )
    return contoso


def test_the_devices_list_filters_stale_devices_and_exports_them(
    page: Page, live_server: Any, transactional_db: Any, acme: Any, alice: Any
) -> None:
    _seed(acme, alice)
    base = live_server.url
    sign_in(page, base)

    for name, (width, height) in WIDTHS.items():
        page.set_viewport_size({"width": width, "height": height})
        page.goto(f"{base}/w/acme/inventory/?kind=managed_device")
        expect(page.locator(".inventory-total")).to_contain_text("12 devices")
        assert_fits(page)
        screenshot(page, f"inventory-devices-{name}")
    page.set_viewport_size({"width": 1366, "height": 860})

    # The stale switch narrows the list in place (htmx) and the URL follows.
    page.get_by_label("Stale only").check()
    expect(page.locator(".inventory-total")).to_contain_text("4 devices")
    expect(page).to_have_url(re.compile(r"[?&]stale=1(&|$)"))  # htmx pushes the filters
    expect(page.locator("table.inventory tbody tr")).to_have_count(4)
    screenshot(page, "inventory-devices-stale")

    # Export CSV carries the filter: the download holds the same four devices.
    with page.expect_download() as info:
        page.get_by_role("link", name="Export CSV").click()
    download = info.value
    assert download.suggested_filename.startswith("acme-managed-devices-")
    assert download.suggested_filename.endswith(".csv")
    path = download.path()
    rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8"))))
    assert rows[0][:3] == ["Device", "Graph id", "User (UPN)"]
    assert sorted(r[0] for r in rows[1:]) == [
        "CON-LAPTOP-00",
        "CON-LAPTOP-03",
        "CON-LAPTOP-04",
        "CON-LAPTOP-08",
    ]

    # Apps show Intune's names, not Graph's type names.
    page.goto(f"{base}/w/acme/inventory/?kind=mobile_app")
    expect(page.locator("table.inventory")).to_contain_text("iOS VPP app")
    expect(page.locator("table.inventory")).not_to_contain_text("#microsoft.graph.")
    assert csp_problems(page) == []


def test_the_compliance_page_fits_and_its_counts_lead_to_the_devices(
    page: Page, live_server: Any, transactional_db: Any, acme: Any, alice: Any
) -> None:
    contoso = _seed(acme, alice)
    base = live_server.url
    sign_in(page, base)

    for name, (width, height) in WIDTHS.items():
        page.set_viewport_size({"width": width, "height": height})
        page.goto(f"{base}/w/acme/compliance/")
        expect(page.locator(".compliance-legend li")).to_have_count(8)
        expect(page.locator("table.snapshots tbody tr")).to_have_count(3)
        assert_fits(page)
        screenshot(page, f"compliance-{name}")

    # The phone's legend wraps: every entry is inside the window.
    boxes = page.locator(".compliance-legend li").evaluate_all(
        "items => items.map(i => i.getBoundingClientRect().right)"
    )
    assert max(boxes) <= 390

    page.locator(".compliance-legend a", has_text="Not compliant").click()
    expect(page).to_have_url(
        f"{base}/w/acme/inventory/?kind=managed_device&connection={contoso.pk}"
        "&compliance_state=noncompliant"
    )
    expect(page.locator("table.inventory tbody tr")).to_have_count(3)  # i % 5 == 1

    page.goto(f"{base}/w/acme/compliance/")
    page.locator("table.snapshots tbody tr").first.get_by_role("link", name="6").click()
    expect(page).to_have_url(
        f"{base}/w/acme/inventory/?kind=managed_device&connection={contoso.pk}&stale=1"
    )
    expect(page.locator(".inventory-total")).to_contain_text("4 devices")
    assert csp_problems(page) == []
