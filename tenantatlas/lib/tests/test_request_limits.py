"""Requests the product refuses before any view: too large bodies, wrong methods, unknown paths.

The API answers each with its error envelope (never Django's HTML); pages answer a body over
``DATA_UPLOAD_MAX_MEMORY_SIZE`` with a 413 page in the normal layout, not a bare 400 or a 500.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests
from django.test import Client

from tenantatlas.api.tests.conftest import ApiClient, token_for
from tenantatlas.audit.models import AuditEvent
from tenantatlas.providers.models import ProviderConnection
from tenantatlas.providers.tests.helpers import secret_form
from tenantatlas.testing import client_for, make_connection

LIMIT = 4096
TOO_LARGE_PAGE = "This request is too large"


@pytest.fixture(autouse=True)
def small_upload_limit(settings: Any) -> None:
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = LIMIT


def _envelope(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"}
    assert body["error"]["code"] == code
    assert body["error"]["message"]
    return dict(body["error"])


def _big_connection(alice: Any) -> dict[str, Any]:
    return {
        "display_name": "x" * (LIMIT + 1),
        "entra_tenant_id": "5a1c0e4b-7f2d-4c8e-9b6a-3d2f1e0c9b8a",
        "credential": {
            "kind": "client_secret",
            "client_id": "0b5e2c4d-9a1f-4e3b-8c7d-6f5a4b3c2d1e",
            "client_secret": "s",
        },
    }


# -- too large ------------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("with_token", [True, False])
def test_it_answers_an_oversized_api_body_413_with_the_envelope(
    acme: Any, alice: Any, with_token: bool
) -> None:
    api = ApiClient(token_for(alice) if with_token else None)
    before = ProviderConnection.objects.count(), AuditEvent.objects.count()

    response = api.call("POST", "/connections", _big_connection(alice))

    error = _envelope(response, 413, "request_too_large")
    assert f"{LIMIT} bytes" in error["message"]
    assert (ProviderConnection.objects.count(), AuditEvent.objects.count()) == before


@pytest.mark.django_db
def test_it_answers_an_oversized_api_body_413_even_without_the_middleware(
    acme: Any, alice: Any, settings: Any
) -> None:
    settings.MIDDLEWARE = [m for m in settings.MIDDLEWARE if "body_limits" not in m]
    api = ApiClient(token_for(alice))

    response = api.call("POST", "/connections", _big_connection(alice))

    _envelope(response, 413, "request_too_large")


@pytest.mark.django_db
@pytest.mark.parametrize("multipart", [True, False])
def test_it_answers_an_oversized_form_413_with_a_page_and_stores_nothing(
    acme: Any, alice: Any, multipart: bool
) -> None:
    client = client_for(alice)
    data = secret_form(display_name="x" * (LIMIT + 1))
    before = ProviderConnection.objects.count(), AuditEvent.objects.count()

    if multipart:
        response = client.post("/w/acme/connections/new/", data)
    else:
        response = client.post(
            "/w/acme/connections/new/",
            "&".join(f"{k}={v}" for k, v in data.items()),
            content_type="application/x-www-form-urlencoded",
        )

    assert response.status_code == 413
    html = response.content.decode()
    assert TOO_LARGE_PAGE in html
    assert "<header" in html  # the normal layout
    assert (ProviderConnection.objects.count(), AuditEvent.objects.count()) == before


@pytest.mark.django_db
def test_it_answers_an_oversized_sign_in_413_with_a_page() -> None:
    response = Client().post("/accounts/login/", {"username": "x" * (LIMIT + 1), "password": "p"})

    assert response.status_code == 413
    assert TOO_LARGE_PAGE in response.content.decode()


@pytest.mark.django_db
def test_it_still_accepts_a_form_just_under_the_limit(acme: Any, alice: Any) -> None:
    response = client_for(alice).post("/w/acme/connections/new/", secret_form())

    assert response.status_code == 302
    assert ProviderConnection.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_it_answers_a_real_oversized_request_413(live_server: Any, acme: Any, alice: Any) -> None:
    api = requests.post(
        f"{live_server.url}/api/v1/connections",
        data=json.dumps(_big_connection(alice)),
        headers={
            "Authorization": f"Bearer {token_for(alice)}",
            "Content-Type": "application/json",
        },
        timeout=30,
    )
    page = requests.post(
        f"{live_server.url}/accounts/login/", data={"username": "x" * (LIMIT + 1)}, timeout=30
    )

    assert api.status_code == 413
    assert api.json()["error"]["code"] == "request_too_large"
    assert page.status_code == 413
    assert TOO_LARGE_PAGE in page.text


# -- wrong methods, unknown paths -----------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("DELETE", "/runs", {"GET", "POST"}),
        ("PUT", "/connections/{pk}", {"GET", "PATCH", "DELETE"}),
        ("GET", "/runs/{pk}/cancel", {"POST"}),
        ("POST", "/me", {"GET"}),
    ],
)
def test_it_answers_a_wrong_method_405_with_the_envelope(
    acme: Any, alice: Any, method: str, path: str, allowed: set[str]
) -> None:
    connection = make_connection(acme, alice)
    api = ApiClient(token_for(alice))

    response = api.call(method, path.format(pk=connection.pk))

    error = _envelope(response, 405, "method_not_allowed")
    assert {m.strip() for m in response["Allow"].split(",")} == allowed
    assert method in error["message"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path", ["/api/v1/nope", "/api/v1/runs/1/nope", "/api/", "/api/v2/runs", "/api/v1", "/api/v1x"]
)
def test_it_answers_an_unknown_api_path_404_with_the_envelope(alice: Any, path: str) -> None:
    response = ApiClient(token_for(alice)).call("GET", path)

    _envelope(response, 404, "not_found")
