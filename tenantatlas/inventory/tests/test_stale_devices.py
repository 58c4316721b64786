"""The stale-devices filter (`stale=1`), the overview's links into the list, and its total."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from tenantatlas.inventory.models import InventoryItem
from tenantatlas.inventory.stale import stale_device_rule
from tenantatlas.operations.tests.factories import item_row, make_item
from tenantatlas.testing import client_for


def list_url(slug: str = "acme") -> str:
    return reverse("inventory:list", args=[slug])


def names(response: Any) -> list[str]:
    assert response.status_code == 200
    return [item.display_name for item in response.context["page"].items]


def _devices(workspace: Any, conn: Any, now: dt.datetime) -> None:
    days = dt.timedelta(days=1)
    make_item(workspace, conn, display_name="FRESH", last_sync_at=now - days)
    make_item(
        workspace,
        conn,
        display_name="JUST-IN",
        last_sync_at=now - 7 * days + dt.timedelta(minutes=5),
    )
    make_item(workspace, conn, display_name="OLD", last_sync_at=now - 8 * days)
    make_item(workspace, conn, display_name="NEVER", last_sync_at=None)
    make_item(workspace, conn, display_name="GONE", last_sync_at=now - 30 * days, removed_at=now)
    make_item(workspace, conn, kind="mobile_app", display_name="APP", last_sync_at=None)


def test_it_counts_stale_as_not_synced_for_the_stale_days_or_never(
    settings: Any, acme: Any, contoso: Any
) -> None:
    settings.COMPLIANCE_STALE_DAYS = 7
    now = timezone.now()
    _devices(acme, contoso, now)

    rule = stale_device_rule(now)

    assert rule.before == now - dt.timedelta(days=7)
    stale = InventoryItem.objects.filter(rule.condition).order_by("display_name")
    assert [i.display_name for i in stale] == ["NEVER", "OLD"]
    assert rule.is_stale(None)
    assert rule.is_stale(now - dt.timedelta(days=7, seconds=1))
    assert not rule.is_stale(now - dt.timedelta(days=6))
    assert stale_device_rule(now, days=30).before == now - dt.timedelta(days=30)


def test_it_lists_the_stale_devices_of_the_workspace_only(
    settings: Any, alice: Any, contoso: Any, initech: Any
) -> None:
    settings.COMPLIANCE_STALE_DAYS = 7
    now = timezone.now()
    _devices(contoso.workspace, contoso, now)
    make_item(initech.workspace, initech, display_name="GLOBEX-OLD", last_sync_at=None)
    client = client_for(alice)

    response = client.get(list_url(), {"kind": "managed_device", "stale": "1"})

    assert names(response) == ["NEVER", "OLD"]
    body = response.content.decode()
    assert "GLOBEX-OLD" not in body
    assert '<input type="checkbox" name="stale" value="1" checked>' in body
    assert names(client.get(list_url(), {"stale": "1", "include_removed": "on"})) == [
        "NEVER",
        "OLD",
    ]
    assert names(client.get(list_url(), {"stale": "0"})) == ["FRESH", "JUST-IN", "NEVER", "OLD"]
    # Staleness is observed, like the rest of the inventory: a changed period applies to the
    # devices the next sync stores, not retroactively to what the last one saw.
    settings.COMPLIANCE_STALE_DAYS = 2
    assert names(client.get(list_url(), {"stale": "1"})) == ["NEVER", "OLD"]


def test_it_answers_the_links_of_the_workspace_overview(
    alice: Any, contoso: Any, fabrikam: Any
) -> None:
    ws = contoso.workspace
    old = timezone.now() - dt.timedelta(days=60)
    make_item(ws, contoso, display_name="BAD-1", compliance_state="noncompliant")
    make_item(ws, contoso, display_name="OK-1", compliance_state="compliant", last_sync_at=old)
    make_item(ws, fabrikam, display_name="BAD-2", compliance_state="noncompliant")
    client = client_for(alice)

    noncompliant = client.get(
        f"{list_url()}?kind=managed_device&connection={contoso.pk}&compliance_state=noncompliant"
    )
    stale = client.get(f"{list_url()}?kind=managed_device&stale=1")

    assert names(noncompliant) == ["BAD-1"]
    assert names(stale) == ["BAD-1", "BAD-2", "OK-1"]  # BAD-* never synced
    assert f'<option value="{contoso.pk}" selected>' in noncompliant.content.decode()


def test_it_shows_the_total_of_the_filtered_list_from_one_count_query(
    alice: Any, contoso: Any
) -> None:
    ws = contoso.workspace
    InventoryItem.objects.bulk_create(
        [item_row(ws, contoso, compliance_state="noncompliant") for _ in range(1234)]
        + [item_row(ws, contoso, compliance_state="compliant") for _ in range(3)]
        + [item_row(ws, contoso, kind="mobile_app") for _ in range(2)]
    )
    make_item(ws, contoso, display_name="ONE-APP", kind="compliance_policy")
    client = client_for(alice)

    with CaptureQueriesContext(connection) as queries:
        response = client.get(list_url(), {"compliance_state": "noncompliant"})

    assert response.context["total"] == 1234
    assert "<strong>1,234 devices</strong>" in response.content.decode()
    counts = [q["sql"] for q in queries.captured_queries if "COUNT(" in q["sql"].upper()]
    counts = [sql for sql in counts if "inventory_inventoryitem" in sql]
    assert len(counts) == 1
    assert (
        "<strong>2 apps</strong>" in client.get(list_url(), {"kind": "mobile_app"}).content.decode()
    )
    policies = client.get(list_url(), {"kind": "compliance_policy"}).content.decode()
    assert "<strong>1 compliance policy</strong>" in policies
