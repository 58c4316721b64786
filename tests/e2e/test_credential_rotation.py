"""Rotating a connection's secret in Chromium, against the simulator: the new secret waits beside
the old one while its check runs, then is in use; a mistyped one is not used and the page says
why. Screenshots go to ``test-artifacts/screenshots/``.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from django.urls import reverse
from playwright.sync_api import Page, expect

from tenantatlas.providers.models import ProviderConnection, ProviderCredential
from tenantatlas.providers.tests.helpers import NEW, OLD, WRONG, simulated_tenant
from tenantatlas.testing import make_connection
from tests.e2e.conftest import screenshot, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("fast_passwords")]


@pytest.fixture
def contoso(sim: Any, transactional_db: Any, acme: Any, alice: Any) -> ProviderConnection:
    client_id = str(uuid.uuid4())
    tenant_id = simulated_tenant(sim, client_id, [OLD, NEW])
    connection: ProviderConnection = make_connection(
        acme, alice, entra_tenant_id=tenant_id, client_id=client_id, secret=OLD, cloud="simulator"
    )
    return connection


def _rotate(page: Page, base: str, connection: ProviderConnection, secret: str) -> None:
    kwargs = {"slug": connection.workspace.slug, "pk": connection.pk}
    page.goto(base + reverse("providers:rotate", kwargs=kwargs))
    expect(page.get_by_text("Only when that check passes")).to_be_visible()
    page.locator("#id_client_secret").fill(secret)
    page.get_by_role("button", name="Rotate").click()
    expect(page.locator("h1")).to_contain_text(connection.display_name)


def _states(connection: ProviderConnection) -> list[str]:
    rows = ProviderCredential.objects.filter(connection=connection).order_by("version")
    return list(rows.values_list("state", flat=True))


def _reload_until(page: Page, selector: str) -> None:
    for _ in range(40):
        if page.locator(selector).count():
            return
        page.wait_for_timeout(500)
        page.reload()
    raise AssertionError(f"{selector} never appeared")


def test_a_new_secret_is_verified_before_it_replaces_the_old_one(
    page: Page, live_server: Any, contoso: ProviderConnection
) -> None:
    sign_in(page, live_server.url)

    _rotate(page, live_server.url, contoso, NEW)

    expect(page.locator("#toasts .toast")).to_contain_text("verifies it")
    panel = page.locator("#credential-pending")
    expect(panel).to_contain_text("New credential")
    expect(panel.locator('[data-badge="credential_state:pending"]')).to_be_visible()
    expect(panel.get_by_role("button", name="Discard")).to_be_visible()
    screenshot(page, "rotation-1-new-secret-being-verified")
    assert _states(contoso) == ["current", "pending"]


def test_the_check_decides_and_the_page_says_how(
    page: Page, live_server: Any, contoso: ProviderConnection, run_worker: None
) -> None:
    sign_in(page, live_server.url)

    _rotate(page, live_server.url, contoso, WRONG)
    _reload_until(page, "#credential-rejected")
    rejected = page.locator("#credential-rejected")
    expect(rejected).to_contain_text("was not used")
    expect(rejected).to_contain_text("auth.invalid_client_secret")
    expect(rejected).to_contain_text("stays in use")
    screenshot(page, "rotation-2-mistyped-secret-not-used")
    assert _states(contoso) == ["current", "rejected"]

    _rotate(page, live_server.url, contoso, NEW)
    _reload_until(page, '[data-badge="health:healthy"]')
    expect(page.locator("#credential-pending")).to_have_count(0)
    expect(page.locator("#credential-rejected")).to_have_count(0)
    expect(page.get_by_text("version 3")).to_be_visible()
    page.locator("details > summary", has_text="History").click()
    screenshot(page, "rotation-3-new-secret-in-use")
    assert _states(contoso) == ["retired", "rejected", "current"]
