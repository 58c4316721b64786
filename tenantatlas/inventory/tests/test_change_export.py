"""CSV export of the filtered Changes list: one row per changed setting, formulas neutralised,
filters and isolation as on the page, read in keyset chunks."""

from __future__ import annotations

import csv
import datetime as dt
import io
from typing import Any

from django.db import connection
from django.http import StreamingHttpResponse
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from tenantatlas.inventory import change_views
from tenantatlas.inventory.change_views import CSV_HEADER
from tenantatlas.inventory.models import ItemChange
from tenantatlas.operations.tests.factories import change_row, make_change, make_item
from tenantatlas.testing import client_for


def export_url(slug: str = "acme", query: str = "") -> str:
    return reverse("inventory:changes_export", args=[slug]) + (f"?{query}" if query else "")


def rows_of(response: Any) -> list[list[str]]:
    assert response.status_code == 200
    assert isinstance(response, StreamingHttpResponse)
    assert response["Content-Type"].startswith("text/csv")
    return list(csv.reader(io.StringIO(response.getvalue().decode())))


def test_it_writes_one_row_per_changed_setting(alice: Any, contoso: Any, initech: Any) -> None:
    ws = contoso.workspace
    when = dt.datetime(2026, 11, 30, 8, 15, tzinfo=dt.UTC)
    policy = make_item(ws, contoso, kind="compliance_policy", display_name="Baseline")
    make_change(
        policy,
        detected_at=when,
        changes=[
            {"path": "passwordMinimumLength", "old": 8, "new": 12},
            {"path": "roleScopeTagIds", "old": ["0"], "new": ["0", "4"]},
            {"path": "description", "old": None, "new": "=HYPERLINK(1)"},
        ],
        actor="ada@contoso.test",
        activity="Update DeviceCompliancePolicy",
        activity_at=when - dt.timedelta(hours=1),
    )
    device = make_item(ws, contoso, display_name="PC-1")
    make_change(device, change_type="removed", detected_at=when - dt.timedelta(days=1))
    make_change(make_item(initech.workspace, initech, display_name="GLOBEX-PC"))

    response = client_for(alice).get(export_url())

    rows = rows_of(response)
    assert rows[0] == list(CSV_HEADER)
    who = ["ada@contoso.test", "Update DeviceCompliancePolicy", "2026-11-30T07:15:00+00:00"]
    head = ["2026-11-30T08:15:00+00:00", "Contoso", "Compliance policies", "Baseline", "changed"]
    assert rows[1:] == [
        [*head, "passwordMinimumLength", "8", "12", *who],
        [*head, "roleScopeTagIds", '["0"]', '["0", "4"]', *who],
        [*head, "description", "", "'=HYPERLINK(1)", *who],
        [
            "2026-11-29T08:15:00+00:00",
            "Contoso",
            "Managed devices",
            "PC-1",
            "removed",
            "",
            "",
            "",
            "",
            "",
            "",
        ],
    ]
    assert 'filename="acme-changes-' in response["Content-Disposition"]


def test_it_exports_what_the_page_filters(alice: Any, contoso: Any, fabrikam: Any) -> None:
    ws = contoso.workspace
    make_change(make_item(ws, contoso, display_name="CON-PC"))
    make_change(make_item(ws, fabrikam, display_name="FAB-PC"), change_type="created")
    client = client_for(alice)

    assert [
        r[3] for r in rows_of(client.get(export_url(query=f"connection={fabrikam.pk}")))[1:]
    ] == ["FAB-PC"]
    assert [r[3] for r in rows_of(client.get(export_url(query="change_type=changed")))[1:]] == [
        "CON-PC"
    ]
    # An invalid filter exports the unfiltered list, as the page shows it.
    assert len(rows_of(client.get(export_url(query="kind=printer")))) == 3


def test_it_hides_the_export_from_outsiders(cast: Any, contoso: Any) -> None:
    make_change(make_item(contoso.workspace, contoso))

    assert client_for(cast["mallory"]).get(export_url()).status_code == 404
    assert client_for(cast["vera"]).get(export_url()).status_code == 200


def test_it_reads_in_keyset_chunks_newest_first(alice: Any, contoso: Any, monkeypatch: Any) -> None:
    monkeypatch.setattr(change_views, "CHUNK", 7)
    item = make_item(contoso.workspace, contoso)
    base = timezone.now() - dt.timedelta(days=1)
    ItemChange.objects.bulk_create(
        [
            change_row(item, display_name=f"c{i}", detected_at=base + dt.timedelta(seconds=i // 4))
            for i in range(38)
        ]
    )
    expected = list(
        ItemChange.objects.order_by("-detected_at", "-id").values_list("display_name", flat=True)
    )

    with CaptureQueriesContext(connection) as queries:
        rows = rows_of(client_for(alice).get(export_url()))

    assert [r[3] for r in rows[1:]] == expected
    reads = [q["sql"] for q in queries.captured_queries if "inventory_itemchange" in q["sql"]]
    assert len(reads) == 6  # 38 rows in chunks of 7
    assert all("LIMIT 7" in sql for sql in reads)
    assert not any("OFFSET" in sql for sql in reads)
