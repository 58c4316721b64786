"""The Connections pages in Chromium at 1366×768: filter by health, a row that follows its run
from queued to finished without a reload, an actions menu in the last row that opens inside the
viewport and closes after a choice, the connection page's current run, the add-connection form's
permissions. Screenshots go to ``test-artifacts/screenshots/``.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from tenantatlas.operations.models import OperationRun
from tenantatlas.operations.tests.factories import make_run
from tenantatlas.providers.models import ProviderConnection
from tenantatlas.testing import PASSWORD, make_connection
from tests.e2e.conftest import screenshot
from tests.e2e.test_browser import App

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("fast_passwords")]

WIDTH, HEIGHT = 1366, 768
HEALTH = ["healthy", "degraded", "unhealthy", "unknown"]


def _fleet(acme: Any, alice: Any, count: int = 16) -> list[ProviderConnection]:
    connections = []
    for i in range(count):
        connection = make_connection(
            acme, alice, name=f"Tenant {i:02d}", entra_tenant_id=str(uuid.uuid4())
        )
        ProviderConnection.objects.filter(pk=connection.pk).update(
            health=HEALTH[i % 4], default_domain=f"tenant{i:02d}.onmicrosoft.com"
        )
        connections.append(connection)
    return connections


def _sign_in(app: App, username: str) -> None:
    """Sign in through the form (wherever the workspace's landing page is), then Connections."""
    page = app.open("accounts:login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("main h1").first).to_be_visible()
    app.open("providers:list")


def _inside_viewport(page: Page, locator: Any) -> None:
    """The open menu lies inside the viewport, whole (its last item too), and the page does
    not overflow sideways."""
    box = locator.bounding_box()
    assert box is not None
    assert box["height"] > 100, box
    last_item = locator.locator("li").last.bounding_box()
    assert last_item is not None
    assert last_item["y"] >= box["y"]
    assert last_item["y"] + last_item["height"] <= HEIGHT
    assert box["x"] >= 0, box
    assert box["y"] >= 0, box
    assert box["x"] + box["width"] <= WIDTH, box
    assert box["y"] + box["height"] <= HEIGHT, box
    overflow = page.evaluate(
        "[document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    )
    assert overflow[0] <= overflow[1], f"the page overflows sideways: {overflow}"


def test_a_person_filters_follows_a_run_and_uses_the_last_rows_menu(
    page: Page, live_server: Any, transactional_db: Any, alice: Any, acme: Any
) -> None:
    page.set_viewport_size({"width": WIDTH, "height": HEIGHT})
    connections = _fleet(acme, alice)
    app = App(page, live_server.url)
    _sign_in(app, "alice")
    rows = page.locator("#connections-table tbody tr")
    expect(rows).to_have_count(len(connections))
    screenshot(page, "connections-01-list")

    # Filter by health with the toolbar (a plain GET form).
    page.locator("#filter-health").select_option("degraded")
    page.get_by_role("button", name="Filter").click()
    expect(page).to_have_url(
        f"{app.url('providers:list')}?q=&health=degraded&status=&expiry=&sort="
    )
    expect(rows).to_have_count(len(connections) // 4)
    expect(page.locator('#connections-table [data-badge="health:degraded"]')).to_have_count(4)
    expect(page.locator('#connections-table [data-badge="health:healthy"]')).to_have_count(0)
    screenshot(page, "connections-02-filtered-degraded")
    app.visit(app.url("providers:list") + "?health=sick")
    expect(page.locator("#filter-errors")).to_contain_text("not understood")
    expect(rows).to_have_count(len(connections))

    # A queued run shows on its row; the row follows it to the end without a reload.
    first = connections[0]
    run = make_run(acme, first, status="queued", operation_type="inventory.sync")
    app.open("providers:list")
    page.evaluate("window.__loadedOnce = true")
    row = page.locator(f"#connection-{first.pk}")
    expect(row.locator('[data-badge="run_status:queued"]')).to_be_visible()
    expect(page.locator('#connections-table[data-active="true"]')).to_be_attached()
    screenshot(page, "connections-03-row-queued")
    assert OperationRun.objects.claim(run.pk, now=timezone.now())
    assert OperationRun.objects.progress(run.pk, done=40, total=100)
    expect(row.locator('[data-badge="run_status:running"]')).to_be_visible(timeout=10_000)
    expect(row.locator("progress")).to_have_attribute("value", "40")
    screenshot(page, "connections-04-row-running")
    assert OperationRun.objects.finish(run.pk, status="succeeded", summary_counts={}, context={})
    expect(row.locator("[data-badge^='run_status:']")).to_have_count(0, timeout=10_000)
    expect(page.locator('#connections-table[data-active="false"]')).to_be_attached()
    assert page.evaluate("window.__loadedOnce === true"), "the list reloaded"
    app.keeps_to_the_policy()

    # The last row's menu opens inside the viewport and closes after a choice.
    last = rows.last
    menu = last.locator("details.actions-menu")
    menu.locator("summary").click()
    items = menu.locator(":scope > ul")
    expect(items.locator("[data-operation]").first).to_be_visible()  # fetched as it opened
    _inside_viewport(page, items)
    screenshot(page, "connections-05-last-row-menu")
    toasts = page.locator("#toasts [data-toast]")
    items.locator('button[data-operation="provider.health_check"]').click()
    expect(toasts).to_have_count(1)
    expect(toasts.first).to_contain_text("Connection check queued")
    expect(menu).not_to_have_attribute("open", "")
    expect(last.locator('[data-badge="run_status:queued"]')).to_be_visible()  # refreshed at once
    screenshot(page, "connections-06-menu-closed-after-start")

    # The top row's menu, at the right edge, also stays inside (and Escape closes it).
    top_menu = rows.first.locator("details.actions-menu")
    page.evaluate("window.scrollTo(0, 0)")
    top_menu.locator("summary").click()
    expect(top_menu.locator(":scope > ul [data-operation]").first).to_be_visible()
    _inside_viewport(page, top_menu.locator(":scope > ul"))
    page.keyboard.press("Escape")
    expect(top_menu).not_to_have_attribute("open", "")
    app.keeps_to_the_policy()


def test_the_connection_page_follows_its_current_run(
    page: Page, live_server: Any, transactional_db: Any, alice: Any, acme: Any
) -> None:
    page.set_viewport_size({"width": WIDTH, "height": HEIGHT})
    [connection] = _fleet(acme, alice, count=1)
    run = make_run(acme, connection, status="queued", operation_type="compliance.snapshot")
    app = App(page, live_server.url)
    _sign_in(app, "alice")
    app.open("providers:detail", pk=connection.pk)
    current = page.locator("#current-run")
    expect(current.locator('[data-badge="run_status:queued"]')).to_be_visible()
    assert OperationRun.objects.claim(run.pk, now=timezone.now())
    assert OperationRun.objects.progress(run.pk, done=3, total=8)
    expect(current.locator("progress")).to_have_attribute("value", "3", timeout=10_000)
    screenshot(page, "connections-07-detail-current-run")
    assert OperationRun.objects.finish(run.pk, status="succeeded", summary_counts={}, context={})
    expect(current).to_contain_text("None queued or running", timeout=10_000)
    expect(current.locator('[data-badge="run_status:succeeded"]')).to_be_visible()
    expect(page.locator('#current-run[data-active="false"]')).to_be_attached()

    # The toolbar's menu (left edge of the page) opens inside the viewport too.
    menu = page.locator(".toolbar details.actions-menu")
    menu.locator("summary").click()
    _inside_viewport(page, menu.locator(":scope > ul"))
    screenshot(page, "connections-08-detail-menu")
    app.keeps_to_the_policy()

    # The add-connection form: the permissions and a selectable manifest snippet.
    app.open("providers:create")
    block = page.locator("#graph-permissions")
    expect(block).to_contain_text("Organization.Read.All")
    block.locator("summary").click()
    expect(page.locator("#graph-manifest")).to_contain_text('"type": "Role"')
    expect(block.get_by_role("button", name="Copy")).to_be_visible()
    screenshot(page, "connections-09-create-permissions")
    app.keeps_to_the_policy()
