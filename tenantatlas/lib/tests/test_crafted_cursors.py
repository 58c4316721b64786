"""Crafted page cursors: every list page and API list answers 200 or a clear 400, never a 5xx.

A cursor is opaque base64 JSON that the product wrote, but anyone can send any string. Random
text, random bytes, random JSON and hand-made nasties (Infinity, 1e309, year 0 and 10000, naive
or offset-overflowing dates, 2**64 ids, NUL characters, the wrong number of fields) must all be
refused as one invalid-cursor error, which pages show within the layout and the API answers with
its error envelope.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tenantatlas.api.tests.conftest import ApiClient, token_for
from tenantatlas.api.tests.factories import seed_workspace
from tenantatlas.inventory.models import InventoryItem
from tenantatlas.lib.keyset import InvalidCursor, Keyset, decode_datetime, decode_str
from tenantatlas.testing import client_for

BOUNDED = settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _b64_json(text: str) -> str:
    return _b64(text.encode("utf-8", "surrogatepass"))


CRAFTED_JSON = [
    "[Infinity, 1]",
    "[-Infinity, 1]",
    "[NaN, 1]",
    "[1e309, 1]",
    '["2024-01-01T00:00:00+00:00", Infinity]',
    '["2024-01-01T00:00:00+00:00", NaN]',
    '["2024-01-01T00:00:00+00:00", 1e309]',
    '["2024-01-01T00:00:00+00:00", 1.5]',
    '["2024-01-01T00:00:00+00:00", true]',
    '["2024-01-01T00:00:00+00:00", "1"]',
    '["2024-01-01T00:00:00+00:00", 18446744073709551616]',
    '["2024-01-01T00:00:00+00:00", 9223372036854775808]',
    '["2024-01-01T00:00:00+00:00", -9223372036854775809]',
    '["2024-01-01T00:00:00+00:00", -1]',
    '["2024-01-01T00:00:00+00:00", 0]',
    '["2024-01-01T00:00:00+00:00", ' + "9" * 5000 + "]",
    '["0001-01-01T00:00:00+05:00", 1]',
    '["0001-01-01T00:00:00+00:00", 1]',
    '["9999-12-31T23:59:59-05:00", 1]',
    '["9999-12-31T23:59:59.999999+00:00", 1]',
    '["0000-01-01T00:00:00+00:00", 1]',
    '["10000-01-01T00:00:00+00:00", 1]',
    '["2024-01-01T00:00:00", 1]',
    '["2024-13-45T99:00:00+00:00", 1]',
    '["2024-01-01", 1]',
    '["LAPTOP\\u0000", 1]',
    '["\\ud800", 1]',
    '["' + "x" * 5000 + '", 1]',
    "[null, 1]",
    "[[1], 1]",
    '[{"a": 1}, 1]',
    "[1, 1]",
    '["LAPTOP", 1, 2]',
    '["LAPTOP"]',
    "[]",
    "{}",
    '"LAPTOP"',
    "null",
    "1",
    "[" * 5000 + "]" * 5000,
    "",
]
CRAFTED = [
    *(_b64_json(text) for text in CRAFTED_JSON),
    "not-a-cursor!!",
    "====",
    "a",
    "%00",
    "\x00",
    "Infinity",
    "W0luZmluaXR5LDFd" + "=" * 10,  # [Infinity,1] with junk padding
    "A" * 10_000,
]

json_values = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.floats(),
        st.text(max_size=40),
        st.datetimes(timezones=st.timezones()).map(lambda d: d.isoformat()),
        st.datetimes().map(lambda d: d.isoformat()),
    ),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=6,
)
cursors = st.one_of(
    st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=80),
    st.binary(max_size=80).map(_b64),
    json_values.map(lambda v: _b64_json(json.dumps(v))),
    st.tuples(json_values, json_values).map(lambda v: _b64_json(json.dumps(list(v)))),
    st.sampled_from(CRAFTED),
)

PAGES = [
    ("/w/acme/runs/", "after"),
    ("/w/acme/runs/", "before"),
    ("/w/acme/notifications/", "after"),
    ("/w/acme/inventory/", "after"),
]
API_LISTS = [
    "/api/v1/runs",
    "/api/v1/inventory/managed_device",
    "/api/v1/compliance-snapshots",
    "/api/v1/notifications",
    "/api/v1/audit-events",
]


def _each_cursor(check: Callable[[str], None]) -> None:
    for cursor in CRAFTED:
        check(cursor)
    given(cursor=cursors)(BOUNDED(check))()


@pytest.mark.django_db
@pytest.mark.parametrize(("path", "key"), PAGES)
def test_it_answers_any_page_cursor_with_the_page_or_a_clear_400(
    acme: Any, alice: Any, path: str, key: str
) -> None:
    seed_workspace(acme, alice)
    client: Client = client_for(alice)
    statuses: set[int] = set()

    def check(cursor: str) -> None:
        response = client.get(path, {key: cursor})
        statuses.add(response.status_code)
        assert response.status_code in (200, 400), (cursor, response.status_code)
        if response.status_code == 400:
            text = response.content.decode()
            assert "This page link is invalid or out of date" in text
            assert f'href="{path}"' in text  # back to the first page
            assert 'aria-label="Workspace"' in text  # within the normal layout

    _each_cursor(check)
    assert 400 in statuses


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/w/acme/audit/", "/w/acme/connections/"])
def test_it_answers_any_page_number_on_numbered_lists_with_a_page(
    acme: Any, alice: Any, path: str
) -> None:
    seed_workspace(acme, alice)
    client: Client = client_for(alice)

    def check(number: str) -> None:
        response = client.get(path, {"page": number})
        assert response.status_code == 200, (number, response.status_code)

    for number in ("Infinity", "NaN", "1e309", "-1", "0", str(2**64), "9" * 5000):
        check(number)
    given(number=cursors)(BOUNDED(check))()


@pytest.mark.django_db
@pytest.mark.parametrize("path", API_LISTS)
def test_it_answers_any_api_cursor_with_a_page_or_the_error_envelope(
    acme: Any, alice: Any, path: str
) -> None:
    seed_workspace(acme, alice)
    api = ApiClient(token_for(alice))
    statuses: set[int] = set()

    def check(cursor: str) -> None:
        response = api.get(path, {"cursor": cursor})
        statuses.add(response.status_code)
        assert response.status_code in (200, 400), (cursor, response.content[:300])
        body = response.json()
        if response.status_code == 400:
            assert set(body) == {"error"}
            assert body["error"]["code"] == "invalid"
            assert body["error"]["field"] == "cursor"
            assert body["error"]["message"]

    _each_cursor(check)
    assert 400 in statuses


DATES = Keyset("created_at", descending=True, decode=decode_datetime)
NAMES = Keyset("display_name", decode=decode_str)


def test_it_refuses_every_crafted_date_cursor_with_one_domain_error() -> None:
    for cursor in CRAFTED:
        if cursor:
            with pytest.raises(InvalidCursor):
                DATES.decode_cursor(cursor)


@pytest.mark.parametrize(("keyset", "kind"), [(DATES, dt.datetime), (NAMES, str)])
def test_it_decodes_any_string_to_a_checked_pair_or_one_domain_error(
    keyset: Keyset, kind: type
) -> None:
    @BOUNDED
    @given(cursor=cursors)
    def decode(cursor: str) -> None:
        try:
            decoded = keyset.decode_cursor(cursor)
        except InvalidCursor:
            return
        if decoded is not None:
            value, pk = decoded
            assert isinstance(value, kind)
            assert type(pk) is int
            assert 1 <= pk < 2**63

    decode()


def test_it_reads_back_the_cursors_it_writes() -> None:
    when = dt.datetime(2024, 5, 1, 12, 30, tzinfo=dt.UTC)
    row = SimpleNamespace(pk=42, created_at=when, display_name="LAPTOP-\u00e9")

    assert DATES.decode_cursor(DATES.encode_cursor(row)) == (when, 42)
    assert NAMES.decode_cursor(NAMES.encode_cursor(row)) == ("LAPTOP-\u00e9", 42)
    assert DATES.decode_cursor("") is None


@pytest.mark.django_db
def test_it_pages_past_the_longest_names_it_stores(acme: Any, alice: Any) -> None:
    ids = seed_workspace(acme, alice)
    item = InventoryItem.objects.get(pk=ids["inventory_item_id"])
    for n in range(3):
        item.pk = None
        item.external_id = f"long-{n}"
        item.display_name = f"{n}" + "\U0001f4bb" * 299  # 300 characters, 4 bytes each in UTF-8
        item.save()
    api = ApiClient(token_for(alice))
    client = client_for(alice)

    first = api.get("/api/v1/inventory/managed_device", {"limit": 1}).json()
    second = api.get(
        "/api/v1/inventory/managed_device", {"limit": 1, "cursor": first["next_cursor"]}
    )
    page = client.get("/w/acme/inventory/", {"after": first["next_cursor"]})

    assert second.status_code == 200, second.content
    assert second.json()["items"][0]["display_name"].startswith("1")
    assert page.status_code == 200
