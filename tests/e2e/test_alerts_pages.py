"""The alerts pages in Chromium: a manager adds a webhook channel (its generated secret shown
once), sends it a test and watches the page follow it until it is delivered, then adds a rule
for chosen connections; the forms show only the fields of the chosen kind. Every page fits a
laptop (1366×768) and a phone (390×844). Screenshots go to ``test-artifacts/screenshots/``.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tenantatlas.alerts.models import AlertChannel, AlertDelivery, AlertRule, DeliveryStatus
from tenantatlas.testing import make_connection
from tests.e2e.conftest import assert_fits, screenshot, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("fast_passwords")]

WIDTHS = {"laptop": (1366, 768), "phone": (390, 844)}
HOOK = "https://hooks.example.com/tenantatlas/receive?team=ops"


def _at_both_widths(page: Page, address: str, name: str) -> None:
    for width_name, (width, height) in WIDTHS.items():
        page.set_viewport_size({"width": width, "height": height})
        page.goto(address)
        assert_fits(page)
        screenshot(page, f"alerts-{name}-{width_name}")
    page.set_viewport_size({"width": 1366, "height": 768})


def test_a_manager_adds_a_webhook_tests_it_and_adds_a_rule(
    page: Page, live_server: Any, transactional_db: Any, acme: Any, alice: Any, maggie: Any
) -> None:
    make_connection(acme, alice, name="Contoso")
    make_connection(
        acme, alice, name="Fabrikam", entra_tenant_id="22222222-3333-4444-5555-666666666666"
    )
    base = f"{live_server.url}/w/{acme.slug}/alerts"
    sign_in(page, live_server.url, "maggie")

    # The channel form shows the webhook's fields only while "Webhook" is chosen.
    page.goto(f"{base}/channels/new/")
    webhook = page.locator('fieldset[data-shown-when="kind=webhook"]')
    email = page.locator('fieldset[data-shown-when="kind=email"]')
    expect(webhook).to_be_visible()
    expect(email).to_be_hidden()
    page.get_by_label("Kind").select_option("email")
    expect(email).to_be_visible()
    expect(webhook).to_be_hidden()
    page.get_by_label("Kind").select_option("webhook")
    page.get_by_label("Name").fill("Ops webhook")
    page.get_by_label("Receiver URL").fill(HOOK)
    screenshot(page, "alerts-channel-form-laptop")
    page.get_by_role("button", name="Create channel").click()

    # The generated secret, once.
    secret = page.locator("#new-secret-value")
    expect(secret).to_have_text(re.compile(r"^whsec_[\w-]{43}$"))
    generated = secret.inner_text()
    screenshot(page, "alerts-channel-secret-laptop")
    page.get_by_role("button", name="Done: to the channel").click()
    channel = AlertChannel.objects.get(name="Ops webhook")
    expect(page).to_have_url(re.compile(rf"/alerts/channels/{channel.pk}/$"))
    assert generated not in page.content()
    expect(page.locator("main")).to_contain_text("https://hooks.example.com/…")

    # Send test: queued, followed by polling until a worker has delivered it.
    page.get_by_role("button", name="Send test").click()
    latest = page.locator("#latest-test")
    expect(latest).to_have_attribute("data-status", "pending")
    delivery = AlertDelivery.objects.get(channel=channel, is_test=True)
    assert delivery.requested_by == maggie
    AlertDelivery.objects.filter(pk=delivery.pk).update(
        status=DeliveryStatus.DELIVERED, attempts=1, last_status_code=204
    )
    expect(latest).to_have_attribute("data-status", "delivered", timeout=10_000)
    expect(latest).to_contain_text("delivered (204)")
    expect(page.locator("#channel-deliveries")).to_have_attribute("data-active", "false")

    # A rule for chosen connections: the hours appear for its kind, the list for its scope.
    page.goto(f"{base}/rules/new/")
    hours = page.get_by_label("Hours without a successful sync or snapshot")
    connections = page.get_by_label("Connections it watches")
    expect(hours).to_be_hidden()
    expect(connections).to_be_hidden()
    page.get_by_label("Name").fill("Stale data to ops")
    page.get_by_label("Event").select_option("data.stale")
    expect(hours).to_be_visible()
    hours.fill("36")
    page.get_by_role("radio", name="Chosen connections").check()
    expect(connections).to_be_visible()
    connections.select_option(label="Fabrikam")
    page.get_by_role("checkbox", name="Ops webhook").check()
    screenshot(page, "alerts-rule-form-laptop")
    page.get_by_role("button", name="Create rule").click()

    expect(page).to_have_url(re.compile(r"/alerts/$"))
    row = page.locator("table.alert-rules tbody tr", has_text="Stale data to ops")
    expect(row).to_contain_text("for 36 h")
    expect(row).to_contain_text("Fabrikam")
    expect(row).to_contain_text("Ops webhook")
    rule = AlertRule.objects.get(name="Stale data to ops")
    assert (rule.params, rule.all_connections) == ({"hours": 36}, False)

    for address, name in (
        (f"{base}/", "rules"),
        (f"{base}/channels/", "channels"),
        (f"{base}/channels/{channel.pk}/", "channel"),
        (f"{base}/channels/{channel.pk}/edit/", "channel-form"),
        (f"{base}/rules/{rule.pk}/edit/", "rule-form"),
    ):
        _at_both_widths(page, address, name)
