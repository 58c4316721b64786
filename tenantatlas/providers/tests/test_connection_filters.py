"""The Connections list's filters and sort: GET parameters other pages link to."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from tenantatlas.providers.models import ProviderConnection, ProviderCredential
from tenantatlas.testing import client_for, make_connection, page_queries


def _connection(acme: Any, alice: Any, name: str, **fields: Any) -> ProviderConnection:
    """A connection with the given health/status fields and current credential expiry."""
    expires_in = fields.pop("expires_in", None)
    connection = make_connection(acme, alice, name=name, entra_tenant_id=str(uuid.uuid4()))
    if fields:
        ProviderConnection.objects.filter(pk=connection.pk).update(**fields)
    if expires_in is not None:
        ProviderCredential.objects.filter(connection=connection).update(
            expires_at=timezone.now() + expires_in
        )
    return connection


@pytest.fixture
def fleet(acme: Any, alice: Any) -> dict[str, ProviderConnection]:
    now = timezone.now()
    day = dt.timedelta(days=1)
    rows = {
        "Alpha": {"health": "healthy", "expires_in": 90 * day, "health_checked_at": now - day},
        "Bravo": {"health": "degraded", "expires_in": 20 * day, "health_checked_at": now},
        "Charlie": {"health": "unhealthy", "expires_in": -day, "health_checked_at": now - 3 * day},
        "Delta": {"health": "unknown", "status": "disabled"},
        "Echo": {"health": "healthy", "expires_in": 3 * day, "health_checked_at": now - 2 * day},
        "Foxtrot": {"health": "degraded", "expires_in": 45 * day, "status": "disabled"},
    }
    return {name: _connection(acme, alice, name, **fields) for name, fields in rows.items()}


def _names(html: str) -> list[str]:
    """The connection names of the table's rows, in order."""
    ids = [int(pk) for pk in re.findall(r'<tr id="connection-(\d+)"', html)]
    names = dict(ProviderConnection.objects.filter(pk__in=ids).values_list("pk", "display_name"))
    return [names[pk] for pk in ids]


def _list(user: Any, **params: Any) -> str:
    response = client_for(user).get(reverse("providers:list", args=["acme"]), params)
    assert response.status_code == 200
    return response.text


@pytest.mark.parametrize(
    ("health", "expected"),
    [
        ("healthy", ["Alpha", "Echo"]),
        ("degraded", ["Bravo", "Foxtrot"]),
        ("unhealthy", ["Charlie"]),
        ("unknown", ["Delta"]),
    ],
)
def test_it_filters_by_health(fleet: Any, vera: Any, health: str, expected: list[str]) -> None:
    assert sorted(_names(_list(vera, health=health))) == expected


def test_it_filters_by_status(fleet: Any, vera: Any) -> None:
    assert sorted(_names(_list(vera, status="disabled"))) == ["Delta", "Foxtrot"]
    assert sorted(_names(_list(vera, status="enabled"))) == ["Alpha", "Bravo", "Charlie", "Echo"]


@pytest.mark.parametrize(
    ("expiry", "expected"),
    [
        ("expired", ["Charlie"]),
        ("7", ["Echo"]),
        ("30", ["Bravo", "Echo"]),
        ("60", ["Bravo", "Echo", "Foxtrot"]),
        ("none", ["Delta"]),
    ],
)
def test_it_filters_by_credential_expiry(
    fleet: Any, vera: Any, expiry: str, expected: list[str]
) -> None:
    assert sorted(_names(_list(vera, expiry=expiry))) == expected


def test_it_filters_by_the_current_credential_only(acme: Any, alice: Any, vera: Any) -> None:
    """A retired credential that expired does not make the connection "expired"."""
    connection = _connection(acme, alice, "Rotated")
    ProviderCredential.objects.filter(connection=connection).update(
        expires_at=timezone.now() - dt.timedelta(days=5),
        state="retired",
        retired_at=timezone.now(),
    )
    ProviderCredential.objects.create(
        connection=connection,
        version=2,
        kind="client_secret",
        client_id=uuid.uuid4(),
        ciphertext="x",
        key_id="k",
    )
    assert _names(_list(vera, expiry="expired")) == []
    assert _names(_list(vera, expiry="none")) == ["Rotated"]


def test_it_combines_filters_with_the_search(fleet: Any, vera: Any) -> None:
    assert _names(_list(vera, health="degraded", status="enabled")) == ["Bravo"]
    assert _names(_list(vera, q="fox", health="degraded")) == ["Foxtrot"]
    html = _list(vera, q="nothing-like-this", health="healthy")
    assert "No connection matches" in html


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("name", ["Alpha", "Bravo", "Charlie", "Delta", "Echo", "Foxtrot"]),
        ("-name", ["Foxtrot", "Echo", "Delta", "Charlie", "Bravo", "Alpha"]),
        ("health", ["Alpha", "Echo", "Bravo", "Foxtrot", "Charlie", "Delta"]),
        ("-health", ["Delta", "Charlie", "Bravo", "Foxtrot", "Alpha", "Echo"]),
        ("expiry", ["Charlie", "Echo", "Bravo", "Foxtrot", "Alpha", "Delta"]),
        ("-expiry", ["Alpha", "Foxtrot", "Bravo", "Echo", "Charlie", "Delta"]),
        ("last_check", ["Charlie", "Echo", "Alpha", "Bravo", "Delta", "Foxtrot"]),
        ("-last_check", ["Bravo", "Alpha", "Echo", "Charlie", "Delta", "Foxtrot"]),
    ],
)
def test_it_sorts(fleet: Any, vera: Any, sort: str, expected: list[str]) -> None:
    assert _names(_list(vera, sort=sort)) == expected


@pytest.mark.parametrize(
    "params",
    [
        {"health": "sick"},
        {"status": "paused"},
        {"expiry": "14"},
        {"sort": "created"},
        {"sort": "--name"},
        {"health": "healthy", "expiry": "soon"},
        {"q": "x" * 101},
    ],
)
def test_it_shows_an_error_and_the_unfiltered_list_for_values_it_does_not_know(
    fleet: Any, vera: Any, params: dict[str, str]
) -> None:
    html = _list(vera, **params)
    assert 'id="filter-errors"' in html
    assert "not understood" in html
    assert sorted(_names(html)) == sorted(fleet)


def test_it_keeps_the_filters_when_paging(acme: Any, alice: Any, vera: Any) -> None:
    for i in range(55):
        _connection(acme, alice, f"Tenant {i:02d}", health="degraded")
    _connection(acme, alice, "Healthy one", health="healthy")
    first = _list(vera, health="degraded", sort="-name")
    assert first.count('<tr id="connection-') == 50
    assert "health=degraded&amp;sort=-name&amp;page=2" in first
    assert _names(first)[0] == "Tenant 54"
    second = _list(vera, health="degraded", sort="-name", page=2)
    assert _names(second) == [f"Tenant {i:02d}" for i in range(4, -1, -1)]


def test_the_toolbar_is_a_plain_get_form_showing_the_chosen_values(fleet: Any, vera: Any) -> None:
    html = _list(vera, health="unknown", expiry="30", sort="-expiry")
    form = re.search(
        r'<form method="get"[^>]*class="connections-filters[^"]*".*?</form>', html, re.S
    )
    assert form is not None
    assert "hx-" not in form.group(0)
    assert '<option value="unknown" selected>Not checked</option>' in form.group(0)
    assert '<option value="30" selected>' in form.group(0)
    assert '<option value="-expiry" selected>' in form.group(0)


def _bulk_connections(workspace: Any, count: int) -> None:
    connections = ProviderConnection.objects.bulk_create(
        [
            ProviderConnection(
                workspace=workspace, display_name=f"Bulk {i:04d}", entra_tenant_id=uuid.uuid4()
            )
            for i in range(count)
        ]
    )
    ProviderCredential.objects.bulk_create(
        [
            ProviderCredential(
                connection=c,
                kind="client_secret",
                client_id=uuid.uuid4(),
                ciphertext="x",
                key_id="k",
                expires_at=timezone.now() + dt.timedelta(days=i % 90),
            )
            for i, c in enumerate(connections)
        ]
    )


@pytest.mark.parametrize("params", [{}, {"health": "unknown", "expiry": "60", "sort": "expiry"}])
def test_its_query_count_does_not_grow_with_the_connections(
    acme: Any, vera: Any, params: dict[str, str]
) -> None:
    url = reverse("providers:list", args=["acme"])
    if params:
        url += "?" + "&".join(f"{k}={v}" for k, v in params.items())
    client = client_for(vera)
    _bulk_connections(acme, 10)
    few = page_queries(client, url)
    _bulk_connections(acme, 990)
    many = page_queries(client, url)
    assert few == many
    assert client.get(url).text.count('<tr id="connection-') == 50


@pytest.mark.parametrize(
    "query", [{}, {"health": "degraded", "sort": "name"}, {"status": "bogus", "expiry": "30"}]
)
def test_it_writes_the_filter_menus_as_their_widgets_would(query: dict[str, str]) -> None:
    from django.test.html import parse_html

    from tenantatlas.operations.templatetags.operations import choice_select
    from tenantatlas.providers.filters import ConnectionFilterForm

    form = ConnectionFilterForm(query or None)
    form.is_valid()
    for name in ("health", "status", "expiry", "sort"):
        # the same element, attributes in any order
        assert parse_html(choice_select(form[name])) == parse_html(str(form[name]))
