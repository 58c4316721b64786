"""The consent and sign-in pages in a real browser: Chromium picks an account by its label, clicks
the documented buttons and lands on the product's callback with Microsoft's answer."""

from __future__ import annotations

import os
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from django.conf import settings

from tenantatlas.simulator.tests.helpers import (
    FOURTH_COFFEE,
    PARTNER_CLIENT_ID,
    PARTNER_ROLES,
    PARTNER_SECRET,
    WIDE_WORLD,
)

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = Path(settings.BASE_DIR) / "test-artifacts" / "screenshots"
PRODUCT = "http://127.0.0.1:8000"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} is not installed (apt-get install chromium)"
        if os.environ.get("CI"):
            pytest.fail(message + "; CI must provide it")
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A tab that trusts the simulator's certificate and answers for the product's callbacks,
    recording what "Microsoft" sent there (``page.callbacks``: method, URL, form body)."""
    context = browser.new_context(ignore_https_errors=True, viewport={"width": 900, "height": 900})
    tab = context.new_page()
    tab.callbacks = []

    def answer(route: Any) -> None:
        request = route.request
        tab.callbacks.append((request.method, request.url, request.post_data or ""))
        route.fulfill(status=200, content_type="text/html", body="<p id='done'>back</p>")

    tab.route(f"{PRODUCT}/**", answer)
    try:
        yield tab
    finally:
        context.close()


def screenshot(tab: Any, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    tab.screenshot(path=str(SCREENSHOTS / f"simulator-{name}.png"), full_page=True)


def test_an_admin_consents_on_the_page(simulator, page):
    query = urllib.parse.urlencode(
        {
            "client_id": PARTNER_CLIENT_ID,
            "scope": "https://graph.microsoft.com/.default",
            "redirect_uri": f"{PRODUCT}/onboarding/consent/callback/",
            "state": "browser-state",
        }
    )
    page.goto(f"{simulator.base_url}/organizations/v2.0/adminconsent?{query}")
    assert page.locator("#title").inner_text() == "Permissions requested"
    page.get_by_label("lee.gu@fourthcoffee.onmicrosoft.com").check()
    screenshot(page, "admin-consent")
    page.locator("#consent-accept").click()
    page.wait_for_selector("#done")
    [(method, url, _)] = page.callbacks
    params = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))
    assert method == "GET"
    assert params == {
        "admin_consent": "True",
        "tenant": FOURTH_COFFEE,
        "scope": "https://graph.microsoft.com/.default",
        "state": "browser-state",
    }
    assert simulator.granted_roles(FOURTH_COFFEE, PARTNER_CLIENT_ID) == PARTNER_ROLES


def test_a_member_is_told_to_ask_an_admin(simulator, page):
    query = urllib.parse.urlencode(
        {
            "client_id": PARTNER_CLIENT_ID,
            "scope": "https://graph.microsoft.com/.default",
            "redirect_uri": f"{PRODUCT}/onboarding/consent/callback/",
            "state": "s",
        }
    )
    page.goto(f"{simulator.base_url}/{FOURTH_COFFEE}/v2.0/adminconsent?{query}")
    page.get_by_label("pradeep.gupta@fourthcoffee.onmicrosoft.com").check()
    page.locator("#consent-accept").click()
    assert page.locator("#title").inner_text() == "Need admin approval"
    screenshot(page, "admin-approval-required")
    page.locator("#consent-return").click()
    page.wait_for_selector("#done")
    params = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(page.callbacks[0][1]).query))
    assert params["error"] == "access_denied"
    assert params["error_description"].startswith("AADSTS90094: ")


def test_an_unregistered_reply_url_stays_on_microsofts_error_page(simulator, page):
    query = urllib.parse.urlencode(
        {"client_id": PARTNER_CLIENT_ID, "scope": "x/.default", "redirect_uri": f"{PRODUCT}/x/"}
    )
    page.goto(f"{simulator.base_url}/organizations/v2.0/adminconsent?{query}")
    assert page.locator("#error-code").inner_text() == "AADSTS50011"
    screenshot(page, "error-page")
    assert page.callbacks == []


@pytest.mark.parametrize("mode", ["query", "form_post"])
def test_a_user_signs_in_and_the_code_reaches_the_callback(simulator, page, mode):
    callback = f"{PRODUCT}/accounts/microsoft/callback/"
    query = urllib.parse.urlencode(
        {
            "client_id": PARTNER_CLIENT_ID,
            "response_type": "code",
            "redirect_uri": callback,
            "scope": "openid profile email",
            "state": "st",
            "nonce": "nn",
            "response_mode": mode,
        }
    )
    page.goto(f"{simulator.base_url}/{WIDE_WORLD}/oauth2/v2.0/authorize?{query}")
    page.get_by_label("isaiah.langer@wideworldimporters.onmicrosoft.com").check()
    if mode == "query":
        screenshot(page, "sign-in")
    page.locator("#signin-submit").click()
    page.wait_for_selector("#done")
    [(method, url, body)] = page.callbacks
    sent = urllib.parse.urlsplit(url).query if mode == "query" else body
    params = dict(urllib.parse.parse_qsl(sent))
    assert method == ("GET" if mode == "query" else "POST")
    assert params["state"] == "st"
    token = requests.post(
        f"{simulator.base_url}/{WIDE_WORLD}/oauth2/v2.0/token",
        data={
            "client_id": PARTNER_CLIENT_ID,
            "client_secret": PARTNER_SECRET,
            "grant_type": "authorization_code",
            "code": params["code"],
            "redirect_uri": callback,
        },
        verify=simulator.ca_bundle,
        timeout=10,
    )
    assert token.status_code == 200, token.text
    assert "id_token" in token.json()
