"""CSV export of the filtered inventory list: columns, filters, isolation, streaming."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from typing import Any

import pytest
from django.db import connection
from django.http import StreamingHttpResponse
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from tenantatlas.inventory import export
from tenantatlas.inventory.models import InventoryItem
from tenantatlas.operations.tests.factories import item_row, make_item
from tenantatlas.testing import client_for

G = "#microsoft.graph."


def export_url(slug: str = "acme") -> str:
    return reverse("inventory:export", args=[slug])


def rows_of(response: Any) -> list[list[str]]:
    assert response.status_code == 200
    assert isinstance(response, StreamingHttpResponse)
    body = response.getvalue().decode()
    return list(csv.reader(io.StringIO(body)))


def test_it_exports_the_filtered_devices_with_the_columns_of_the_list(
    alice: Any, contoso: Any, fabrikam: Any, initech: Any
) -> None:
    ws = contoso.workspace
    synced = dt.datetime(2026, 11, 30, 8, 15, tzinfo=dt.UTC)
    make_item(
        ws,
        contoso,
        display_name="LAPTOP-1",
        external_id="aaaa-1",
        user_principal_name="ann@contoso.test",
        platform="Windows",
        os_version="10.0.22631",
        compliance_state="noncompliant",
        last_sync_at=synced,
    )
    make_item(ws, contoso, display_name="LAPTOP-2", compliance_state="compliant")
    make_item(ws, fabrikam, display_name="LAPTOP-3", compliance_state="noncompliant")
    make_item(
        ws, contoso, display_name="LAPTOP-4", compliance_state="noncompliant", removed_at=synced
    )
    make_item(initech.workspace, initech, display_name="GLOBEX-1", compliance_state="noncompliant")

    response = client_for(alice).get(
        export_url(), {"connection": contoso.pk, "compliance_state": "noncompliant"}
    )

    rows = rows_of(response)
    assert rows[0] == list(export.DEVICE_HEADER)
    assert rows[1:] == [
        [
            "LAPTOP-1",
            "aaaa-1",
            "ann@contoso.test",
            "Windows",
            "10.0.22631",
            "Not compliant",
            "2026-11-30T08:15:00+00:00",
            "Contoso",
            "",
        ]
    ]
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    today = f"{timezone.now():%Y-%m-%d}"
    assert response["Content-Disposition"] == (
        f'attachment; filename="acme-managed-devices-{today}.csv"'
    )


def test_it_never_exports_another_workspaces_rows(
    alice: Any, mallory: Any, contoso: Any, initech: Any
) -> None:
    make_item(contoso.workspace, contoso, display_name="ACME-PC")
    make_item(initech.workspace, initech, display_name="GLOBEX-PC")

    mine = rows_of(client_for(alice).get(export_url()))
    # A connection of another workspace is not a choice: the filter is ignored, not obeyed.
    crafted = rows_of(client_for(alice).get(export_url(), {"connection": initech.pk}))
    theirs = rows_of(client_for(mallory).get(export_url("globex")))

    assert [r[0] for r in mine[1:]] == ["ACME-PC"]
    assert [r[0] for r in crafted[1:]] == ["ACME-PC"]
    assert [r[0] for r in theirs[1:]] == ["GLOBEX-PC"]
    assert client_for(mallory).get(export_url("acme")).status_code == 404
    assert client_for(None).get(export_url()).status_code == 302


@pytest.mark.parametrize("who", ["alice", "bob", "vera"])
def test_it_lets_every_member_who_sees_the_inventory_export_it(
    cast: Any, contoso: Any, who: str
) -> None:
    make_item(contoso.workspace, contoso, display_name="PC-1")

    assert [r[0] for r in rows_of(client_for(cast[who]).get(export_url()))] == ["Device", "PC-1"]


def test_it_neutralises_spreadsheet_formulas_in_cells(alice: Any, contoso: Any) -> None:
    make_item(
        contoso.workspace,
        contoso,
        display_name='=HYPERLINK("http://evil.test","x")',
        user_principal_name="+SUM(A1)@contoso.test",
        os_version="-1",
    )

    (row,) = rows_of(client_for(alice).get(export_url()))[1:]

    assert row[0] == '\'=HYPERLINK("http://evil.test","x")'
    assert row[2] == "'+SUM(A1)@contoso.test"
    assert row[4] == "'-1"


def test_it_exports_every_row_in_keyset_chunks_in_the_list_order(
    alice: Any, contoso: Any, monkeypatch: Any
) -> None:
    monkeypatch.setattr(export, "CHUNK", 7)
    ws = contoso.workspace
    InventoryItem.objects.bulk_create(
        [item_row(ws, contoso, display_name=f"DEV-{i % 5}") for i in range(38)]  # equal names
    )
    expected = list(
        InventoryItem.objects.filter(workspace=ws)
        .order_by("display_name", "id")
        .values_list("external_id", flat=True)
    )

    with CaptureQueriesContext(connection) as queries:
        rows = rows_of(client_for(alice).get(export_url()))

    assert [r[1] for r in rows[1:]] == expected
    reads = [q["sql"] for q in queries.captured_queries if '"external_id"' in q["sql"]]
    assert len(reads) == 6  # 38 rows in chunks of 7
    assert not any(re.search(r'"inventory_inventoryitem"\."raw"', sql) for sql in reads)


def test_it_exports_policies_and_apps_with_product_names_and_platforms(
    alice: Any, contoso: Any
) -> None:
    ws = contoso.workspace
    seen = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)
    make_item(
        ws,
        contoso,
        kind="mobile_app",
        display_name="Portal",
        odata_type=G + "iosVppApp",
        last_seen_at=seen,
    )
    make_item(ws, contoso, kind="mobile_app", display_name="Agent", odata_type=G + "win32LobApp")
    make_item(
        ws,
        contoso,
        kind="configuration_policy",
        display_name="Baseline",
        raw={"platforms": "windows10", "templateReference": {"templateFamily": "baseline"}},
    )
    client = client_for(alice)

    apps = rows_of(client.get(export_url(), {"kind": "mobile_app", "platform": "iOS"}))
    catalog = client.get(export_url(), {"kind": "configuration_policy"})

    assert apps[0] == list(export.ITEM_HEADER)
    assert [r[0] for r in apps[1:]] == ["Portal"]
    assert apps[1][2:6] == ["iOS VPP app", "iOS/iPadOS", "2026-12-01T09:00:00+00:00", "Contoso"]
    assert 'filename="acme-settings-catalog-policies-' in catalog["Content-Disposition"]
    assert rows_of(catalog)[1][2:4] == ["Security baseline", "Windows"]


def test_it_links_the_export_with_the_filters_of_the_list(alice: Any, contoso: Any) -> None:
    make_item(contoso.workspace, contoso, display_name="PC-1")
    client = client_for(alice)

    body = client.get(
        reverse("inventory:list", args=["acme"]),
        {"q": "pc", "stale": "1", "connection": contoso.pk},
    ).content.decode()
    first = client.get(reverse("inventory:list", args=["acme"])).content.decode()

    link = re.search(r'<a class="inventory-export" href="([^"]+)" download>Export CSV</a>', body)
    assert link is not None
    assert link.group(1) == (
        f"/w/acme/inventory/export.csv?q=pc&amp;stale=1&amp;connection={contoso.pk}"
        "&amp;kind=managed_device"
    )
    assert 'href="/w/acme/inventory/export.csv?kind=managed_device"' in first
