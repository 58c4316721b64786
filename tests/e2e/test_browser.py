"""What a person does in Chromium, end to end, against the simulator.

Sign in → add a connection to the simulated Contoso tenant through the form → Actions → Check
connection → the toast links to the run → the connection turns healthy → Inventory sync → a
second start while it runs says "Scope busy" and links to the active run → Monitoring shows the
run running, then succeeded, without a reload → the notification bell counts up → the inventory
browser lists the devices. A read-only member sees no action buttons.

Each page is saved to ``test-artifacts/screenshots/`` for people to look at. Every page shown
and every htmx swap is checked against the Content-Security-Policy (see conftest.py): no
violation, no console error naming the policy.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import time
from dataclasses import dataclass
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import Page, expect

from tenantatlas.inventory.models import InventoryItem
from tenantatlas.notifications.models import Notification
from tenantatlas.operations.models import OperationRun, RunStatus
from tenantatlas.operations.tests.factories import make_item, make_run, make_snapshot
from tenantatlas.providers.models import ProviderConnection
from tenantatlas.testing import PASSWORD, make_sim_connection
from tests.e2e.conftest import click_for_toast, csp_problems, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("fast_passwords")]

CONTOSO_TENANT = "5a1c0e4b-7f2d-4c8e-9b6a-3d2f1e0c9b8a"
CONTOSO_CLIENT = "0b5e2c4d-9a1f-4e3b-8c7d-6f5a4b3c2d1e"
CONTOSO_SECRET = "contoso-demo-secret"
CONTOSO_DEVICES = 5000  # simulator/scenarios/demo.toml
DEVICES_PATH = "/v1.0/deviceManagement/managedDevices"
OUTSIDE_WORKSPACES = {
    "accounts:login",
    "accounts:logout",
    "overview:home",
    "members:start",
    "workspaces:switch",
}


@dataclass
class App:
    """The live server as one user's browser tab sees it."""

    page: Page
    base_url: str
    slug: str = "acme"

    def url(self, name: str, **kwargs: Any) -> str:
        if name not in OUTSIDE_WORKSPACES:
            kwargs.setdefault("slug", self.slug)
        return self.base_url + reverse(name, kwargs=kwargs or None)

    def open(self, name: str, **kwargs: Any) -> Page:
        return self.visit(self.url(name, **kwargs))

    def visit(self, url: str, status: int = 200) -> Page:
        """Go to `url`; it answers `status` with the policy, and the page keeps to it."""
        response = self.page.goto(url)
        assert response is not None
        assert response.status == status, url
        assert "default-src 'self'" in response.headers.get("content-security-policy", ""), url
        self.keeps_to_the_policy()
        return self.page

    def keeps_to_the_policy(self) -> None:
        """No CSP violation (nor console error naming the policy) on this tab so far."""
        assert csp_problems(self.page) == []

    def sign_in(self, username: str, *, screenshot_as: str = "") -> None:
        page = self.open("accounts:login")
        if screenshot_as:
            screenshot(page, screenshot_as)
        page.get_by_label("Username").fill(username)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        # A person with one workspace lands on its overview; these tests go on from Connections.
        expect(page).to_have_url(self.url("overview:workspace"))
        expect(page.locator("main h1")).to_have_text("Overview")
        self.open("providers:list")

    def start_from_actions(self, connection_pk: int, operation_type: str) -> Any:
        """Actions → <operation> on the connection's row; returns the toast it produced."""
        page = self.page
        row = page.locator(f"#connection-{connection_pk}")
        menu = row.locator("details.actions-menu")
        if menu.get_attribute("open") is None:  # it stays open after an htmx start
            menu.locator("summary").click()
        return click_for_toast(page, row.locator(f'button[data-operation="{operation_type}"]'))


def _run_pk(url: str) -> int:
    match = re.search(r"/runs/(\d+)/$", url)
    assert match, url
    return int(match.group(1))


def _slow_down_contoso_devices(sim: Any) -> None:
    """Devices pages take a moment, so "running" is there to be seen on Monitoring."""
    contoso = sim.get_tenant(CONTOSO_TENANT)
    faults = dataclasses.replace(contoso.faults, slow_seconds=1.0, slow_paths=[DEVICES_PATH])
    sim.add_tenant(dataclasses.replace(contoso, faults=faults))


def _reload_until_visible(page: Page, selector: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not page.locator(selector).is_visible():
        assert time.monotonic() < deadline, f"{selector} did not appear within {timeout}s"
        time.sleep(0.5)
        page.reload()


def _bell_count(page: Page) -> int:
    count = page.locator("#notification-bell .bell-count")
    return int(count.get_attribute("data-unread") or 0) if count.count() else 0


def test_a_person_connects_a_tenant_checks_it_and_syncs_its_inventory(
    page: Page, live_server: Any, run_worker: None, sim: Any, alice: Any, acme: Any
) -> None:
    _slow_down_contoso_devices(sim)
    app = App(page, live_server.url)
    app.sign_in("alice", screenshot_as="01-sign-in")
    screenshot(page, "02-connections-empty")

    # Add the connection through the form.
    page.get_by_role("button", name="Add connection").click()
    page.locator("#id_display_name").fill("Contoso")
    page.locator("#id_entra_tenant_id").fill(CONTOSO_TENANT)
    page.locator("#id_cloud").select_option("simulator")
    page.locator("#id_client_id").fill(CONTOSO_CLIENT)
    page.locator("#id_client_secret").fill(CONTOSO_SECRET)
    screenshot(page, "03-connection-form")
    page.get_by_role("button", name="Create connection").click()
    expect(page.locator("h1")).to_contain_text("Contoso")
    connection = ProviderConnection.objects.for_workspace(acme).get(entra_tenant_id=CONTOSO_TENANT)
    expect(page.locator('[data-badge="health:unknown"]').first).to_be_visible()
    screenshot(page, "04-connection-detail-new")

    # Actions → Check connection: the toast links to the run, which succeeds.
    app.open("providers:list")
    toast = app.start_from_actions(connection.pk, "provider.health_check")
    expect(toast).to_contain_text("Connection check queued")
    screenshot(page, "05-toast-check-queued")
    toast.get_by_role("link", name="View run").click()
    check_pk = _run_pk(page.url)
    assert OperationRun.objects.get(pk=check_pk).operation_type == "provider.health_check"
    expect(page.locator('#run-body[data-active="false"]')).to_be_attached(timeout=30_000)
    expect(page.locator('h1 [data-badge="run_status:succeeded"]')).to_be_visible()
    screenshot(page, "06-run-check-succeeded")

    # The connection shows healthy (a reload is fine here: the list does not poll).
    app.open("providers:list")
    _reload_until_visible(page, f'#connection-{connection.pk} [data-badge="health:healthy"]')
    expect(page.locator(f"#connection-{connection.pk}")).to_contain_text("Contoso Ltd")
    screenshot(page, "07-connections-healthy")
    bell_before = _bell_count(page)

    # Inventory sync; while it runs, another operation on the same tenant is "scope busy".
    toast = app.start_from_actions(connection.pk, "inventory.sync")
    expect(toast).to_contain_text("Inventory sync queued")
    sync_url = toast.get_by_role("link", name="View run").get_attribute("href")
    assert sync_url
    sync_pk = _run_pk(sync_url)
    busy = app.start_from_actions(connection.pk, "compliance.snapshot")
    expect(busy).to_contain_text("Scope busy")
    expect(busy).to_contain_text("Inventory sync")
    assert busy.get_by_role("link", name="View run").get_attribute("href") == sync_url
    screenshot(page, "08-toast-scope-busy")
    app.keeps_to_the_policy()  # the htmx starts and their toasts

    # Monitoring follows the run from running to succeeded by polling, with no reload.
    app.open("operations:runs")
    page.evaluate("window.__loadedOnce = true")
    row = page.locator(f"#run-{sync_pk}")
    expect(row.locator('[data-badge="run_status:running"]')).to_be_visible(timeout=30_000)
    screenshot(page, "09-monitoring-running")
    expect(row.locator('[data-badge="run_status:succeeded"]')).to_be_visible(timeout=90_000)
    expect(page.locator('#runs-table[data-active="false"]')).to_be_attached()
    assert page.evaluate("window.__loadedOnce === true"), "Monitoring reloaded the page"
    screenshot(page, "10-monitoring-succeeded")
    app.keeps_to_the_policy()  # every poll swapped in

    # The bell polls too: the sync's notification arrives without a reload.
    page.wait_for_function(
        "before => Number(document.querySelector('#notification-bell .bell-count')"
        "?.dataset.unread || 0) > before",
        arg=bell_before,
        timeout=25_000,
    )
    assert Notification.objects.filter(user=alice, kind="run.succeeded", url=sync_url).exists()
    assert page.evaluate("window.__loadedOnce === true")
    screenshot(page, "11-bell-counted-up")
    page.locator("#notification-bell a").click()
    expect(page.locator("main")).to_contain_text("Inventory sync succeeded")
    screenshot(page, "12-notifications")

    # The inventory browser lists the devices, and search narrows them.
    assert (
        InventoryItem.objects.filter(connection=connection, kind="managed_device").count()
        == CONTOSO_DEVICES
    )
    app.open("inventory:list")
    rows = page.locator("#inventory-table tbody tr")
    expect(rows).to_have_count(50)
    expect(page.locator("#inventory-table")).not_to_contain_text("No devices match")
    screenshot(page, "13-inventory-devices")
    wanted = InventoryItem.objects.filter(connection=connection, kind="managed_device").last()
    assert wanted is not None
    page.get_by_label("Search").press_sequentially(wanted.display_name)  # searches on keyup
    expect(page.locator(f"#item-{wanted.pk}")).to_be_visible()
    expect(rows).not_to_have_count(50)
    screenshot(page, "14-inventory-search")
    app.keeps_to_the_policy()  # search results swapped in on keyup

    # The remaining pages, for the screenshot set.
    for number, name, kwargs in [
        ("15", "operations:run", {"pk": sync_pk}),
        ("16", "providers:detail", {"pk": connection.pk}),
        ("17", "inventory:compliance", {}),
        ("18", "audit:log", {}),
        ("19", "members:list", {}),
    ]:
        shown = app.open(name, **kwargs)
        expect(shown.locator("main h1").first).to_be_visible()
        screenshot(shown, f"{number}-{name.replace(':', '-')}")
    assert OperationRun.objects.get(pk=sync_pk).status == RunStatus.SUCCEEDED


def test_a_readonly_member_sees_no_action_buttons(
    page: Page, live_server: Any, transactional_db: Any, sim: Any, alice: Any, vera: Any, acme: Any
) -> None:
    connection = make_sim_connection(acme, alice, CONTOSO_TENANT, CONTOSO_SECRET, name="Contoso")
    app = App(page, live_server.url)

    app.sign_in("vera")

    expect(page.locator(f"#connection-{connection.pk}")).to_contain_text("Contoso")
    expect(page.locator(".actions-menu")).to_have_count(0)
    expect(page.locator("button[data-operation]")).to_have_count(0)
    expect(page.locator("main a", has_text="Add connection")).to_have_count(0)
    screenshot(page, "20-readonly-connections")
    app.open("providers:detail", pk=connection.pk)
    expect(page.locator("h1")).to_contain_text("Contoso")
    expect(page.locator(".actions-menu")).to_have_count(0)
    expect(page.locator("button[data-operation]")).to_have_count(0)
    screenshot(page, "21-readonly-connection-detail")
    app.open("operations:runs")
    expect(page.locator("main h1")).to_have_text("Monitoring")


def test_chromium_renders_without_console_errors(
    page: Page, live_server: Any, transactional_db: Any, alice: Any
) -> None:
    """htmx loads from the shipped assets (no CDN) and no page script fails."""
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    app = App(page, live_server.url)

    app.sign_in("alice")
    app.open("operations:runs")
    time.sleep(0.5)

    assert page.evaluate("typeof window.htmx") == "object"
    assert errors == []


def test_every_page_keeps_to_the_content_security_policy(
    page: Page, live_server: Any, transactional_db: Any, alice: Any, acme: Any
) -> None:
    """The pages the tour above does not reach, with data in them: charts, forms, docs, errors."""
    connection = make_sim_connection(acme, alice, CONTOSO_TENANT, CONTOSO_SECRET, name="Contoso")
    run = make_run(acme, connection, status="failed", reason_code="graph.throttled")
    item = make_item(acme, connection, display_name="LAPTOP-CSP", last_seen_run=run)
    for days in (3, 2, 1, 0):
        make_snapshot(
            acme,
            connection,
            compliant=40 + days,
            noncompliant=5,
            stale=days,
            taken_at=timezone.now() - dt.timedelta(days=days),
        )
    Notification.objects.create(workspace=acme, user=alice, kind="run.failed", title="Sync failed")
    app = App(page, live_server.url)
    app.sign_in("alice")
    app.keeps_to_the_policy()

    pages: list[tuple[str, dict[str, Any]]] = [
        ("providers:detail", {"pk": connection.pk}),
        ("providers:create", {}),
        ("providers:edit", {"pk": connection.pk}),
        ("providers:rotate", {"pk": connection.pk}),
        ("providers:status", {"pk": connection.pk}),
        ("providers:delete", {"pk": connection.pk}),
        ("operations:run", {"pk": run.pk}),
        ("inventory:item", {"pk": item.pk}),
        ("inventory:compliance", {}),
        ("notifications:list", {}),
        ("accounts:tokens", {}),
        ("members:list", {}),
    ]
    for name, kwargs in pages:
        shown = app.open(name, **kwargs)
        expect(shown.locator("main h1").first).to_be_visible()
    app.visit(live_server.url + reverse("members:invitations"))
    app.open("inventory:compliance")
    expect(page.locator("svg.compliance-trend polygon").first).to_be_attached()

    # The API docs: Swagger UI from ninja's bundled files renders the operations.
    app.visit(live_server.url + "/api/v1/docs")
    expect(page.locator(".opblock").first).to_be_visible()
    app.keeps_to_the_policy()

    # Error pages: not found, and a form sent without its security token.
    app.visit(live_server.url + "/w/acme/no-such-page/", status=404)
    app.open("providers:create")
    page.context.clear_cookies()
    page.get_by_role("button", name="Create connection").click()
    expect(page.locator("main h1")).to_have_text("The form could not be accepted")
    app.keeps_to_the_policy()


def test_it_notices_what_the_policy_blocks(
    page: Page, live_server: Any, transactional_db: Any, alice: Any
) -> None:
    """The listener is live: an inline style and an inline script are refused and reported."""
    app = App(page, live_server.url)
    app.open("accounts:login")

    page.evaluate(
        """() => {
            document.querySelector("main").setAttribute("style", "color: red");
            const script = document.createElement("script");
            script.textContent = "window.__inlineRan = true";
            document.body.appendChild(script);
        }"""
    )

    assert page.evaluate("window.__inlineRan") is None
    seen = csp_problems(page)
    assert any(problem.startswith("style-src-attr blocked inline") for problem in seen), seen
    assert any(problem.startswith("script-src-elem blocked inline") for problem in seen), seen
