"""The Changes page: every connection of a workspace, filters, keyset pages, isolation, queries."""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import urlencode

import pytest
from django.urls import reverse
from django.utils import timezone

from tenantatlas.inventory.change_views import CHANGES_PER_PAGE
from tenantatlas.inventory.models import ItemChange
from tenantatlas.lib.tests.test_content_security_policy import assert_strict
from tenantatlas.operations.tests.factories import change_row, make_change, make_item, make_run
from tenantatlas.testing import client_for, page_queries


def changes_url(slug: str = "acme", **query: Any) -> str:
    url = reverse("inventory:changes", args=[slug])
    if query:
        url += "?" + urlencode(query)
    return url


def shown(response: Any) -> list[str]:
    assert response.status_code == 200, response.content[:300]
    return [change.display_name for change in response.context["page"].items]


def ago(**delta: Any) -> dt.datetime:
    return timezone.now() - dt.timedelta(**delta)


@pytest.mark.parametrize("who", ["alice", "bob", "vera"])
def test_it_lists_changes_of_every_connection_of_the_workspace_only(
    cast: Any, contoso: Any, fabrikam: Any, initech: Any, who: str
) -> None:
    ws = contoso.workspace
    make_change(make_item(ws, contoso, display_name="CON-PC"), detected_at=ago(hours=2))
    make_change(make_item(ws, fabrikam, display_name="FAB-PC"), detected_at=ago(hours=1))
    make_change(make_item(initech.workspace, initech, display_name="GLOBEX-PC"))

    response = client_for(cast[who]).get(changes_url())

    assert shown(response) == ["FAB-PC", "CON-PC"]
    body = response.content.decode()
    assert "GLOBEX-PC" not in body
    assert "Initech" not in body
    assert 'data-badge="change_type:changed"' in body
    assert_strict(response)


def test_it_answers_404_to_outsiders(cast: Any, contoso: Any) -> None:
    make_change(make_item(contoso.workspace, contoso))

    assert client_for(cast["mallory"]).get(changes_url()).status_code == 404
    assert client_for(None).get(changes_url()).status_code == 302


def test_it_shows_when_where_what_and_who(alice: Any, contoso: Any) -> None:
    ws = contoso.workspace
    policy = make_item(ws, contoso, kind="compliance_policy", display_name="Windows baseline")
    changes = [
        {"path": "passwordMinimumLength", "old": 8, "new": 12},
        {"path": "roleScopeTagIds[4]", "old": None, "new": "4"},
        {"path": "osMinimumVersion", "old": "10.0", "new": "10.0.22631"},
    ]
    when = timezone.now().replace(microsecond=0)
    make_change(
        policy,
        changes=changes,
        display_name="Windows baseline (old name)",
        actor="ada@contoso.test",
        actor_type="user",
        activity="Update DeviceCompliancePolicy",
        activity_at=when,
    )
    make_change(make_item(ws, contoso, display_name="NEW-PC"), change_type="created")

    body = client_for(alice).get(changes_url()).content.decode()

    assert "Windows baseline (old name)" in body  # the name as of the change
    assert reverse("inventory:item", args=["acme", policy.pk]) in body
    assert "3 settings" in body
    assert "passwordMinimumLength, roleScopeTagIds[4] +1 more" in body
    assert "ada@contoso.test" in body
    assert "Update DeviceCompliancePolicy" in body
    assert "Compliance policies" in body
    assert "Contoso" in body
    assert 'data-badge="change_type:created"' in body
    assert "Unknown" in body  # the creation has no actor


def test_it_filters_by_connection_kind_change_type_and_text(
    alice: Any, contoso: Any, fabrikam: Any
) -> None:
    ws = contoso.workspace
    make_change(make_item(ws, contoso, display_name="CON-PC"))
    make_change(make_item(ws, fabrikam, display_name="FAB-PC"), change_type="removed")
    make_change(
        make_item(ws, contoso, kind="compliance_policy", display_name="Baseline"),
        changes=[{"path": "passwordMinimumLength", "old": 8, "new": 12}],
    )
    client = client_for(alice)

    assert shown(client.get(changes_url(connection=fabrikam.pk))) == ["FAB-PC"]
    assert shown(client.get(changes_url(kind="compliance_policy"))) == ["Baseline"]
    assert shown(client.get(changes_url(change_type="removed"))) == ["FAB-PC"]
    assert shown(client.get(changes_url(q="con-p"))) == ["CON-PC"]
    assert shown(client.get(changes_url(q="BASEline"))) == ["Baseline"]
    # The search reads names only, never the diffs (see change_forms).
    assert shown(client.get(changes_url(q="passwordMinimumLength"))) == []
    assert shown(client.get(changes_url(q="nothing-like-this"))) == []
    assert "No changes match these filters." in client.get(changes_url(q="zzz")).content.decode()


def test_it_filters_by_period_and_days(alice: Any, contoso: Any) -> None:
    ws = contoso.workspace
    item = make_item(ws, contoso)
    make_change(item, display_name="hour", detected_at=ago(hours=1))
    make_change(item, display_name="three days", detected_at=ago(days=3))
    make_change(item, display_name="twenty days", detected_at=ago(days=20))
    make_change(item, display_name="a year", detected_at=ago(days=365))
    client = client_for(alice)

    assert shown(client.get(changes_url(period="24h"))) == ["hour"]
    assert shown(client.get(changes_url(period="7d"))) == ["hour", "three days"]
    assert shown(client.get(changes_url(period="30d"))) == ["hour", "three days", "twenty days"]
    assert len(shown(client.get(changes_url(period="")))) == 4
    day = timezone.localdate(ago(days=20))
    assert shown(client.get(changes_url(since=day.isoformat(), until=day.isoformat()))) == [
        "twenty days"
    ]
    assert shown(client.get(changes_url(until=(day - dt.timedelta(days=1)).isoformat()))) == [
        "a year"
    ]


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"since": "1969-12-31"}, "out of range"),
        ({"until": "9001-01-01"}, "out of range"),
        ({"since": "2026-02-30"}, "Enter a valid date"),
        ({"since": "2026-03-02", "until": "2026-03-01"}, "after the end date"),
        ({"kind": "printer"}, "Select a valid choice"),
        ({"change_type": "renamed"}, "Select a valid choice"),
        ({"period": "1y"}, "Select a valid choice"),
        ({"connection": "abc"}, "Select a valid choice"),
        ({"run": "-1"}, "greater than or equal to 1"),
        ({"q": "x" * 201}, "at most 200 characters"),
    ],
)
def test_it_explains_invalid_filters_and_shows_the_unfiltered_list(
    alice: Any, contoso: Any, fabrikam: Any, query: dict[str, str], message: str
) -> None:
    ws = contoso.workspace
    make_change(make_item(ws, contoso, display_name="CON-PC"))
    make_change(make_item(ws, fabrikam, display_name="FAB-PC"), change_type="removed")

    response = client_for(alice).get(changes_url(**{"change_type": "removed", **query}))

    assert sorted(shown(response)) == ["CON-PC", "FAB-PC"]
    body = response.content.decode()
    assert 'id="change-filter-errors"' in body
    assert message in body


def test_it_ignores_ids_of_another_workspace_as_invalid(
    alice: Any, contoso: Any, initech: Any
) -> None:
    """A crafted connection, run or item id of another workspace filters nothing and shows
    nothing of it: the same answer as an id that does not exist."""
    make_change(make_item(contoso.workspace, contoso, display_name="CON-PC"))
    theirs = make_item(initech.workspace, initech, display_name="GLOBEX-PC")
    their_run = make_run(initech.workspace, initech)
    make_change(theirs, run=their_run)
    client = client_for(alice)

    for query in (
        {"connection": initech.pk},
        {"run": their_run.pk},
        {"item": theirs.pk},
        {"run": 987654321},
        {"item": 987654321},
    ):
        response = client.get(changes_url(**query))
        body = response.content.decode()
        assert shown(response) == ["CON-PC"], query
        assert "GLOBEX-PC" not in body
        assert "Initech" not in body
        assert 'id="change-filter-errors"' in body


def test_it_filters_by_run_and_item(alice: Any, contoso: Any) -> None:
    ws = contoso.workspace
    first, second = make_run(ws, contoso), make_run(ws, contoso)
    pc = make_item(ws, contoso, display_name="PC")
    make_change(pc, run=first, display_name="PC first")
    make_change(pc, run=second, display_name="PC second")
    make_change(make_item(ws, contoso, display_name="OTHER"), run=second)
    client = client_for(alice)

    response = client.get(changes_url(run=first.pk))
    assert shown(response) == ["PC first"]
    assert reverse("operations:run", args=["acme", first.pk]) in response.content.decode()
    assert sorted(shown(client.get(changes_url(item=pc.pk)))) == ["PC first", "PC second"]


def test_it_pages_by_keyset_newest_first_with_ties(alice: Any, contoso: Any) -> None:
    ws = contoso.workspace
    item = make_item(ws, contoso)
    base = ago(days=1)
    ItemChange.objects.bulk_create(
        [
            change_row(
                item, display_name=f"c{i:03d}", detected_at=base + dt.timedelta(seconds=i // 3)
            )
            for i in range(CHANGES_PER_PAGE * 2 + 5)
        ]
    )
    expected = [c.display_name for c in ItemChange.objects.order_by("-detected_at", "-id")]
    client = client_for(alice)

    seen: list[str] = []
    url = changes_url()
    while url:
        response = client.get(url)
        seen += shown(response)
        page = response.context["page"]
        url = changes_url() + page.next_url if page.next_url else ""
    assert seen == expected
    back = client.get(changes_url() + response.context["page"].previous_url)
    assert shown(back) == expected[CHANGES_PER_PAGE : CHANGES_PER_PAGE * 2]
    assert client.get(changes_url(after="garbage")).status_code == 400


def test_it_keeps_the_query_count_constant_from_10_to_10000_changes(
    alice: Any, contoso: Any, fabrikam: Any
) -> None:
    ws = contoso.workspace
    client = client_for(alice)
    items = [make_item(ws, contoso if i % 2 else fabrikam) for i in range(10)]
    ItemChange.objects.bulk_create([change_row(item) for item in items])
    few = page_queries(client, changes_url())
    few_filtered = page_queries(client, changes_url(q="display", connection=contoso.pk))

    ItemChange.objects.bulk_create(
        [
            change_row(
                items[i % 10],
                change_type="changed" if i % 3 else "removed",
                detected_at=ago(minutes=i),
                actor="ada@contoso.test" if i % 2 else "",
            )
            for i in range(9990)
        ],
        batch_size=1000,
    )
    assert page_queries(client, changes_url()) == few
    assert page_queries(client, changes_url(q="display", connection=contoso.pk)) == few_filtered


def test_it_explains_the_empty_history(alice: Any, contoso: Any) -> None:
    body = client_for(alice).get(changes_url()).content.decode()

    assert "No changes recorded yet" in body
    assert "second inventory sync" in body


def test_it_is_in_the_workspace_navigation(alice: Any, contoso: Any) -> None:
    body = client_for(alice).get(changes_url()).content.decode()

    assert f'href="{changes_url()}" aria-current="page">Changes</a>' in body


def test_it_answers_htmx_with_the_table_and_its_filter_errors(alice: Any, contoso: Any) -> None:
    make_change(make_item(contoso.workspace, contoso, display_name="CON-PC"))
    client = client_for(alice)

    response = client.get(changes_url(kind="printer"), headers={"HX-Request": "true"})

    body = response.content.decode()
    assert shown(response) == ["CON-PC"]
    assert body.lstrip().startswith('<div id="changes-table">')
    assert 'id="change-filter-errors"' in body
    assert "HX-Request" in response["Vary"]
