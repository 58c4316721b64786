"""Run on all shown, in Chromium: "Check connection…" on every connection of the workspace from
the Connections page — the confirmation names the count, the summary panel and a toast say what
started, the rows then follow their runs without a reload. Screenshots go to
``test-artifacts/screenshots/``.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from tenantatlas.operations.models import OperationRun
from tenantatlas.operations.services import start_operation
from tenantatlas.providers.models import ProviderConnection
from tenantatlas.providers.services.connections import set_connection_status
from tenantatlas.testing import make_connection
from tests.e2e.conftest import assert_fits, screenshot, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("fast_passwords")]

CHECK = "provider.health_check"


def _fleet(acme: Any, alice: Any, count: int) -> list[ProviderConnection]:
    return [
        make_connection(acme, alice, name=f"Tenant {i:02d}", entra_tenant_id=str(uuid.uuid4()))
        for i in range(count)
    ]


def test_a_person_checks_every_connection_from_the_list_and_sees_the_summary(
    page: Page, live_server: Any, transactional_db: Any, alice: Any, acme: Any
) -> None:
    page.set_viewport_size({"width": 1366, "height": 900})
    fleet = _fleet(acme, alice, 12)
    running = start_operation(actor=alice, connection=fleet[3], operation_type=CHECK)
    start_operation(actor=alice, connection=fleet[5], operation_type="inventory.sync")
    set_connection_status(actor=alice, connection=fleet[7], enabled=False)
    sign_in(page, live_server.url)
    page.goto(f"{live_server.url}/w/acme/connections/")
    rows = page.locator("#connections-table tbody tr")
    expect(rows).to_have_count(12)

    # The toolbar's menu names how many connections it acts on.
    menu = page.locator("details.run-all-menu")
    menu.locator("summary").click()
    expect(menu.locator(".menu-heading")).to_have_text("12 connections")
    screenshot(page, "bulk-01-menu")
    menu.locator(f'a[data-run-all="{CHECK}"]').click()

    # The confirmation, above the table, names the count (the disabled one is skipped).
    panel = page.locator("#bulk-panel #run-all")
    expect(panel).to_have_attribute("data-run-all", "confirm")
    expect(panel).to_contain_text("Run connection check on all 12 connections of the workspace?")
    expect(panel).to_contain_text("The disabled one (1) is skipped.")
    expect(panel).to_be_focused()
    expect(menu).not_to_have_attribute("open", "")
    assert_fits(page)
    screenshot(page, "bulk-02-confirm")
    assert OperationRun.objects.count() == 2, "asking starts nothing"

    # Cancel closes the panel without a reload; asking again brings it back.
    page.evaluate("window.__loadedOnce = true")
    panel.get_by_role("button", name="Cancel").click()
    expect(page.locator("#bulk-panel #run-all")).to_have_count(0)
    menu.locator("summary").click()
    menu.locator(f'a[data-run-all="{CHECK}"]').click()
    start = panel.get_by_role("button", name="Start on 11 connections")
    start.click()

    # The summary: every group with its count and names; a toast says it in one line.
    expect(panel).to_have_attribute("data-run-all", "summary")
    expect(panel.locator('[data-group="started"] [data-count]')).to_have_text("9")
    expect(panel.locator('[data-group="deduplicated"] [data-count]')).to_have_text("1")
    expect(panel.locator('[data-group="busy"] [data-count]')).to_have_text("1")
    expect(panel.locator('[data-group="skipped"] [data-count]')).to_have_text("1")
    expect(panel.locator('[data-names="deduplicated"]')).to_contain_text(
        f"Tenant 03 · run #{running.run.pk}"
    )
    expect(panel.locator('[data-names="busy"]')).to_contain_text(
        "Tenant 05 — Inventory sync is queued"
    )
    expect(panel.locator('[data-names="skipped"]')).to_contain_text("Tenant 07 — disabled")
    toast = page.locator("#toasts [data-toast]").last
    expect(toast).to_contain_text(
        "Connection check: 9 started, 1 already running, 1 busy, 1 skipped."
    )
    expect(panel).to_be_focused()
    started = panel.locator('[data-names="started"]')
    expect(started.locator("li")).to_have_count(9)
    expect(started.locator("li").first).not_to_be_visible()  # folded: the long list
    started.locator("summary").click()
    expect(started.locator("li").first).to_contain_text("Tenant 00 · run #")
    assert_fits(page)
    screenshot(page, "bulk-03-summary")
    checks = OperationRun.objects.filter(operation_type=CHECK)
    assert checks.count() == 10  # nine new ones and the one already running
    assert sorted(checks.values_list("connection_id", flat=True)) == sorted(
        c.pk for i, c in enumerate(fleet) if i not in (5, 7)
    )

    # The rows follow their runs like single starts: queued now, and to the end, no reload.
    first = fleet[0]
    row = page.locator(f"#connection-{first.pk}")
    expect(row.locator('[data-badge="run_status:queued"]')).to_be_visible()
    expect(page.locator('#connections-table[data-active="true"]')).to_be_attached()
    run = checks.get(connection=first)
    assert OperationRun.objects.claim(run.pk, now=timezone.now())
    expect(row.locator('[data-badge="run_status:running"]')).to_be_visible(timeout=10_000)
    assert OperationRun.objects.finish(run.pk, status="succeeded", summary_counts={}, context={})
    expect(row.locator("[data-badge^='run_status:']")).to_have_count(0, timeout=10_000)
    assert page.evaluate("window.__loadedOnce === true"), "the list reloaded"
    screenshot(page, "bulk-04-rows-following")

    # At a phone's width the summary still fits.
    page.set_viewport_size({"width": 390, "height": 844})
    assert_fits(page)
    screenshot(page, "bulk-05-summary-narrow")


def test_a_filtered_list_runs_only_on_what_it_shows(
    page: Page, live_server: Any, transactional_db: Any, alice: Any, acme: Any
) -> None:
    page.set_viewport_size({"width": 1366, "height": 900})
    fleet = _fleet(acme, alice, 6)
    unhealthy = [c.pk for c in fleet[:2]]
    ProviderConnection.objects.filter(pk__in=unhealthy).update(health="unhealthy")
    sign_in(page, live_server.url)
    page.goto(f"{live_server.url}/w/acme/connections/?health=unhealthy")
    expect(page.locator("#connections-table tbody tr")).to_have_count(2)

    menu = page.locator("details.run-all-menu")
    menu.locator("summary").click()
    expect(menu.locator(".menu-heading")).to_have_text("2 connections shown")
    menu.locator('a[data-run-all="inventory.sync"]').click()
    panel = page.locator("#bulk-panel #run-all")
    expect(panel).to_contain_text(
        "Run inventory sync on the 2 connections this filter shows (Health: Unhealthy)?"
    )
    screenshot(page, "bulk-06-filtered-confirm")
    panel.get_by_role("button", name="Start on 2 connections").click()

    expect(panel.locator('[data-group="started"] [data-count]')).to_have_text("2")
    screenshot(page, "bulk-07-filtered-summary")
    synced = OperationRun.objects.filter(operation_type="inventory.sync")
    assert sorted(synced.values_list("connection_id", flat=True)) == sorted(unhealthy)
