"""Inventory browser, item detail and compliance history: isolation, filters, pages, queries."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from tenantatlas.inventory.models import InventoryItem
from tenantatlas.inventory.views import ITEMS_PER_PAGE
from tenantatlas.lib.tests.test_content_security_policy import assert_strict
from tenantatlas.operations.tests.factories import item_row, make_item, make_run, make_snapshot
from tenantatlas.testing import client_for, page_queries


def list_url(slug: str = "acme") -> str:
    return reverse("inventory:list", args=[slug])


def shown(response: Any) -> list[str]:
    assert response.status_code == 200
    return [item.display_name for item in response.context["page"].items]


@pytest.mark.parametrize("who", ["alice", "bob", "vera"])
def test_it_lists_devices_of_the_workspace_only(
    cast: Any, contoso: Any, initech: Any, who: str
) -> None:
    make_item(
        contoso.workspace,
        contoso,
        display_name="LAPTOP-B",
        user_principal_name="bea@contoso.test",
        platform="Windows",
        os_version="10.0.22631",
        compliance_state="noncompliant",
    )
    make_item(contoso.workspace, contoso, display_name="LAPTOP-A", compliance_state="compliant")
    make_item(initech.workspace, initech, display_name="GLOBEX-PC")

    response = client_for(cast[who]).get(list_url())

    assert shown(response) == ["LAPTOP-A", "LAPTOP-B"]
    body = response.content.decode()
    assert "GLOBEX-PC" not in body
    assert "bea@contoso.test" in body
    assert "Windows 10.0.22631" in body
    assert 'data-badge="compliance_state:noncompliant"' in body


def test_it_answers_404_for_other_workspaces_items(cast: Any, contoso: Any, initech: Any) -> None:
    mine = make_item(contoso.workspace, contoso)
    theirs = make_item(initech.workspace, initech)

    assert (
        client_for(cast["alice"])
        .get(reverse("inventory:item", args=["acme", theirs.pk]))
        .status_code
        == 404
    )
    assert (
        client_for(cast["mallory"])
        .get(reverse("inventory:item", args=["globex", mine.pk]))
        .status_code
        == 404
    )
    assert client_for(cast["mallory"]).get(list_url("acme")).status_code == 404
    assert (
        client_for(cast["mallory"]).get(reverse("inventory:compliance", args=["acme"])).status_code
        == 404
    )


def test_it_switches_tabs_by_kind(alice: Any, contoso: Any) -> None:
    make_item(contoso.workspace, contoso, display_name="PC-1")
    make_item(
        contoso.workspace,
        contoso,
        kind="compliance_policy",
        display_name="Windows baseline",
        odata_type="#microsoft.graph.windows10CompliancePolicy",
    )
    make_item(contoso.workspace, contoso, kind="mobile_app", display_name="Company Portal")

    policies = client_for(alice).get(list_url(), {"kind": "compliance_policy"})

    assert shown(policies) == ["Windows baseline"]
    assert "Windows 10/11 compliance policy" in policies.content.decode()
    assert "#microsoft.graph." not in policies.content.decode()
    assert shown(client_for(alice).get(list_url(), {"kind": "mobile_app"})) == ["Company Portal"]
    assert shown(client_for(alice).get(list_url(), {"kind": "bogus"})) == ["PC-1"]


def test_it_searches_name_and_upn_and_filters(alice: Any, contoso: Any, fabrikam: Any) -> None:
    ws = contoso.workspace
    make_item(
        ws,
        contoso,
        display_name="DESK-01",
        user_principal_name="ann@contoso.test",
        platform="Windows",
        compliance_state="compliant",
    )
    make_item(
        ws,
        contoso,
        display_name="PHONE-01",
        user_principal_name="bob@contoso.test",
        platform="iOS",
        compliance_state="noncompliant",
    )
    make_item(
        ws,
        fabrikam,
        display_name="DESK-02",
        user_principal_name="cy@fabrikam.test",
        platform="Windows",
        compliance_state="compliant",
    )
    make_item(ws, contoso, display_name="DESK-OLD", platform="Windows", removed_at=timezone.now())
    client = client_for(alice)

    assert shown(client.get(list_url(), {"q": "desk"})) == ["DESK-01", "DESK-02"]
    assert shown(client.get(list_url(), {"q": "BOB@"})) == ["PHONE-01"]
    assert shown(client.get(list_url(), {"platform": "ios"})) == ["PHONE-01"]
    assert shown(client.get(list_url(), {"compliance_state": "compliant"})) == [
        "DESK-01",
        "DESK-02",
    ]
    assert shown(client.get(list_url(), {"connection": fabrikam.pk})) == ["DESK-02"]
    with_removed = client.get(list_url(), {"q": "desk", "include_removed": "on"})
    assert shown(with_removed) == ["DESK-01", "DESK-02", "DESK-OLD"]
    assert ">Removed</span>" in with_removed.content.decode()


def test_it_answers_htmx_with_the_table_only(alice: Any, contoso: Any) -> None:
    make_item(contoso.workspace, contoso, display_name="PC-1")

    response = client_for(alice).get(list_url(), {"q": "pc"}, HTTP_HX_REQUEST="true")

    body = response.content.decode().lstrip()
    assert body.startswith('<div id="inventory-table"')
    assert "PC-1" in body
    assert "<html" not in body


def test_it_pages_by_name_without_duplicates_or_misses(alice: Any, contoso: Any) -> None:
    ws = contoso.workspace
    names = [f"DEV-{i % 40:03d}" for i in range(ITEMS_PER_PAGE * 2 + 7)]  # many equal names
    InventoryItem.objects.bulk_create([item_row(ws, contoso, display_name=n) for n in names])
    expected = [
        i.pk for i in InventoryItem.objects.filter(workspace=ws).order_by("display_name", "id")
    ]
    client = client_for(alice)

    seen: list[int] = []
    url = list_url()
    while url:
        response = client.get(url)
        seen += [i.pk for i in response.context["page"].items]
        nxt = response.context["page"].next_url
        url = list_url() + nxt if nxt else ""

    assert seen == expected


def test_it_renders_the_inventory_list_and_detail_in_constant_queries(
    alice: Any, contoso: Any, fabrikam: Any
) -> None:
    ws = contoso.workspace
    client = client_for(alice)
    InventoryItem.objects.bulk_create(
        [
            item_row(ws, contoso if i % 2 else fabrikam, compliance_state="compliant")
            for i in range(10)
        ]
    )
    make_snapshot(ws, contoso, compliant=5)
    few = page_queries(client, list_url())
    few_detail = page_queries(client, reverse("providers:detail", args=["acme", contoso.pk]))

    InventoryItem.objects.bulk_create(
        [
            item_row(
                ws, contoso if i % 2 else fabrikam, kind="managed_device" if i % 3 else "mobile_app"
            )
            for i in range(990)
        ]
    )
    for day in range(1, 30):
        make_snapshot(ws, contoso, compliant=day, taken_at=timezone.now() - dt.timedelta(days=day))
    many = page_queries(client, list_url())
    many_detail = page_queries(client, reverse("providers:detail", args=["acme", contoso.pk]))

    assert few == many
    assert few_detail == many_detail


def test_it_shows_an_item_with_escaped_pretty_raw_json(alice: Any, contoso: Any) -> None:
    run = make_run(contoso.workspace, contoso)
    item = make_item(
        contoso.workspace,
        contoso,
        display_name="PC-<b>1</b>",
        last_seen_run=run,
        raw={"deviceName": "PC-<b>1</b>", "osVersion": "10.0", "nested": {"a": 1}},
    )

    response = client_for(alice).get(reverse("inventory:item", args=["acme", item.pk]))

    body = response.content.decode()
    assert response.status_code == 200
    assert "PC-<b>1</b>" not in body
    assert "&quot;deviceName&quot;: &quot;PC-&lt;b&gt;1&lt;/b&gt;&quot;" in body
    assert "  &quot;nested&quot;: {\n    &quot;a&quot;: 1\n  }" in body
    assert f'href="/w/acme/runs/{run.pk}/"' in body


def test_it_shows_compliance_history_with_a_chart(
    alice: Any, contoso: Any, fabrikam: Any, initech: Any
) -> None:
    ws = contoso.workspace
    run = make_run(ws, contoso, operation_type="compliance.snapshot")
    make_snapshot(
        ws,
        contoso,
        compliant=70,
        noncompliant=20,
        stale=4,
        run=run,
        taken_at=timezone.now() - dt.timedelta(days=1),
    )
    make_snapshot(ws, contoso, compliant=75, noncompliant=18, in_grace_period=2)
    make_snapshot(ws, fabrikam, compliant=999)
    make_snapshot(initech.workspace, initech, compliant=555)

    default = client_for(alice).get(reverse("inventory:compliance", args=["acme"]))
    chosen = client_for(alice).get(
        reverse("inventory:compliance", args=["acme"]), {"connection": fabrikam.pk}
    )
    foreign = client_for(alice).get(
        reverse("inventory:compliance", args=["acme"]), {"connection": initech.pk}
    )

    body = default.content.decode()
    assert default.status_code == 200
    assert [s.total for s in default.context["snapshots"]] == [95, 90]
    assert "<svg" in body
    assert 'data-series="compliant"' in body
    assert f'href="/w/acme/runs/{run.pk}/"' in body
    # As counts, not as digits inside a timestamp (…:12.999707).
    assert not re.search(r"(?<![\d.])999(?!\d)", body)
    assert not re.search(r"(?<![\d.])555(?!\d)", body)
    assert [s.compliant for s in chosen.context["snapshots"]] == [999]
    assert not re.search(r"(?<![\d.])555(?!\d)", foreign.content.decode())


def test_it_fills_the_connection_detail_operations_panel(alice: Any, contoso: Any) -> None:
    ws = contoso.workspace
    run = make_run(ws, contoso, status="failed", reason_code="auth.invalid_client_secret")
    make_item(ws, contoso, display_name="PC-1")
    make_item(ws, contoso, display_name="PC-2", removed_at=timezone.now())
    make_item(ws, contoso, kind="mobile_app", display_name="Portal")
    make_snapshot(ws, contoso, compliant=3, noncompliant=1)

    body = (
        client_for(alice)
        .get(reverse("providers:detail", args=["acme", contoso.pk]))
        .content.decode()
    )

    assert f'href="/w/acme/runs/{run.pk}/"' in body
    assert "auth.invalid_client_secret" in body
    assert f"?kind=managed_device&amp;connection={contoso.pk}" in body
    assert "Managed devices" in body
    assert "Mobile apps" in body
    assert 'class="chart compliance-trend"' in body
    assert "3 of 4 compliant" in body


def test_it_preselects_the_default_connection_for_compliance_history(
    alice: Any, contoso: Any, fabrikam: Any
) -> None:
    make_snapshot(contoso.workspace, contoso, compliant=4)

    body = client_for(alice).get(reverse("inventory:compliance", args=["acme"])).content.decode()

    assert f'<option value="{contoso.pk}" selected>Contoso</option>' in body
    assert "All connections" not in body


def test_it_serves_the_inventory_pages_within_the_content_security_policy(
    alice: Any, contoso: Any
) -> None:
    ws = contoso.workspace
    item = make_item(ws, contoso, display_name="PC-1", raw={"deviceName": "PC-1"})
    for day in (2, 1, 0):
        make_snapshot(
            ws,
            contoso,
            compliant=5 + day,
            stale=day,
            taken_at=timezone.now() - dt.timedelta(days=day),
        )
    client = client_for(alice)

    pages = [
        client.get(list_url()),
        client.get(list_url(), {"q": "pc"}, HTTP_HX_REQUEST="true"),
        client.get(reverse("inventory:item", args=["acme", item.pk])),
        client.get(reverse("inventory:compliance", args=["acme"])),
    ]

    assert 'data-series="stale"' in pages[3].content.decode()
    for response in pages:
        assert response.status_code == 200
        assert_strict(response)  # the header, and no inline script or style (the SVG chart too)
