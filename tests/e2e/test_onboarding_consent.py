"""Onboarding a customer through the consent link, in Chromium, against the simulator.

The owner makes the link on the Onboarding page; the customer's administrator opens it, picks
their account on the simulator's consent page and accepts (or cancels); the browser comes back to
the callback. Approved: the connection exists and its check, run by a worker thread, says
healthy. Declined: nothing is connected. A replayed or forged state is refused.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse
from playwright.sync_api import Page, expect

from tenantatlas.onboarding.models import Onboarding, OnboardingStatus
from tenantatlas.providers.models import Health, ProviderConnection
from tenantatlas.providers.tests.partner_apps import make_partner_app
from tests.e2e.conftest import screenshot, sign_in

pytestmark = [pytest.mark.browser]
ACCEPTS_SIMULATOR_CERTIFICATE = True  # its pages (conftest.browser_context)

PARTNER_CLIENT_ID = "6c1e3a5b-7d9f-4b2d-8a4c-0e2f4a6b8d9c"  # the demo partner app (Trey Research)
FOURTH_COFFEE = "0b5e7a9c-1d4f-4b6c-8e0a-5f7b9d1a3e4c"  # not consented yet
LEE_GU = "lee.gu@fourthcoffee.onmicrosoft.com"  # its administrator


@pytest.fixture
def onboarding_link(
    page: Page,
    live_server: Any,
    transactional_db: Any,
    sim: Any,
    settings: Any,
    fast_passwords: None,
    alice: Any,
    acme: Any,
) -> str:
    """The owner makes a consent link for Fourth Coffee on the Onboarding page."""
    settings.SITE_URL = live_server.url  # loopback: the registered reply URL matches any port
    make_partner_app(
        acme, alice, client_id=PARTNER_CLIENT_ID, secret="trey-partner-secret", cloud="simulator"
    )
    sign_in(page, live_server.url)
    page.goto(live_server.url + reverse("onboarding:start", kwargs={"slug": acme.slug}))
    page.get_by_label("Customer").fill("Fourth Coffee")
    page.get_by_role("button", name="Make the consent link").click()
    link = page.locator("code.consent-link").first
    expect(link).to_contain_text("/organizations/v2.0/adminconsent?")
    screenshot(page, "onboarding-1-link")
    return str(link.text_content()).strip()


def _at_microsoft(page: Page, link: str, button: str, shot: str) -> None:
    page.goto(link)
    expect(page.get_by_text("Permissions requested")).to_be_visible()
    page.get_by_label(LEE_GU).check()
    screenshot(page, shot)
    page.locator(button).click()
    page.wait_for_load_state()


def test_an_approved_consent_connects_the_tenant_and_its_check_turns_healthy(
    page: Page, live_server: Any, onboarding_link: str, run_worker: None, acme: Any
) -> None:
    _at_microsoft(page, onboarding_link, "#consent-accept", "onboarding-2-consent-page")

    expect(page.locator("#consent-outcome")).to_have_attribute("data-outcome", "connected")
    screenshot(page, "onboarding-3-consent-recorded")
    callback = page.url
    connection = ProviderConnection.objects.get(entra_tenant_id=FOURTH_COFFEE)
    assert connection.partner_app is not None
    detail = live_server.url + reverse(
        "providers:detail", kwargs={"slug": acme.slug, "pk": connection.pk}
    )
    for _ in range(30):
        connection.refresh_from_db()
        if connection.health != Health.UNKNOWN:
            break
        page.wait_for_timeout(500)
    assert connection.health == Health.HEALTHY, connection.health_reason_code
    page.goto(detail)
    expect(page.locator("[data-badge='health:healthy']").first).to_be_visible()
    screenshot(page, "onboarding-4-connection-healthy")

    page.goto(callback)  # the same answer again: the state works once

    expect(page.locator("#consent-outcome")).to_have_attribute("data-outcome", "consent.link_used")
    assert ProviderConnection.objects.filter(entra_tenant_id=FOURTH_COFFEE).count() == 1


def test_a_declined_consent_connects_nothing(
    page: Page, live_server: Any, onboarding_link: str, acme: Any
) -> None:
    _at_microsoft(page, onboarding_link, "#consent-decline", "onboarding-declined-1-consent")

    expect(page.locator("#consent-outcome")).to_have_attribute("data-outcome", "consent.declined")
    screenshot(page, "onboarding-declined-2-outcome")
    assert not ProviderConnection.objects.filter(entra_tenant_id=FOURTH_COFFEE).exists()
    assert Onboarding.objects.get().status == OnboardingStatus.DECLINED
    page.goto(live_server.url + reverse("onboarding:list", kwargs={"slug": acme.slug}))
    expect(page.locator("#onboardings")).to_contain_text("consent.declined")
    screenshot(page, "onboarding-declined-3-list")


def test_a_forged_state_is_refused(
    page: Page, live_server: Any, onboarding_link: str, acme: Any
) -> None:
    forged = (
        f"{live_server.url}{reverse('onboarding_callback')}"
        f"?tenant={FOURTH_COFFEE}&admin_consent=True&state={'f' * 64}"
    )

    page.goto(forged)

    expect(page.locator("#consent-outcome")).to_have_attribute(
        "data-outcome", "consent.link_invalid"
    )
    screenshot(page, "onboarding-forged-state")
    assert not ProviderConnection.objects.filter(entra_tenant_id=FOURTH_COFFEE).exists()
    assert Onboarding.objects.get().status == OnboardingStatus.PENDING
