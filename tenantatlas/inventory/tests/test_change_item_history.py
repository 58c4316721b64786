"""An item's change history (the item page and its own pages) and a connection's latest changes."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from tenantatlas.inventory.change_forms import HISTORY_PER_PAGE
from tenantatlas.inventory.models import ItemChange
from tenantatlas.inventory.templatetags.changes import change_value, value_text
from tenantatlas.lib.tests.test_content_security_policy import assert_strict
from tenantatlas.operations.tests.factories import change_row, make_change, make_item, make_run
from tenantatlas.testing import client_for, page_queries


def item_url(item: Any, slug: str = "acme") -> str:
    return reverse("inventory:item", args=[slug, item.pk])


def history_url(item: Any, slug: str = "acme") -> str:
    return reverse("inventory:item_changes", args=[slug, item.pk])


def entries(body: str) -> list[int]:
    return [int(pk) for pk in re.findall(r'<li id="change-(\d+)" class="change-entry">', body)]


def test_it_shows_every_change_of_the_item_newest_first_with_a_readable_diff(
    alice: Any, contoso: Any
) -> None:
    ws = contoso.workspace
    run = make_run(ws, contoso)
    policy = make_item(ws, contoso, kind="compliance_policy", display_name="Baseline")
    now = timezone.now()
    created = make_change(
        policy, change_type="created", detected_at=now - dt.timedelta(days=2), display_name="Old"
    )
    changed = make_change(
        policy,
        run=run,
        detected_at=now,
        previous_seen_at=now - dt.timedelta(days=1),
        changes=[
            {"path": "passwordMinimumLength", "old": 8, "new": 12},
            {"path": "displayName", "old": "Base <b>line</b>", "new": "Baseline"},
            {"path": "roleScopeTagIds[4]", "old": None, "new": "4"},
            {"path": "settings[x].value", "old": {"a": [1, 2]}, "new": ["b", True]},
            {"path": "notes", "old": "", "new": "x" * 1000},
        ],
        actor="ada@contoso.test",
        activity="Update DeviceCompliancePolicy",
        activity_at=now - dt.timedelta(hours=1),
    )
    make_change(make_item(ws, contoso, display_name="OTHER"), display_name="OTHER")

    response = client_for(alice).get(item_url(policy))

    assert response.status_code == 200
    body = response.content.decode()
    assert entries(body) == [changed.pk, created.pk]
    assert "5 settings" in body
    assert '<th scope="row" class="mono">passwordMinimumLength</th>' in body
    assert "Base &lt;b&gt;line&lt;/b&gt;" in body  # escaped
    assert "(not set)" in body
    assert '<code class="change-json">{&quot;a&quot;: [1, 2]}</code>' in body
    assert '<code class="change-json">[&quot;b&quot;, true]</code>' in body
    assert '<details class="change-long">' in body
    assert "1,000 characters" in body
    assert "ada@contoso.test" in body
    assert reverse("operations:run", args=["acme", run.pk]) in body
    assert "First seen as “Old”" in body
    assert "OTHER" not in body
    assert_strict(response)


def test_it_says_when_an_item_has_no_changes(alice: Any, contoso: Any) -> None:
    item = make_item(contoso.workspace, contoso)

    body = client_for(alice).get(item_url(item)).content.decode()

    assert "No changes recorded for this item" in body


def test_it_pages_an_items_history_beyond_50(alice: Any, contoso: Any) -> None:
    item = make_item(contoso.workspace, contoso)
    base = timezone.now() - dt.timedelta(days=1)
    ItemChange.objects.bulk_create(
        [change_row(item, detected_at=base + dt.timedelta(minutes=i)) for i in range(120)]
    )
    newest_first = list(
        ItemChange.objects.filter(item=item)
        .order_by("-detected_at", "-id")
        .values_list("pk", flat=True)
    )
    client = client_for(alice)

    body = client.get(item_url(item)).content.decode()
    assert entries(body) == newest_first[:HISTORY_PER_PAGE]
    next_link = re.search(r'href="([^"]+)" rel="next"', body)
    assert next_link is not None
    seen = entries(body)
    url = next_link.group(1).replace("&amp;", "&")
    while url:
        response = client.get(url)
        assert response.status_code == 200
        page_body = response.content.decode()
        seen += entries(page_body)
        found = re.search(r'href="([^"]+)" rel="next"', page_body)
        url = found.group(1).replace("&amp;", "&") if found else ""
    assert seen == newest_first
    assert client.get(history_url(item) + "?after=garbage").status_code == 400


def test_it_hides_other_workspaces_item_histories(cast: Any, contoso: Any, initech: Any) -> None:
    theirs = make_item(initech.workspace, initech)
    make_change(theirs)
    mine = make_item(contoso.workspace, contoso)

    assert client_for(cast["alice"]).get(history_url(theirs)).status_code == 404
    assert client_for(cast["alice"]).get(item_url(theirs)).status_code == 404
    assert client_for(cast["mallory"]).get(history_url(mine, "globex")).status_code == 404


def test_it_keeps_the_item_page_query_count_constant(alice: Any, contoso: Any) -> None:
    item = make_item(contoso.workspace, contoso)
    make_change(item)
    client = client_for(alice)
    few = page_queries(client, item_url(item))

    ItemChange.objects.bulk_create([change_row(item) for _ in range(300)])

    assert page_queries(client, item_url(item)) == few


@pytest.mark.parametrize(
    ("value", "html"),
    [
        (None, '<span class="change-unset">(not set)</span>'),
        ("", '<span class="change-unset" title="Empty text">—</span>'),
        ("Require", '<span class="change-text">Require</span>'),
        (12, '<span class="change-text">12</span>'),
        (False, '<span class="change-text">false</span>'),
        ([], '<code class="change-json">[]</code>'),
        (
            {"b": 1, "a": "é"},
            '<code class="change-json">{&quot;a&quot;: &quot;é&quot;, &quot;b&quot;: 1}</code>',
        ),
    ],
)
def test_it_renders_values_readably(value: Any, html: str) -> None:
    assert change_value(value) == html


def test_it_writes_values_as_plain_text() -> None:
    assert value_text(None) == ""
    assert value_text("=1+1") == "=1+1"  # the CSV writer neutralises formulas
    assert value_text(True) == "true"
    assert value_text(["a", 1]) == '["a", 1]'


def test_it_shows_the_connections_latest_changes_and_links_its_timeline(
    alice: Any, contoso: Any, fabrikam: Any
) -> None:
    ws = contoso.workspace
    item = make_item(ws, contoso)
    base = timezone.now() - dt.timedelta(hours=1)
    mine = [
        make_change(item, display_name=f"CON-{i}", detected_at=base + dt.timedelta(minutes=i))
        for i in range(7)
    ]
    make_change(make_item(ws, fabrikam), display_name="FAB-ONLY")
    client = client_for(alice)

    body = client.get(reverse("providers:detail", args=["acme", contoso.pk])).content.decode()

    section = body[body.index('id="connection-changes"') :]
    shown = re.findall(r'<tr id="change-(\d+)">', section)
    assert [int(pk) for pk in shown] == [c.pk for c in reversed(mine)][:5]
    assert "FAB-ONLY" not in body
    timeline = reverse("inventory:changes", args=["acme"]) + f"?connection={contoso.pk}"
    assert timeline in body
    timeline_page = client.get(timeline)
    assert [c.display_name for c in timeline_page.context["page"].items] == [
        c.display_name for c in reversed(mine)
    ]


def test_it_keeps_the_connection_page_query_count_constant(alice: Any, contoso: Any) -> None:
    item = make_item(contoso.workspace, contoso)
    make_change(item)
    client = client_for(alice)
    url = reverse("providers:detail", args=["acme", contoso.pk])
    few = page_queries(client, url)

    ItemChange.objects.bulk_create([change_row(item) for _ in range(500)])

    assert page_queries(client, url) == few


def test_the_run_page_links_the_changes_an_inventory_sync_found(alice: Any, contoso: Any) -> None:
    ws = contoso.workspace
    counts = {
        "managed_device": {"seen": 10, "created": 0, "updated": 2, "removed": 0, "changes": 2},
        "compliance_policy": {"seen": 3, "created": 1, "updated": 1, "removed": 0, "changes": 3},
        "mobile_app": {"seen": 3, "created": 0, "updated": 0, "removed": 0},
    }
    sync = make_run(ws, contoso, summary_counts=counts)
    quiet = make_run(ws, contoso, summary_counts={"managed_device": {"seen": 1}})
    client = client_for(alice)

    body = client.get(reverse("operations:run", args=["acme", sync.pk])).content.decode()
    link = reverse("inventory:changes", args=["acme"]) + f"?run={sync.pk}"
    assert f'<a href="{link}">5 changes found</a>' in body
    quiet_body = client.get(reverse("operations:run", args=["acme", quiet.pk])).content.decode()
    assert "changes found" not in quiet_body
