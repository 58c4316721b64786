"""Sign in with Microsoft in Chromium, against the simulator's sign-in page.

A linked user clicks "Sign in with Microsoft", picks their account on the simulator's page and
lands in their workspace; an unknown user picks theirs and gets the page that says no account is
linked, and is not signed in. The app registration is the demo's partner app; its reply URLs are
on loopback (any port), which is where the live server runs.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import Page, expect

from tenantatlas.accounts.models import MicrosoftIdentity
from tenantatlas.graph.signin import DiscoveryKeys
from tests.e2e.conftest import screenshot

pytestmark = [pytest.mark.browser]
ACCEPTS_SIMULATOR_CERTIFICATE = True  # its pages (conftest.browser_context)

PARTNER_CLIENT_ID = "6c1e3a5b-7d9f-4b2d-8a4c-0e2f4a6b8d9c"
TREY = "7e2b4d6f-8a1c-4e3f-9b5d-2c4e6a8f0b1d"
NESTOR = "nestor.wilke@treyresearch.onmicrosoft.com"
PATTI = "patti.fernandez@treyresearch.onmicrosoft.com"


@pytest.fixture
def microsoft(sim: Any, settings: Any) -> Any:
    DiscoveryKeys.forget()
    settings.MICROSOFT_SIGN_IN = True
    settings.MICROSOFT_SIGN_IN_CLIENT_ID = PARTNER_CLIENT_ID
    settings.MICROSOFT_SIGN_IN_CLIENT_SECRET = "trey-partner-secret"
    settings.MICROSOFT_SIGN_IN_TENANTS = [TREY]
    settings.MICROSOFT_SIGN_IN_CLOUD = "simulator"
    return sim


def pick_account_at_microsoft(page: Page, base_url: str, upn: str, shot: str) -> None:
    page.goto(base_url + reverse("accounts:login"))
    screenshot(page, f"{shot}-1-sign-in-page")
    page.locator("#sign-in-microsoft").click()
    expect(page.get_by_text("Pick an account")).to_be_visible()
    page.get_by_label(upn).check()
    screenshot(page, f"{shot}-2-microsoft")
    page.locator("#signin-submit").click()
    page.wait_for_load_state()


def test_a_linked_user_signs_in_with_microsoft_and_lands_in_their_workspace(
    page: Page, live_server: Any, transactional_db: Any, microsoft: Any, alice: Any, acme: Any
) -> None:
    nestor = next(u for u in microsoft.users(TREY) if u.user_principal_name == NESTOR)
    MicrosoftIdentity.objects.create(
        user=alice, tenant_id=TREY, object_id=nestor.object_id, linked_at=timezone.now()
    )

    pick_account_at_microsoft(page, live_server.url, NESTOR, "microsoft-linked")

    expect(page).to_have_url(
        live_server.url + reverse("overview:workspace", kwargs={"slug": "acme"})
    )
    expect(page.locator("main h1")).to_have_text("Overview")
    expect(page.get_by_role("button", name="Sign out alice")).to_be_visible()
    screenshot(page, "microsoft-linked-3-workspace")
    page.get_by_role("link", name="Account").click()
    expect(page.locator("#microsoft-identities")).to_contain_text(NESTOR)
    screenshot(page, "microsoft-linked-4-account")


def test_an_unknown_microsoft_user_is_told_no_account_is_linked_and_not_signed_in(
    page: Page, live_server: Any, transactional_db: Any, microsoft: Any, alice: Any, acme: Any
) -> None:
    pick_account_at_microsoft(page, live_server.url, PATTI, "microsoft-unknown")

    expect(page.locator("main h1")).to_have_text(
        "No TenantAtlas account is linked to this Microsoft account"
    )
    expect(page.locator("#sign-in-unknown")).to_contain_text(PATTI)
    screenshot(page, "microsoft-unknown-3-not-linked")
    expect(page.get_by_role("button", name="Sign out")).to_have_count(0)
    page.goto(live_server.url + reverse("overview:home"))
    expect(page).to_have_url(f"{live_server.url}{reverse('accounts:login')}?next=/")
