"""Every page's layout in Chromium, at a laptop's 1366×768 and a phone's 390×844.

The pages are the GET rows of the route table (``workspaces/tests/routes.py``), so a new page is
covered as soon as it has its row. With demo-like data (40 connections, runs, devices,
notifications and their audit rows) no page is wider than the window, and the data pages show at
least 15 rows of their table in a laptop's window without scrolling. Toasts close by hand,
success and info ones by themselves, and never cover the navigation. Each page is saved to
``test-artifacts/screenshots/layout-<route>-<width>.png`` for people to look at.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest
from django.utils import timezone
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import Page, expect

from tenantatlas.inventory.models import InventoryItem
from tenantatlas.notifications.models import Notification
from tenantatlas.operations.models import OperationRun
from tenantatlas.operations.tests.factories import item_row, run_row
from tenantatlas.providers.models import ProviderConnection
from tenantatlas.testing import PASSWORD, make_connection
from tenantatlas.workspaces.tests.routes import GLOBAL_ROUTES, OBJECTS, WORKSPACE_ROUTES
from tests.e2e.conftest import click_for_toast, screenshot

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("fast_passwords")]

VIEWPORTS = {1366: 768, 390: 844}
DENSE_PAGES = ("operations:runs", "inventory:list", "providers:list")
MIN_ROWS_IN_VIEW = 15
ROWS = 40  # of each kind: more than two windows' worth, fewer than a page (50)

COMPANIES = (
    "Contoso",
    "Fabrikam",
    "Adatum",
    "Northwind Traders",
    "Alpine Ski House",
    "Tailspin Toys",
    "Wide World Importers",
    "Woodgrove Bank",
    "Litware",
    "Proseware",
)
HEALTH = ("healthy", "healthy", "degraded", "unhealthy", "unknown")
REASONS = {"degraded": "graph.permission_denied", "unhealthy": "auth.invalid_client_secret"}
RUN_ENDS = (
    ("succeeded", ""),
    ("succeeded", ""),
    ("partially_succeeded", "graph.throttled"),
    ("failed", "auth.invalid_client_secret"),
    ("cancelled", ""),
)
OPERATIONS = ("inventory.sync", "provider.health_check", "compliance.snapshot")
COMPLIANCE = ("compliant", "compliant", "noncompliant", "inGracePeriod", "unknown")
PLATFORMS = (
    ("Windows", "10.0.22631.3447"),
    ("iOS", "17.4.1"),
    ("Android", "14"),
    ("macOS", "14.4"),
)

# What the page measures in the browser.
OVERFLOW = "() => [document.documentElement.scrollWidth, window.innerWidth]"
ROWS_IN_VIEW = """() => {
  const rows = [...document.querySelectorAll("main tbody tr")];
  const seen = rows.filter((row) => {
    const box = row.getBoundingClientRect();
    return box.height > 0 && box.top >= 0 && box.bottom <= window.innerHeight;
  });
  return [seen.length, rows.length];
}"""
TOO_WIDE = """() => {
  const wide = (e) => e.getBoundingClientRect().right > window.innerWidth + 0.5;
  const clipped = (e) => {
    for (let box = e.parentElement; box && box !== document.body; box = box.parentElement) {
      if (getComputedStyle(box).overflowX !== "visible" && !wide(box)) return true;
    }
    return false;
  };
  return [...document.querySelectorAll("body *")]
    .filter((e) => wide(e) && !wide(e.parentElement) && !clipped(e))
    .slice(0, 3).map((e) => [e.tagName.toLowerCase(), ...e.classList].join("."));
}"""


def seed(workspace: Any, user: Any, rows: int = ROWS) -> list[Any]:
    """`rows` connections (and their audit rows), runs, twice as many devices, notifications."""
    connections = [_connection(workspace, user, i) for i in range(rows)]
    now = timezone.now()
    OperationRun.objects.bulk_create(_run(workspace, c, i, now) for i, c in enumerate(connections))
    InventoryItem.objects.bulk_create(
        _device(workspace, connections[i % rows], i, now) for i in range(2 * rows)
    )
    Notification.objects.bulk_create(
        Notification(
            workspace=workspace,
            user=user,
            kind="run.failed" if i % 4 == 0 else "run.succeeded",
            title=f"Inventory sync {'failed' if i % 4 == 0 else 'finished'}: {connections[i]}",
            body="Microsoft Graph kept throttling; the run stopped." if i % 4 == 0 else "",
            url=f"/w/{workspace.slug}/runs/",
            read_at=now if i % 3 else None,
        )
        for i in range(rows)
    )
    return connections


def _connection(workspace: Any, user: Any, i: int) -> Any:
    company = COMPANIES[i % len(COMPANIES)]
    name = company if i < len(COMPANIES) else f"{company} {i // len(COMPANIES) + 1}"
    connection = make_connection(workspace, user, name=name, entra_tenant_id=str(uuid.uuid4()))
    health = HEALTH[i % len(HEALTH)]
    ProviderConnection.objects.filter(pk=connection.pk).update(
        entra_tenant_name=f"{company} Ltd" if i % 2 == 0 else "",
        default_domain=f"{_domain(company)}.onmicrosoft.com",
        health=health,
        health_reason_code=REASONS.get(health, ""),
        health_checked_at=None if health == "unknown" else timezone.now() - dt.timedelta(hours=i),
    )
    return connection


def _run(workspace: Any, connection: Any, i: int, now: dt.datetime) -> OperationRun:
    status, reason = RUN_ENDS[i % len(RUN_ENDS)]
    started = now - dt.timedelta(minutes=10 * i + 5)
    return run_row(
        workspace,
        connection,
        operation_type=OPERATIONS[i % len(OPERATIONS)],
        status=status,
        reason_code=reason,
        failure_message="Microsoft Graph refused the request." if reason else "",
        started_at=started,
        finished_at=started + dt.timedelta(seconds=40 + i),
        progress_done=1200 + i,
        progress_total=1200 + i if status == "succeeded" else None,
        requested_by_label="alice" if i % 2 else "",
    )


def _device(workspace: Any, connection: Any, i: int, now: dt.datetime) -> InventoryItem:
    platform, version = PLATFORMS[i % len(PLATFORMS)]
    return item_row(
        workspace,
        connection,
        display_name=f"LAPTOP-{i:04d}",
        platform=platform,
        os_version=version,
        compliance_state=COMPLIANCE[i % len(COMPLIANCE)],
        user_principal_name=f"user{i:03d}@{_domain(COMPANIES[i % len(COMPANIES)])}.example",
        last_sync_at=now - dt.timedelta(hours=i),
        odata_type="#microsoft.graph.managedDevice",
    )


def _domain(company: str) -> str:
    return company.lower().replace(" ", "")


def page_urls(workspace: Any, user: Any) -> list[tuple[str, str]]:
    """(route name, URL) of every GET row of the route table, objects made as the matrix does."""
    urls = []
    for route in WORKSPACE_ROUTES:
        if route.method == "GET":
            pk = OBJECTS[route.obj](workspace, user) if route.obj else None
            urls.append((route.name, route.url(workspace, pk)))
    for global_route in GLOBAL_ROUTES:
        if global_route.method == "GET" and 200 in global_route.answers:  # pages, not refusals
            urls.append((global_route.name, global_route.url(user)))
    return urls


def sign_in(page: Page, base_url: str, width: int) -> None:
    page.set_viewport_size({"width": width, "height": VIEWPORTS[width]})
    page.goto(base_url + "/accounts/login/")
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("header nav").first).to_be_visible()


def check_page(page: Page, url: str, name: str, width: int) -> list[str]:
    """What is wrong with the page at `url` at this width ([] when nothing)."""
    try:
        response = page.goto(url)
    except PlaywrightError as exc:
        if "Download is starting" in str(exc):
            return []  # a CSV export: nothing to lay out
        raise
    assert response is not None
    if not response.headers.get("content-type", "").startswith("text/html"):
        return []  # a probe's JSON: nothing to lay out
    if response.status != 200:
        return [f"{name}: answered {response.status}"]
    problems = []
    scroll_width, window_width = page.evaluate(OVERFLOW)
    if scroll_width > window_width:
        culprits = ", ".join(page.evaluate(TOO_WIDE))
        problems.append(f"{name} at {width}px is {scroll_width}px wide ({culprits})")
    if width == 1366 and name in DENSE_PAGES:
        in_view, total = page.evaluate(ROWS_IN_VIEW)
        if total < 2 * MIN_ROWS_IN_VIEW:
            problems.append(f"{name} lists {total} rows: too few to judge its density")
        elif in_view < MIN_ROWS_IN_VIEW:
            problems.append(f"{name} shows {in_view} rows without scrolling, not 15")
    screenshot(page, f"layout-{name.replace(':', '-')}-{width}")
    return problems


@pytest.mark.parametrize("width", sorted(VIEWPORTS, reverse=True))
def test_it_fits_every_page_into_the_window(
    page: Page, live_server: Any, transactional_db: Any, alice: Any, acme: Any, width: int
) -> None:
    seed(acme, alice)
    sign_in(page, live_server.url, width)
    urls = page_urls(acme, alice)
    assert {name for name, _ in urls} >= set(DENSE_PAGES)
    problems = [
        p for name, url in urls for p in check_page(page, live_server.url + url, name, width)
    ]
    assert problems == [], "\n".join(problems)


def open_menu(page: Page, connection: Any, item: str) -> Any:
    """Open the Actions menu of the connection's row; returns the menu item `item` (a selector).

    The list refreshes itself while a run is active (never while a menu is open), so a click that
    lands just before a refresh is tried again.
    """
    row = page.locator(f"#connection-{connection.pk}")
    choice = row.locator(f"details.actions-menu[open] > ul {item}")
    expect(page.locator("details.actions-menu[open]")).to_have_count(0)
    for _ in range(3):
        row.locator("details.actions-menu > summary").click()
        try:
            expect(choice).to_be_visible(timeout=3_000)
            return choice
        except AssertionError:
            continue
    raise AssertionError(f"the actions menu of {connection} does not offer {item}")


def start(page: Page, choice: Any) -> Any:
    """Click a start item of an open menu; returns the toast the answer added."""
    return click_for_toast(page, choice)


def assert_clear_of_the_navigation(page: Page, toast: Any) -> None:
    toast_box = toast.bounding_box()
    assert toast_box is not None
    for nav in page.locator("header nav").all():
        box = nav.bounding_box()
        assert box is not None
        apart = (
            toast_box["x"] >= box["x"] + box["width"]
            or box["x"] >= toast_box["x"] + toast_box["width"]
            or toast_box["y"] >= box["y"] + box["height"]
            or box["y"] >= toast_box["y"] + toast_box["height"]
        )
        assert apart, f"the toast {toast_box} covers the navigation {box}"


def test_it_lets_toasts_go_by_themselves_or_by_hand_but_never_over_the_navigation(
    page: Page, live_server: Any, transactional_db: Any, alice: Any, acme: Any
) -> None:
    busy, other = seed(acme, alice, rows=2)
    sign_in(page, live_server.url, 1366)
    page.goto(live_server.url + f"/w/{acme.slug}/connections/")

    # The page is stale: the connection is disabled while its menu is open, so the start is refused.
    choice = open_menu(page, other, 'button[data-operation="inventory.sync"]')
    ProviderConnection.objects.filter(pk=other.pk).update(status="disabled")
    refused = start(page, choice)
    expect(refused).to_have_class("toast toast-error")
    queued = start(page, open_menu(page, busy, 'button[data-operation="inventory.sync"]'))
    expect(queued).to_contain_text("Inventory sync queued")
    scope_busy = start(page, open_menu(page, busy, 'button[data-operation="compliance.snapshot"]'))
    expect(scope_busy).to_contain_text("Scope busy")
    screenshot(page, "layout-toasts-1366")
    for toast in (queued, scope_busy, refused):
        expect(toast.get_by_role("button", name="Close")).to_be_visible()
        assert_clear_of_the_navigation(page, toast)

    # Success goes by itself after about six seconds; the warning and the error stay.
    expect(queued).to_be_visible()
    expect(queued).to_be_hidden(timeout=9_000)
    expect(scope_busy).to_be_visible()
    expect(refused).to_be_visible()
    refused.get_by_role("button", name="Close").click()
    expect(refused).to_be_hidden()
    expect(scope_busy).to_be_visible()

    # On a phone the toasts stay clear of the (wrapped) navigation too.
    page.set_viewport_size({"width": 390, "height": VIEWPORTS[390]})
    assert_clear_of_the_navigation(page, scope_busy)
    screenshot(page, "layout-toasts-390")

    # A message the page brings with it (after enabling the connection again) closes as well.
    page.set_viewport_size({"width": 1366, "height": VIEWPORTS[1366]})
    page.reload()
    open_menu(page, other, 'button:text-is("Enable")').click()
    enabled = page.locator("#toasts .toast", has_text="Connection enabled")
    expect(enabled).to_be_visible()
    enabled.get_by_role("button", name="Close").click()
    expect(enabled).to_be_hidden()
