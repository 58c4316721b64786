"""The partner app and onboarding pages: who sees what, and what the buttons do."""

from __future__ import annotations

from typing import Any

from django.urls import reverse

from tenantatlas.onboarding.models import Onboarding, OnboardingStatus
from tenantatlas.onboarding.services import consent_url
from tenantatlas.onboarding.tests.helpers import start
from tenantatlas.providers.models import PartnerApp
from tenantatlas.providers.permissions import GRAPH_APP_ROLE_IDS
from tenantatlas.testing import KNOWN_SECRET, client_for


def _url(name: str, workspace: Any, pk: int | None = None) -> str:
    kwargs: dict[str, Any] = {"slug": workspace.slug}
    if pk is not None:
        kwargs["pk"] = pk
    return reverse(f"onboarding:{name}", kwargs=kwargs)


def test_the_partner_app_page_shows_what_to_register_in_entra(
    alice: Any, vera: Any, acme: Any, settings: Any
) -> None:
    settings.SITE_URL = "https://atlas.example.test"
    start(acme, alice)

    html = client_for(vera).get(_url("partner_app", acme)).content.decode()

    assert "Acme MSP partner app" in html
    assert "https://atlas.example.test/onboarding/consent/callback/" in html
    assert '"requiredResourceAccess"' in html.replace("&quot;", '"')
    for name, role_id in GRAPH_APP_ROLE_IDS.items():
        assert name in html
        assert role_id in html
    assert "Edit or rotate the credential" not in html  # vera may look, not change
    assert KNOWN_SECRET not in html


def test_without_a_partner_app_managers_are_offered_to_set_it_up(
    alice: Any, vera: Any, acme: Any
) -> None:
    manager_html = client_for(alice).get(_url("list", acme)).content.decode()
    readonly_html = client_for(vera).get(_url("partner_app", acme)).content.decode()

    assert "set it up first" in manager_html
    assert "Set up the partner app" not in readonly_html
    assert client_for(alice).get(_url("start", acme)).status_code == 200


def test_a_manager_creates_the_partner_app_with_a_write_only_secret(alice: Any, acme: Any) -> None:
    client = client_for(alice)
    data = {
        "display_name": "Acme partner",
        "cloud": "global",
        "client_id": "7c7c7c7c-1d1d-4e4e-8f8f-909090909090",
        "credential_kind": "client_secret",
        "client_secret": KNOWN_SECRET,
    }

    response = client.post(_url("partner_app_edit", acme), data)

    assert response.status_code == 302
    partner_app = PartnerApp.objects.get(workspace=acme)
    assert partner_app.current_credential is not None
    edit = client.get(_url("partner_app_edit", acme)).content.decode()
    assert KNOWN_SECRET not in edit
    assert "Leave empty to keep the current secret" in edit


def test_managers_see_each_pending_link_and_others_only_the_customer(
    alice: Any, vera: Any, acme: Any
) -> None:
    onboarding = start(acme, alice, customer="Northwind")
    link = consent_url(onboarding).replace("&", "&amp;")

    manager_html = client_for(alice).get(_url("list", acme)).content.decode()
    readonly_html = client_for(vera).get(_url("list", acme)).content.decode()

    assert link in manager_html
    assert "Copy link" in manager_html
    assert "Renew link" in manager_html
    assert "Northwind" in readonly_html
    assert onboarding.state_nonce not in readonly_html
    assert "adminconsent" not in readonly_html
    assert "Renew link" not in readonly_html


def test_the_list_shows_only_this_workspaces_onboardings(
    alice: Any, mallory: Any, acme: Any, globex: Any
) -> None:
    start(acme, alice, customer="Northwind")
    start(globex, mallory, customer="Initech customer")

    html = client_for(alice).get(_url("list", acme)).content.decode()

    assert "Northwind" in html
    assert "Initech customer" not in html


def test_renew_and_cancel_buttons_do_what_they_say(alice: Any, acme: Any) -> None:
    onboarding = start(acme, alice)
    client = client_for(alice)
    old_link = consent_url(onboarding)

    client.post(_url("renew", acme, onboarding.pk))
    onboarding.refresh_from_db()
    assert consent_url(onboarding) != old_link

    client.post(_url("cancel", acme, onboarding.pk))
    onboarding.refresh_from_db()
    assert onboarding.status == OnboardingStatus.CANCELLED
    response = client.post(_url("renew", acme, onboarding.pk), follow=True)
    assert "there is no link to renew" in response.content.decode()


def test_the_start_form_explains_a_bad_tenant(alice: Any, acme: Any) -> None:
    start(acme, alice)

    response = client_for(alice).post(
        _url("start", acme), {"customer_name": "Fabrikam", "tenant_hint": "not a tenant"}
    )

    assert response.status_code == 200
    assert "verified domain" in response.content.decode()
    assert not Onboarding.objects.filter(customer_name="Fabrikam").exists()


def test_the_start_form_makes_a_link_for_the_named_tenant(alice: Any, acme: Any) -> None:
    start(acme, alice)

    response = client_for(alice).post(
        _url("start", acme),
        {"customer_name": "Fabrikam", "tenant_hint": "fabrikam.com"},
        follow=True,
    )

    assert "login.microsoftonline.com/fabrikam.com/v2.0/adminconsent" in response.content.decode()


def test_the_audit_log_links_an_onboarding_to_its_row(alice: Any, acme: Any) -> None:
    onboarding = start(acme, alice, customer="Northwind")

    html = client_for(alice).get(reverse("audit:log", kwargs={"slug": acme.slug})).content.decode()

    assert f"{_url('list', acme)}#onboarding-{onboarding.pk}" in html
    assert "Partner app" in html


def test_a_partner_connections_page_says_where_its_credential_lives(alice: Any, acme: Any) -> None:
    from tenantatlas.providers.tests.partner_apps import make_partner_connection

    onboarding = start(acme, alice)
    connection = make_partner_connection(
        onboarding.partner_app, alice, "4e4e4e4e-5f5f-4a6a-8b7b-9c9c9c9c9c9c"
    )
    detail = reverse("providers:detail", kwargs={"slug": acme.slug, "pk": connection.pk})

    html = client_for(alice).get(detail).content.decode()

    assert 'id="via-partner-app"' in html
    assert _url("partner_app", acme) in html
    assert "Secret set on" in html  # the partner app's credential, shown as the connection's
