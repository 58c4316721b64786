"""The change history in Chromium: the Changes page and its filters, an item's diff, the links in.

Changes are seeded as rows (`make_change`, no sync); the pages are opened at a laptop width
(1366×768) and a phone width (390×844), where no page may be wider than the window — the list
scrolls inside its box, a diff wraps long paths and values. Screenshots go to
``test-artifacts/screenshots/``.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from tenantatlas.operations.tests.factories import make_change, make_item, make_run
from tenantatlas.testing import make_connection
from tests.e2e.conftest import assert_fits, csp_problems, screenshot, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("fast_passwords")]

WIDTHS = {"laptop": (1366, 768), "phone": (390, 844)}
LONG_KEY = "device_vendor_msft_policy_config_defender_allowarchivescanning_with_a_long_tail"


def _seed(acme: Any, alice: Any) -> dict[str, Any]:
    contoso = make_connection(acme, alice, name="Contoso")
    fabrikam = make_connection(
        acme, alice, name="Fabrikam", entra_tenant_id="22222222-3333-4444-5555-666666666666"
    )
    now = timezone.now()
    counts = {"compliance_policy": {"seen": 2, "updated": 1, "changes": 1}}
    sync = make_run(acme, contoso, summary_counts=counts)
    baseline = make_item(
        acme, contoso, kind="configuration_policy", display_name="Defender baseline"
    )
    make_change(
        baseline,
        change_type="created",
        detected_at=now - dt.timedelta(days=3),
    )
    make_change(
        baseline,
        run=sync,
        detected_at=now - dt.timedelta(minutes=5),
        previous_seen_at=now - dt.timedelta(hours=6),
        changes=[
            {"path": "name", "old": "Defender", "new": "Defender baseline"},
            {
                "path": f"settings[{LONG_KEY}].settingInstance.choiceSettingValue.value",
                "old": f"{LONG_KEY}_0",
                "new": f"{LONG_KEY}_1",
            },
            {"path": "roleScopeTagIds[4]", "old": None, "new": "4"},
            {
                "path": "assignments",
                "old": [{"target": {"groupId": "0f0f0f0f-1111-4222-8333-444444444444"}}],
                "new": [
                    {"target": {"groupId": f"{i:08d}-1111-4222-8333-444444444444"}}
                    for i in range(6)
                ],
            },
            {"path": "description", "old": "", "new": "Tightened " * 60},
        ],
        actor="ada.lovelace@contoso.onmicrosoft.com",
        actor_type="user",
        activity="Update DeviceManagementConfigurationPolicy",
        activity_at=now - dt.timedelta(minutes=20),
    )
    for i in range(14):
        device = make_item(acme, contoso if i % 2 else fabrikam, display_name=f"LAPTOP-{i:02d}")
        diff = [{"path": "osVersion", "old": "10.0.22621", "new": "10.0.22631"}]
        make_change(
            device,
            change_type=["changed", "created", "removed"][i % 3],
            **({"changes": diff} if i % 3 == 0 else {}),
            detected_at=now - dt.timedelta(hours=i + 1),
        )
    return {"contoso": contoso, "baseline": baseline, "sync": sync}


def test_the_changes_page_filters_and_fits(
    page: Page, live_server: Any, transactional_db: Any, acme: Any, alice: Any
) -> None:
    seeded = _seed(acme, alice)
    base = live_server.url
    sign_in(page, base)

    for name, (width, height) in WIDTHS.items():
        page.set_viewport_size({"width": width, "height": height})
        page.goto(f"{base}/w/acme/changes/")
        expect(page.locator("table.changes tbody tr")).to_have_count(16)
        assert_fits(page)
        screenshot(page, f"changes-{name}")
    page.set_viewport_size({"width": 1366, "height": 768})

    first = page.locator("table.changes tbody tr").first
    expect(first).to_contain_text("Defender baseline")
    expect(first).to_contain_text("5 settings")
    expect(first).to_contain_text("name, settings[")
    expect(first).to_contain_text("+3 more")
    expect(first).to_contain_text("ada.lovelace@contoso.onmicrosoft.com")

    # A filter narrows the list in place (htmx) and the URL follows.
    page.get_by_label("Change").select_option("removed")
    expect(page).to_have_url(re.compile(r"[?&]change_type=removed(&|$)"))
    expect(page.locator("table.changes tbody tr")).to_have_count(4)
    page.get_by_label("Connection").select_option(label="Contoso")
    expect(page.locator("table.changes tbody tr")).to_have_count(2)
    screenshot(page, "changes-filtered")

    # An invalid value is explained and the list is unfiltered.
    page.goto(f"{base}/w/acme/changes/?since=1969-01-01&change_type=removed")
    expect(page.locator("#change-filter-errors")).to_contain_text("out of range")
    expect(page.locator("table.changes tbody tr")).to_have_count(16)

    # The run page links to what the sync found.
    page.goto(f"{base}/w/acme/runs/{seeded['sync'].pk}/")
    page.get_by_role("link", name="1 change found").click()
    expect(page).to_have_url(re.compile(rf"[?&]run={seeded['sync'].pk}(&|$)"))
    expect(page.locator("table.changes tbody tr")).to_have_count(1)
    expect(page.locator(".change-scope")).to_contain_text(f"run #{seeded['sync'].pk}")
    assert csp_problems(page) == []


def test_an_items_history_shows_a_readable_diff_that_fits(
    page: Page, live_server: Any, transactional_db: Any, acme: Any, alice: Any
) -> None:
    seeded = _seed(acme, alice)
    base = live_server.url
    sign_in(page, base)

    page.goto(f"{base}/w/acme/changes/")
    page.locator("table.changes tbody tr").first.get_by_role(
        "link", name="Defender baseline"
    ).click()
    expect(page).to_have_url(re.compile(rf"/inventory/{seeded['baseline'].pk}/#changes$"))

    for name, (width, height) in WIDTHS.items():
        page.set_viewport_size({"width": width, "height": height})
        page.goto(f"{base}/w/acme/inventory/{seeded['baseline'].pk}/")
        entries = page.locator("ol.change-history > li")
        expect(entries).to_have_count(2)
        diff = entries.first.locator("table.change-diff tbody tr")
        expect(diff).to_have_count(5)
        expect(diff.nth(2)).to_contain_text("(not set)")
        expect(diff.nth(3).locator("code.change-json").last).to_contain_text('"groupId"')
        expect(entries.nth(1)).to_contain_text("First seen")
        assert_fits(page)
        # Every cell of the diff lies inside the window.
        right = page.locator("table.change-diff").first.evaluate(
            "t => Math.max(...[...t.querySelectorAll('th, td')].map(c => c.getBoundingClientRect().right))"
        )
        assert right <= width
        page.locator("#changes").scroll_into_view_if_needed()
        screenshot(page, f"change-item-{name}")

    # A long value opens to the whole of it.
    page.locator("details.change-long > summary").first.click()
    expect(page.locator("details.change-long").first).to_have_attribute("open", "")
    assert_fits(page)

    # The connection page lists its latest changes and links its timeline.
    page.set_viewport_size({"width": 1366, "height": 768})
    page.goto(f"{base}/w/acme/connections/{seeded['contoso'].pk}/")
    expect(page.locator("#connection-changes tbody tr")).to_have_count(5)
    page.get_by_role("link", name="Change timeline of this connection →").click()
    expect(page).to_have_url(re.compile(rf"/changes/\?connection={seeded['contoso'].pk}$"))
    expect(page.locator("table.changes tbody tr")).to_have_count(9)
    assert csp_problems(page) == []
