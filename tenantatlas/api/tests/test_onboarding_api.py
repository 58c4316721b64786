"""The onboarding endpoints: the partner app without its secret, consent links for managers."""

from __future__ import annotations

import json
from typing import Any

from tenantatlas.api.tests.conftest import ApiClient, token_for
from tenantatlas.onboarding.models import Onboarding, OnboardingStatus
from tenantatlas.onboarding.tests.helpers import start
from tenantatlas.testing import KNOWN_SECRET


def _post(token: str, path: str, body: dict[str, Any] | None = None) -> Any:
    return ApiClient(token).post(
        f"/api/v1{path}", data=json.dumps(body or {}), content_type="application/json"
    )


def test_it_reads_the_partner_app_without_its_secret(alice: Any, vera: Any, acme: Any) -> None:
    start(acme, alice)

    response = ApiClient(token_for(vera)).get("/api/v1/partner-app")

    assert response.status_code == 200
    body = response.json()
    assert body["client_id"] == "7c7c7c7c-1d1d-4e4e-8f8f-909090909090"
    assert body["credential"]["kind"] == "client_secret"
    assert KNOWN_SECRET not in response.content.decode()


def test_it_answers_404_without_a_partner_app(alice: Any, acme: Any) -> None:
    response = ApiClient(token_for(alice)).get("/api/v1/partner-app")

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_a_manager_starts_renews_and_cancels_an_onboarding(alice: Any, acme: Any) -> None:
    start(acme, alice, customer="First")
    token = token_for(alice)

    created = _post(
        token, "/onboardings", {"customer_name": "Northwind", "tenant_hint": "northwind.com"}
    )
    assert created.status_code == 201
    body = created.json()
    assert body["status"] == "pending"
    assert "/northwind.com/v2.0/adminconsent?" in body["consent_url"]

    renewed = _post(token, f"/onboardings/{body['id']}/renew").json()
    assert renewed["consent_url"] != body["consent_url"]

    cancelled = _post(token, f"/onboardings/{body['id']}/cancel").json()
    assert cancelled["status"] == "cancelled"
    assert cancelled["consent_url"] is None
    again = _post(token, f"/onboardings/{body['id']}/cancel")
    assert again.status_code == 409
    assert Onboarding.objects.get(pk=body["id"]).status == OnboardingStatus.CANCELLED


def test_only_managers_get_the_links_in_the_list(alice: Any, vera: Any, acme: Any) -> None:
    start(acme, alice, customer="Northwind")

    managers = ApiClient(token_for(alice)).get("/api/v1/onboardings").json()
    readers = ApiClient(token_for(vera)).get("/api/v1/onboardings").json()

    assert managers["items"][0]["consent_url"].startswith("https://login.microsoftonline.com/")
    assert readers["items"][0]["customer_name"] == "Northwind"
    assert readers["items"][0]["consent_url"] is None


def test_a_bad_tenant_hint_is_a_400_on_its_field(alice: Any, acme: Any) -> None:
    start(acme, alice)

    response = _post(token_for(alice), "/onboardings", {"customer_name": "X", "tenant_hint": "a b"})

    assert response.status_code == 400
    assert "verified domain" in response.json()["error"]["message"]
