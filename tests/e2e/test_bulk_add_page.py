"""Bulk add, in Chromium: the owner pastes a list of tenant ids on Onboarding → Add tenants in
bulk, sees each line created (linked) or its error, then checks all the new connections and sees
the summary; pressing it again starts none twice. Screenshots go to ``test-artifacts/screenshots/``.
"""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tenantatlas.operations.models import OperationRun
from tenantatlas.providers.tests.partner_apps import make_partner_app
from tests.e2e.conftest import assert_fits, screenshot, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("fast_passwords")]

T1 = "4e4e4e4e-5f5f-4a6a-8b7b-9c9c9c9c9c9c"
T2 = "6a6a6a6a-7b7b-4c8c-9d9d-0e0e0e0e0e0e"


def test_an_owner_adds_a_list_of_tenants_and_checks_them_all(
    page: Page, live_server: Any, transactional_db: Any, alice: Any, acme: Any, sim: Any
) -> None:
    page.set_viewport_size({"width": 1366, "height": 900})
    make_partner_app(acme, alice, cloud="simulator")  # contoso.com names none of its tenants
    sign_in(page, live_server.url)
    page.goto(f"{live_server.url}/w/acme/onboarding/")
    page.get_by_role("button", name="Add tenants in bulk").click()

    page.locator("textarea[name=entries]").fill(
        f"# the first wave\n{T1}, Northwind Traders\ncontoso.com, Contoso\n{T2}\n{T1}, again\n"
    )
    screenshot(page, "bulk-add-01-form")
    page.get_by_role("button", name="Add the tenants").click()

    result = page.locator("#bulk-result")
    expect(result.locator("h2")).to_have_text("2 of 4 added")
    rows = page.locator("#bulk-rows tbody tr")
    expect(rows).to_have_count(4)
    expect(rows.nth(0).get_by_role("link", name="Northwind Traders")).to_be_visible()
    expect(rows.nth(1)).to_contain_text("enter the tenant id")
    expect(rows.nth(3)).to_contain_text("line 2")
    assert_fits(page)
    screenshot(page, "bulk-add-02-result")

    page.get_by_role("button", name="Check all new connections (2)").click()
    counts = page.locator("#bulk-check-counts")
    expect(counts.locator('[data-group="started"] strong')).to_have_text("2")
    screenshot(page, "bulk-add-03-checked")
    page.get_by_role("button", name="Check them again").click()
    expect(counts.locator('[data-group="deduplicated"] strong')).to_have_text("2")
    expect(counts.locator('[data-group="started"] strong')).to_have_text("0")
    assert OperationRun.objects.filter(operation_type="provider.health_check").count() == 2
