"""End to end against the simulator: the consent page → the callback → the connection → its
check, through Microsoft's real protocol (the link, the page's form, the redirect)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from django.test import Client

from tenantatlas.onboarding.models import OnboardingStatus
from tenantatlas.onboarding.services import consent_url, start_onboarding
from tenantatlas.onboarding.tests.helpers import callback_url, state_of
from tenantatlas.operations.models import OperationRun
from tenantatlas.operations.worker import execute
from tenantatlas.providers.models import Health
from tenantatlas.providers.tests.partner_apps import make_partner_app

# The demo's partner app, registered in Trey Research (docs/simulator.md, "Demo tenants").
PARTNER_CLIENT_ID = "6c1e3a5b-7d9f-4b2d-8a4c-0e2f4a6b8d9c"
PARTNER_SECRET = "trey-partner-secret"
FOURTH_COFFEE = "0b5e7a9c-1d4f-4b6c-8e0a-5f7b9d1a3e4c"  # not consented yet
FOURTH_COFFEE_ADMIN = "lee.gu@fourthcoffee.onmicrosoft.com"
COHO_WINERY = "9a4d6f8b-0c3e-4a5b-b7d9-4e6a8c0f2d3b"  # consented to part of the scope


@pytest.fixture
def partner_app(sim: Any, acme: Any, alice: Any, settings: Any) -> Any:
    settings.SITE_URL = "http://127.0.0.1:8000"  # the reply URL registered on the demo app
    return make_partner_app(
        acme, alice, client_id=PARTNER_CLIENT_ID, secret=PARTNER_SECRET, cloud="simulator"
    )


def _consent_page(sim: Any, url: str, action: str, login_hint: str) -> requests.Response:
    """Open the link as the customer's admin would and press Accept or Cancel."""
    session = requests.Session()
    session.verify = str(sim.ca_bundle)
    page = session.get(url, timeout=10)
    assert page.status_code == 200, page.text[:300]
    assert "Permissions requested" in page.text
    answer = session.post(
        url, data={"action": action, "login_hint": login_hint}, allow_redirects=False, timeout=10
    )
    assert answer.status_code == 302, answer.text[:300]
    return answer


def _callback_path(location: str) -> str:
    split = urlsplit(location)
    assert split.path == "/onboarding/consent/callback/"
    return f"{split.path}?{split.query}"


def _run_check(run: OperationRun, capture: Any) -> OperationRun:
    with capture(execute=True):
        execute(run.pk)
    run.refresh_from_db()
    return run


def test_an_approved_consent_ends_in_a_healthy_connection(
    sim: Any,
    partner_app: Any,
    acme: Any,
    alice: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    onboarding = start_onboarding(actor=alice, workspace=acme, customer_name="Fourth Coffee")
    link = consent_url(onboarding)
    assert link.startswith(f"{sim.base_url}/organizations/v2.0/adminconsent?")

    answer = _consent_page(sim, link, "accept", FOURTH_COFFEE_ADMIN)
    with django_capture_on_commit_callbacks(execute=False):
        response = Client().get(_callback_path(answer.headers["Location"]))

    assert response.status_code == 200
    onboarding.refresh_from_db()
    assert onboarding.status == OnboardingStatus.COMPLETED
    connection = onboarding.connection
    assert str(connection.entra_tenant_id) == FOURTH_COFFEE
    run = OperationRun.objects.get(connection=connection, operation_type="provider.health_check")
    run = _run_check(run, django_capture_on_commit_callbacks)
    assert run.status == "succeeded", (run.reason_code, run.failure_message)
    connection.refresh_from_db()
    assert connection.health == Health.HEALTHY
    assert connection.missing_permissions == []
    assert connection.entra_tenant_name == "Fourth Coffee"


def test_a_declined_consent_creates_nothing(
    sim: Any, partner_app: Any, acme: Any, alice: Any
) -> None:
    onboarding = start_onboarding(actor=alice, workspace=acme, customer_name="Fourth Coffee")

    answer = _consent_page(sim, consent_url(onboarding), "cancel", FOURTH_COFFEE_ADMIN)
    response = Client().get(_callback_path(answer.headers["Location"]))

    assert b"consent.declined" in response.content
    onboarding.refresh_from_db()
    assert onboarding.status == OnboardingStatus.DECLINED
    assert onboarding.connection is None
    assert sim.granted_roles(FOURTH_COFFEE, PARTNER_CLIENT_ID) is None


def test_a_partial_consent_is_never_green(
    sim: Any,
    partner_app: Any,
    acme: Any,
    alice: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    """Coho Winery granted part of the scope: admin_consent=True says nothing about which roles,
    the check reads them from the token and names the missing ones."""
    onboarding = start_onboarding(actor=alice, workspace=acme, customer_name="Coho Winery")
    granted = sim.granted_roles(COHO_WINERY, PARTNER_CLIENT_ID)
    assert "DeviceManagementApps.Read.All" not in granted
    with django_capture_on_commit_callbacks(execute=False):
        Client().get(
            callback_url(
                tenant=COHO_WINERY,
                admin_consent="True",
                scope="https://graph.microsoft.com/.default",
                state=state_of(onboarding),
            )
        )
    onboarding.refresh_from_db()
    run = OperationRun.objects.get(connection=onboarding.connection)

    run = _run_check(run, django_capture_on_commit_callbacks)

    connection = onboarding.connection
    connection.refresh_from_db()
    assert connection.health == Health.DEGRADED
    assert run.status != "succeeded"
    assert connection.missing_permissions == ["DeviceManagementApps.Read.All"]
    assert sorted(connection.granted_permissions) == sorted(granted)


def test_a_tenant_that_never_consented_fails_its_check_as_app_not_found(
    sim: Any,
    partner_app: Any,
    acme: Any,
    alice: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    """A forged success for Fourth Coffee (no consent there): Microsoft answers AADSTS700016."""
    onboarding = start_onboarding(actor=alice, workspace=acme, customer_name="Fourth Coffee")
    with django_capture_on_commit_callbacks(execute=False):
        Client().get(
            callback_url(tenant=FOURTH_COFFEE, admin_consent="True", state=state_of(onboarding))
        )
    onboarding.refresh_from_db()
    run = OperationRun.objects.get(connection=onboarding.connection)

    run = _run_check(run, django_capture_on_commit_callbacks)

    connection = onboarding.connection
    connection.refresh_from_db()
    assert run.reason_code == "auth.app_not_found"
    assert connection.health == Health.UNHEALTHY
