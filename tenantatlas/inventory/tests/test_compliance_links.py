"""Compliance history: the latest counts link to the devices they count."""

from __future__ import annotations

import datetime as dt
import html
import re
from typing import Any

from django.urls import reverse
from django.utils import timezone

from tenantatlas.inventory.compliance_links import devices_url
from tenantatlas.lib.tests.test_content_security_policy import assert_strict
from tenantatlas.operations.tests.factories import make_item, make_snapshot
from tenantatlas.testing import client_for


def compliance(client: Any, **query: Any) -> str:
    response = client.get(reverse("inventory:compliance", args=["acme"]), query)
    assert response.status_code == 200
    assert_strict(response)
    return str(response.content.decode())


def links(body: str) -> list[str]:
    return [html.unescape(h) for h in re.findall(r'href="(/w/acme/inventory/\?[^"]+)"', body)]


def test_it_links_the_latest_counts_to_the_devices_of_the_connection(
    alice: Any, contoso: Any, fabrikam: Any
) -> None:
    ws = contoso.workspace
    make_snapshot(
        ws, fabrikam, compliant=1, noncompliant=2, taken_at=timezone.now() - dt.timedelta(days=1)
    )
    latest = make_snapshot(ws, fabrikam, compliant=3, noncompliant=4, stale=5, in_grace_period=1)

    body = compliance(client_for(alice), connection=fabrikam.pk)

    base = f"/w/acme/inventory/?kind=managed_device&connection={fabrikam.pk}"
    found = links(body)
    for state in ("noncompliant", "compliant", "inGracePeriod", "configManager"):
        assert f"{base}&compliance_state={state}" in found
    assert f"{base}&stale=1" in found
    assert base in found  # the total
    # Legend (8 series) and the latest row (7 states, stale, total); the older row is plain.
    assert len(found) == 8 + 9
    row = re.search(rf'<tr id="snapshot-{latest.pk}">(.*?)</tr>', body, flags=re.S)
    assert row is not None
    escaped = html.escape(base)
    assert f'<a href="{escaped}&amp;compliance_state=noncompliant">4</a>' in row.group(1)
    assert f'<a href="{escaped}&amp;stale=1">5</a>' in row.group(1)
    assert "Not compliant <strong>4</strong>" in body


def test_it_draws_the_legend_in_the_page_not_in_the_chart(alice: Any, contoso: Any) -> None:
    make_snapshot(contoso.workspace, contoso, compliant=3)

    body = compliance(client_for(alice))
    detail = client_for(alice).get(reverse("providers:detail", args=["acme", contoso.pk]))

    assert 'class="compliance-legend"' in body
    assert "data-legend=" not in body
    assert "data-legend=" in detail.content.decode()  # the connection page keeps the chart's own


def test_it_leads_each_link_to_the_devices_it_counts(
    settings: Any, alice: Any, contoso: Any
) -> None:
    settings.COMPLIANCE_STALE_DAYS = 7
    ws = contoso.workspace
    recent = timezone.now() - dt.timedelta(hours=1)
    make_item(ws, contoso, display_name="A", compliance_state="noncompliant", last_sync_at=recent)
    make_item(ws, contoso, display_name="B", compliance_state="inGracePeriod", last_sync_at=recent)
    make_item(ws, contoso, display_name="C", compliance_state="compliant", last_sync_at=None)
    client = client_for(alice)

    def names(column: str) -> list[str]:
        response = client.get(devices_url("acme", contoso.pk, column))
        return [i.display_name for i in response.context["page"].items]

    assert names("noncompliant") == ["A"]
    assert names("in_grace_period") == ["B"]
    assert names("stale") == ["C"]
    assert names("total") == ["A", "B", "C"]


def test_it_shows_no_links_without_snapshots(alice: Any, contoso: Any) -> None:
    body = compliance(client_for(alice))

    assert links(body) == []
    assert "No snapshots yet" in body
