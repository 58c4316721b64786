"""The overview in Chromium: a person lands on it, every figure opens the list behind it, and
the page fits at 1366 and 390 px; the home page of a member of several workspaces likewise.

Screenshots: test-artifacts/screenshots/overview-*.png.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.contrib.auth import get_user_model
from playwright.sync_api import Page, expect

from tenantatlas.overview.tests.estate import Tenant, add_tenant, seed_acme, seed_globex
from tenantatlas.workspaces.models import Membership, Role, Workspace
from tests.e2e.conftest import csp_problems, screenshot, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("fast_passwords")]
WIDTHS = {"desktop": (1366, 768), "phone": (390, 844)}


def overflow(page: Page) -> int:
    """How far the page is wider than the window (0 when it fits)."""
    return int(page.evaluate("document.documentElement.scrollWidth - window.innerWidth"))


def test_a_person_lands_on_the_overview_and_every_figure_opens_its_list(
    page: Page,
    live_server: Any,
    transactional_db: Any,
    acme: Any,
    alice: Any,
    globex: Any,
    mallory: Any,
) -> None:
    seed_globex(globex, mallory)
    seed_acme(acme, alice)
    base = live_server.url

    sign_in(page, base, "alice")

    expect(page).to_have_url(f"{base}/w/acme/overview/")
    expect(page.locator("main h1")).to_have_text("Overview")
    expect(page.locator('[data-figure="devices-total"]')).to_have_text("14")
    expect(page.locator("main")).not_to_contain_text("Initech")
    for name, (width, height) in WIDTHS.items():
        page.set_viewport_size({"width": width, "height": height})
        page.reload()
        assert overflow(page) <= 0, name
        screenshot(page, f"overview-workspace-{name}")
    page.set_viewport_size({"width": 1366, "height": 768})
    page.reload()

    hrefs = page.eval_on_selector_all(
        "main a[href*='?']", "links => links.map(a => a.getAttribute('href'))"
    )
    lists = sorted({href for href in hrefs if href.startswith("/w/acme/")})
    assert len(lists) > 20
    for href in lists:
        response = page.goto(base + href)
        assert response is not None
        assert response.status == 200, href
        assert overflow(page) <= 0, href
    assert csp_problems(page) == []

    # Clicking a figure: the stale devices of the estate, as many as the card said.
    page.goto(f"{base}/w/acme/overview/")
    page.locator('[data-figure="stale"]').click()
    expect(page).to_have_url(re.compile(r"/w/acme/inventory/\?kind=managed_device&stale=1$"))
    expect(page.locator("main tbody tr")).to_have_count(3)
    screenshot(page, "overview-stale-devices")
    page.go_back()
    page.locator('[data-figure="problems"]').click()
    assert urlsplit(page.url).query == "status=problems&finished=24h"
    expect(page.locator("main tbody tr")).to_have_count(2)


def test_a_member_of_several_workspaces_lands_on_their_home_page(
    page: Page, live_server: Any, transactional_db: Any, acme: Any, alice: Any
) -> None:
    seed_acme(acme, alice)
    zeta = Workspace.objects.create(name="Zeta Services", slug="zeta")
    Membership.objects.create(workspace=zeta, user=alice, role=Role.READONLY)
    add_tenant(zeta, alice, Tenant("Zulu", devices={"compliant": 1, "noncompliant": 3}))
    assert get_user_model().objects.count() == 1
    base = live_server.url

    sign_in(page, base, "alice")

    expect(page).to_have_url(f"{base}/")
    expect(page.locator("main h1")).to_have_text("Your workspaces")
    expect(page.locator("#workspace-acme")).to_contain_text("78.6 %")
    expect(page.locator("#workspace-zeta")).to_contain_text("25 %")
    for name, (width, height) in WIDTHS.items():
        page.set_viewport_size({"width": width, "height": height})
        page.reload()
        assert overflow(page) <= 0, name
        screenshot(page, f"overview-home-{name}")
    page.set_viewport_size({"width": 1366, "height": 768})
    page.locator("#workspace-zeta a", has_text="Zeta Services").click()
    expect(page).to_have_url(f"{base}/w/zeta/overview/")
    expect(page.locator('[data-figure="noncompliant"]')).to_have_text("3")
