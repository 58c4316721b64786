"""GET /api/v1/changes: the change history as JSON — filters, cursor pages, errors, isolation."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.db import connection as db
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tenantatlas.api.tests.conftest import ApiClient, token_for
from tenantatlas.inventory.models import ItemChange
from tenantatlas.operations.tests.factories import change_row, make_change, make_item, make_run
from tenantatlas.testing import make_connection


@pytest.fixture
def contoso(acme: Any, alice: Any) -> Any:
    return make_connection(acme, alice, name="Contoso")


@pytest.fixture
def fabrikam(acme: Any, alice: Any) -> Any:
    return make_connection(
        acme, alice, name="Fabrikam", entra_tenant_id="22222222-3333-4444-5555-666666666666"
    )


@pytest.fixture
def initech(globex: Any, mallory: Any) -> Any:
    return make_connection(globex, mallory, name="Initech")


def names(response: Any) -> list[str]:
    assert response.status_code == 200, response.content[:400]
    return [row["display_name"] for row in response.json()["items"]]


def ago(**delta: Any) -> dt.datetime:
    return timezone.now() - dt.timedelta(**delta)


def test_it_lists_the_workspaces_changes_newest_first_with_their_diff(
    alice: Any, contoso: Any, initech: Any
) -> None:
    ws = contoso.workspace
    run = make_run(ws, contoso)
    policy = make_item(ws, contoso, kind="compliance_policy", display_name="Baseline")
    diff = [
        {"path": "passwordMinimumLength", "old": 8, "new": 12},
        {"path": "roleScopeTagIds", "old": ["0"], "new": None},
    ]
    changed = make_change(
        policy,
        run=run,
        changes=diff,
        actor="ada@contoso.test",
        actor_type="user",
        activity="Update DeviceCompliancePolicy",
        activity_at=ago(hours=2),
        audit_event_id="evt-1",
        previous_seen_at=ago(days=1),
    )
    make_change(
        make_item(ws, contoso, display_name="OLD-PC"),
        change_type="removed",
        detected_at=ago(days=3),
    )
    make_change(make_item(initech.workspace, initech, display_name="GLOBEX-PC"))

    response = ApiClient(token_for(alice)).call("GET", "/changes")

    assert names(response) == ["Baseline", "OLD-PC"]
    first = response.json()["items"][0]
    assert first["id"] == changed.pk
    assert first["connection_id"] == contoso.pk
    assert first["connection_name"] == "Contoso"
    assert first["item_id"] == policy.pk
    assert first["run_id"] == run.pk
    assert first["kind"] == "compliance_policy"
    assert first["change_type"] == "changed"
    assert first["changes"] == diff
    assert first["actor"] == "ada@contoso.test"
    assert first["activity"] == "Update DeviceCompliancePolicy"
    assert first["audit_event_id"] == "evt-1"
    assert response.json()["items"][1]["changes"] == []
    assert response.json()["next_cursor"] is None
    assert b"GLOBEX" not in response.content


def test_it_filters_like_the_page(alice: Any, contoso: Any, fabrikam: Any) -> None:
    ws = contoso.workspace
    run = make_run(ws, contoso)
    pc = make_item(ws, contoso, display_name="CON-PC")
    make_change(pc, run=run, detected_at=ago(hours=1))
    make_change(
        make_item(ws, fabrikam, display_name="FAB-PC"),
        change_type="created",
        detected_at=ago(days=10),
    )
    make_change(
        make_item(ws, contoso, kind="mobile_app", display_name="Portal"),
        changes=[{"path": "publisher", "old": "A", "new": "B"}],
        detected_at=ago(days=40),
    )
    client = ApiClient(token_for(alice))
    day = timezone.localdate(ago(days=10)).isoformat()

    assert names(client.call("GET", f"/changes?connection_id={fabrikam.pk}")) == ["FAB-PC"]
    assert names(client.call("GET", f"/changes?item_id={pc.pk}")) == ["CON-PC"]
    assert names(client.call("GET", f"/changes?run_id={run.pk}")) == ["CON-PC"]
    assert names(client.call("GET", "/changes?kind=mobile_app")) == ["Portal"]
    assert names(client.call("GET", "/changes?change_type=created")) == ["FAB-PC"]
    assert names(client.call("GET", "/changes?period=24h")) == ["CON-PC"]
    assert names(client.call("GET", "/changes?period=30d")) == ["CON-PC", "FAB-PC"]
    assert names(client.call("GET", f"/changes?since={day}&until={day}")) == ["FAB-PC"]
    assert names(client.call("GET", "/changes?q=PORTAL")) == ["Portal"]
    assert names(client.call("GET", "/changes?q=publisher")) == []  # names only, not diffs
    assert names(client.call("GET", "/changes?q=fab-")) == ["FAB-PC"]


def test_it_finds_nothing_through_ids_of_another_workspace(
    alice: Any, contoso: Any, initech: Any
) -> None:
    make_change(make_item(contoso.workspace, contoso, display_name="CON-PC"))
    theirs = make_item(initech.workspace, initech, display_name="GLOBEX-PC")
    their_run = make_run(initech.workspace, initech)
    make_change(theirs, run=their_run)
    client = ApiClient(token_for(alice))

    for query in (
        f"connection_id={initech.pk}",
        f"item_id={theirs.pk}",
        f"run_id={their_run.pk}",
    ):
        response = client.call("GET", f"/changes?{query}")
        assert response.json() == {"items": [], "next_cursor": None}, query


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("since=1969-12-31", "since"),
        ("until=9001-01-01", "until"),
        ("since=2026-02-30", "since"),
        ("since=2026-03-02&until=2026-03-01", "until"),
        ("kind=printer", "kind"),
        ("change_type=renamed", "change_type"),
        ("period=1y", "period"),
        ("item_id=0", "item_id"),
        ("run_id=abc", "run_id"),
        ("connection_id=9223372036854775808", "connection_id"),
        ("q=" + "x" * 201, "q"),
        ("cursor=not-a-cursor", "cursor"),
        ("limit=201", "limit"),
    ],
)
def test_it_answers_invalid_filters_with_the_error_envelope(
    alice: Any, contoso: Any, query: str, field: str
) -> None:
    response = ApiClient(token_for(alice)).call("GET", f"/changes?{query}")

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert error["field"] == field
    assert error["message"]


def test_it_walks_every_change_once_by_cursor(alice: Any, contoso: Any) -> None:
    item = make_item(contoso.workspace, contoso)
    base = ago(days=1)
    ItemChange.objects.bulk_create(
        [change_row(item, detected_at=base + dt.timedelta(seconds=i // 3)) for i in range(23)]
    )
    expected = list(ItemChange.objects.order_by("-detected_at", "-id").values_list("pk", flat=True))
    client = ApiClient(token_for(alice))

    seen: list[int] = []
    page = client.call("GET", "/changes?limit=5").json()
    while True:
        seen += [row["id"] for row in page["items"]]
        if page["next_cursor"] is None:
            break
        page = client.call("GET", f"/changes?limit=5&cursor={page['next_cursor']}").json()
    assert seen == expected


def test_it_costs_the_same_queries_for_few_or_many_changes(alice: Any, contoso: Any) -> None:
    client = ApiClient(token_for(alice))
    client.call("GET", "/me")  # records the token's last use, which the next minute skips
    item = make_item(contoso.workspace, contoso)
    make_change(item)
    with CaptureQueriesContext(db) as few:
        assert client.call("GET", "/changes").status_code == 200
    ItemChange.objects.bulk_create([change_row(item) for _ in range(300)])
    with CaptureQueriesContext(db) as many:
        assert client.call("GET", "/changes").status_code == 200

    assert len(many) == len(few)


def test_it_is_documented_in_the_openapi_document(alice: Any) -> None:
    document = ApiClient().get("/api/v1/openapi.json").json()
    operation = document["paths"]["/api/v1/changes"]["get"]
    parameters = {p["name"] for p in operation["parameters"]}

    assert {"connection_id", "item_id", "run_id", "kind", "change_type", "period"} <= parameters
    assert {"since", "until", "q", "cursor", "limit"} <= parameters
    assert set(operation["responses"]) >= {"200", "400", "401", "403", "404"}
