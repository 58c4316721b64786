"""Who gets /metrics: a bearer token when one is configured, else direct requests from loopback
or the allowed networks; everyone else learns nothing (404 without a token, 401 with one)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client

from tenantatlas.testing import client_for

TOKEN = "metrics-token-7f3a9c1e5b2d4f60"
HIDDEN = 404  # the same answer as any page that does not exist


def get(client: Client, *, address: str = "127.0.0.1", **headers: str) -> Any:
    return client.get("/metrics", REMOTE_ADDR=address, headers=headers)


# (case, token configured, allowed networks, address, headers, expected status)
CASES = [
    ("loopback, no token configured", "", [], "127.0.0.1", {}, 200),
    ("IPv6 loopback", "", [], "::1", {}, 200),
    ("another address", "", [], "203.0.113.7", {}, HIDDEN),
    ("an allowed network", "", ["10.20.0.0/16"], "10.20.3.4", {}, 200),
    ("outside the allowed network", "", ["10.20.0.0/16"], "10.21.0.1", {}, HIDDEN),
    ("loopback through a proxy", "", [], "127.0.0.1", {"X-Forwarded-For": "203.0.113.7"}, HIDDEN),
    ("loopback, Forwarded header", "", [], "127.0.0.1", {"Forwarded": "for=203.0.113.7"}, HIDDEN),
    ("token configured, none sent", TOKEN, [], "127.0.0.1", {}, 401),
    ("wrong token", TOKEN, [], "127.0.0.1", {"Authorization": "Bearer wrong-token-0000000"}, 401),
    ("right token, other scheme", TOKEN, [], "127.0.0.1", {"Authorization": f"Basic {TOKEN}"}, 401),
    ("right token with a prefix", TOKEN, [], "127.0.0.1", {"Authorization": f"Bearer x{TOKEN}"}, 401),
    ("right token", TOKEN, [], "203.0.113.7", {"Authorization": f"Bearer {TOKEN}"}, 200),
    ("right token, lower-case scheme", TOKEN, [], "10.0.0.5", {"Authorization": f"bearer {TOKEN}"}, 200),
    ("right token through a proxy", TOKEN, [], "10.0.0.5", {"Authorization": f"Bearer {TOKEN}", "X-Forwarded-For": "198.51.100.1"}, 200),
]  # fmt: skip


@pytest.mark.parametrize(
    ("token", "networks", "address", "headers", "expected"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_it_answers_only_whom_it_should(
    db: Any,
    settings: Any,
    token: str,
    networks: list[str],
    address: str,
    headers: dict,
    expected: int,
) -> None:
    settings.METRICS_TOKEN = token
    settings.METRICS_ALLOWED_NETWORKS = networks

    response = get(Client(), address=address, **headers)

    assert response.status_code == expected
    body = response.content.decode()
    if expected == 200:
        assert response["Content-Type"].startswith("text/plain; version=")
        assert "# TYPE tenantatlas_runs_active gauge" in body
    else:
        assert "tenantatlas_" not in body
    if expected == 401:
        assert response["WWW-Authenticate"] == 'Bearer realm="metrics"'
    assert "sessionid" not in response.cookies


def test_a_signed_in_session_is_no_substitute_for_the_token(settings: Any, alice: Any) -> None:
    settings.METRICS_TOKEN = TOKEN

    assert get(client_for(alice)).status_code == 401
    settings.METRICS_TOKEN = ""
    assert get(client_for(alice), address="203.0.113.7").status_code == HIDDEN


def test_it_answers_only_reads(client: Client, db: Any) -> None:
    assert client.post("/metrics").status_code == 405
    assert client.head("/metrics").status_code == 200


def test_it_is_never_cached(client: Client, db: Any) -> None:
    assert "no-cache" in get(client)["Cache-Control"]


def test_its_refusal_looks_like_any_missing_page(db: Any) -> None:
    refused = get(Client(), address="203.0.113.7")
    missing = Client().get("/no-such-page", REMOTE_ADDR="203.0.113.7")

    def page(response: Any) -> str:  # the CSRF token differs on every page
        return re.sub(r'"X-CSRFToken": "\w+"', "", response.content.decode())

    assert (refused.status_code, page(refused)) == (missing.status_code, page(missing))


def test_it_is_scraped_over_plain_http_even_when_the_site_redirects_to_https(
    db: Any, settings: Any
) -> None:
    settings.SECURE_SSL_REDIRECT = True

    assert Client().get("/runs-or-any-page").status_code == 301
    assert get(Client()).status_code == 200
