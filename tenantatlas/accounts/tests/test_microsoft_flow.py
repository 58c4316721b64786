"""Sign in with Microsoft end to end against the real HTTPS simulator: MSAL's auth code flow,
the simulator's sign-in page (answered the way a browser would), the code redeemed, the id
token validated against the discovery document's keys, the person matched and signed in.

The demo's partner app (docs/simulator.md, "Onboarding and sign-in") is the app registration;
its reply URLs are on 127.0.0.1, so the test client asks as that host.
"""

from __future__ import annotations

import urllib.parse
from typing import Any

import pytest
import requests
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from tenantatlas.accounts.models import MicrosoftIdentity
from tenantatlas.audit.models import AuditEvent
from tenantatlas.graph.signin import DiscoveryKeys

PARTNER_CLIENT_ID = "6c1e3a5b-7d9f-4b2d-8a4c-0e2f4a6b8d9c"
PARTNER_SECRET = "trey-partner-secret"
TREY = "7e2b4d6f-8a1c-4e3f-9b5d-2c4e6a8f0b1d"
WIDE_WORLD = "8f3c5e7a-9b2d-4f4a-a6c8-3d5f7b9e1c2a"
FOURTH_COFFEE = "0b5e7a9c-1d4f-4b6c-8e0a-5f7b9d1a3e4c"
NESTOR = "nestor.wilke@treyresearch.onmicrosoft.com"
PATTI = "patti.fernandez@treyresearch.onmicrosoft.com"
LEE = "lee.gu@fourthcoffee.onmicrosoft.com"
HOST = "127.0.0.1:8000"
START = reverse("accounts:microsoft_sign_in")
HOME = reverse("overview:home")


@pytest.fixture
def microsoft(sim: Any, settings: Any) -> Any:
    DiscoveryKeys.forget()
    settings.MICROSOFT_SIGN_IN = True
    settings.MICROSOFT_SIGN_IN_CLIENT_ID = PARTNER_CLIENT_ID
    settings.MICROSOFT_SIGN_IN_CLIENT_SECRET = PARTNER_SECRET
    settings.MICROSOFT_SIGN_IN_TENANTS = [TREY, "wideworldimporters.onmicrosoft.com"]
    settings.MICROSOFT_SIGN_IN_CLOUD = "simulator"
    return sim


def object_id(sim: Any, tenant_id: str, upn: str) -> str:
    return next(u.object_id for u in sim.users(tenant_id) if u.user_principal_name == upn)


def link(sim: Any, user: Any, upn: str = NESTOR, tenant_id: str = TREY) -> MicrosoftIdentity:
    return MicrosoftIdentity.objects.create(
        user=user,
        tenant_id=tenant_id,
        object_id=object_id(sim, tenant_id, upn),
        linked_at=timezone.now(),
    )


def at_microsoft(sim: Any, authorize_url: str, *, action: str = "signin", upn: str = NESTOR) -> str:
    """Answer the simulator's sign-in page; the callback path + query it sends the browser to."""
    assert authorize_url.startswith(f"{sim.base_url}/organizations/oauth2/v2.0/authorize?")
    page = requests.get(authorize_url, verify=sim.ca_bundle, timeout=10)
    assert page.status_code == 200, page.text[:300]
    assert "Pick an account" in page.text
    answer = requests.post(
        authorize_url,
        data={"action": action, "login_hint": upn},
        verify=sim.ca_bundle,
        timeout=10,
        allow_redirects=False,
    )
    assert answer.status_code == 302, answer.text[:300]
    back = urllib.parse.urlsplit(answer.headers["Location"])
    assert (back.netloc, back.path) == (HOST, "/accounts/microsoft/callback/")
    return f"{back.path}?{back.query}"


def sign_in_as(sim: Any, client: Client, upn: str, **kwargs: Any) -> Any:
    start = client.get(START)
    assert start.status_code == 302, start.content[:500]
    return client.get(at_microsoft(sim, start["Location"], upn=upn, **kwargs))


def signed_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


def test_it_signs_in_a_linked_user_through_the_simulator(
    microsoft: Any, alice: Any, acme: Any
) -> None:
    link(microsoft, alice)
    client = Client(HTTP_HOST=HOST)

    response = sign_in_as(microsoft, client, NESTOR)

    assert response.status_code == 302, response.content[:500]
    assert response["Location"] == HOME
    assert client.session["_auth_user_id"] == str(alice.pk)
    assert client.get(HOME)["Location"] == reverse("overview:workspace", kwargs={"slug": "acme"})
    identity = MicrosoftIdentity.objects.get()
    assert identity.username == NESTOR
    assert identity.last_sign_in_at is not None
    redeemed = [r for r in microsoft.requests if r.path.endswith("/oauth2/v2.0/token")]
    assert [r.status for r in redeemed] == [200]


def test_it_sends_the_authorize_request_msal_builds(microsoft: Any, db: Any) -> None:
    location = Client(HTTP_HOST=HOST).get(START)["Location"]

    query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(location).query))

    assert query["client_id"] == PARTNER_CLIENT_ID
    assert query["response_type"] == "code"
    assert query["redirect_uri"] == f"http://{HOST}/accounts/microsoft/callback/"
    assert query["code_challenge_method"] == "S256"
    assert query["code_challenge"]
    assert query["nonce"]
    assert query["state"]
    assert set(query["scope"].split()) == {"openid", "profile", "email"}
    assert query["response_mode"] == "query"


def test_it_tells_an_unknown_user_through_the_simulator(
    microsoft: Any, alice: Any, acme: Any
) -> None:
    link(microsoft, alice)
    client = Client(HTTP_HOST=HOST)

    response = sign_in_as(microsoft, client, PATTI)

    assert response.status_code == 403
    assert "No TenantAtlas account is linked" in response.content.decode()
    assert PATTI in response.content.decode()
    assert not signed_in(client)


def test_it_refuses_a_user_of_a_tenant_not_allowed(microsoft: Any, alice: Any) -> None:
    client = Client(HTTP_HOST=HOST)

    response = sign_in_as(microsoft, client, LEE)

    assert response.status_code == 403
    assert "Your organisation may not sign in here" in response.content.decode()
    assert FOURTH_COFFEE in response.content.decode()
    assert not signed_in(client)
    assert not [r for r in microsoft.requests if r.path.endswith("/discovery/v2.0/keys")]


def test_it_explains_a_sign_in_cancelled_at_microsoft(microsoft: Any, db: Any) -> None:
    client = Client(HTTP_HOST=HOST)

    response = sign_in_as(microsoft, client, NESTOR, action="cancel")

    assert response.status_code == 403
    assert "Sign-in cancelled at Microsoft" in response.content.decode()
    assert not signed_in(client)


def test_it_explains_a_code_that_expired_before_it_came_back(
    microsoft: Any, alice: Any, acme: Any
) -> None:
    link(microsoft, alice)
    client = Client(HTTP_HOST=HOST)
    start = client.get(START)
    callback = at_microsoft(microsoft, start["Location"])
    microsoft.expire_authorization_codes()

    response = client.get(callback)

    assert response.status_code == 400
    assert "expired before it was redeemed (AADSTS70008)" in response.content.decode()
    assert not signed_in(client)


def test_it_refuses_a_replayed_callback(microsoft: Any, alice: Any, acme: Any) -> None:
    link(microsoft, alice)
    client = Client(HTTP_HOST=HOST)
    start = client.get(START)
    callback = at_microsoft(microsoft, start["Location"])
    assert client.get(callback).status_code == 302
    client.post(reverse("accounts:logout"))

    replayed = client.get(callback)

    assert replayed.status_code == 400
    assert "No sign-in in progress" in replayed.content.decode()
    assert not signed_in(client)


def test_it_explains_a_refused_client_secret(microsoft: Any, settings: Any, db: Any) -> None:
    settings.MICROSOFT_SIGN_IN_CLIENT_SECRET = "not-the-partner-secret"
    client = Client(HTTP_HOST=HOST)

    response = sign_in_as(microsoft, client, NESTOR)

    assert response.status_code == 400
    assert "client secret was refused (AADSTS7000215)" in response.content.decode()
    assert "not-the-partner-secret" not in response.content.decode()


def test_it_links_the_microsoft_account_through_the_simulator(
    microsoft: Any, alice: Any, acme: Any
) -> None:
    client = Client(HTTP_HOST=HOST)
    client.force_login(alice)
    start = client.post(reverse("accounts:microsoft_link"))
    assert start.status_code == 302

    response = client.get(at_microsoft(microsoft, start["Location"], upn=PATTI))

    assert response["Location"] == reverse("accounts:account")
    identity = MicrosoftIdentity.objects.get()
    assert (identity.user, identity.tenant_id) == (alice, TREY)
    assert identity.object_id == object_id(microsoft, TREY, PATTI)
    assert AuditEvent.objects.filter(action="account.microsoft_linked", workspace=acme).exists()


def test_it_leaks_the_client_secret_code_and_verifier_nowhere(
    microsoft: Any, alice: Any, acme: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """A sign-in, a link and a refused sign-in with a known secret: the secret, each code and
    each PKCE verifier appear in no table, page, audit entry or log line afterwards."""
    import logging

    from django.db import connection

    from tenantatlas.providers.tests.test_connection_secret_canary import (
        _found,
        _scan_database,
        _scan_logs,
    )

    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="django.db.backends")
    link(microsoft, alice)
    needles = {"client secret": PARTNER_SECRET}
    pages: list[str] = []

    def through_microsoft(client: Client, start: Any, upn: str, label: str) -> None:
        state = urllib.parse.parse_qs(urllib.parse.urlsplit(start["Location"]).query)["state"][0]
        flow = client.session["microsoft_sign_in_flows"][state]["flow"]
        needles[f"{label} verifier"] = flow["code_verifier"]
        callback = at_microsoft(microsoft, start["Location"], upn=upn)
        needles[f"{label} code"] = urllib.parse.parse_qs(callback.split("?", 1)[1])["code"][0]
        response = client.get(callback, follow=True)
        pages.append(response.content.decode())

    connection.force_debug_cursor = True  # log every SQL statement with its parameters
    try:
        signing_in = Client(HTTP_HOST=HOST)
        through_microsoft(signing_in, signing_in.get(START), NESTOR, "sign-in")
        through_microsoft(
            signing_in, signing_in.post(reverse("accounts:microsoft_link")), PATTI, "link"
        )
        stranger = Client(HTTP_HOST=HOST)
        through_microsoft(stranger, stranger.get(START), LEE, "refused")
        pages.append(signing_in.get(reverse("accounts:account")).content.decode())
    finally:
        connection.force_debug_cursor = False

    leaks = {
        "database": _scan_database(needles),
        "pages": [found for html in pages if (found := _found(html, needles))],
        "audit": _found(str(list(AuditEvent.objects.values())), needles),
        "logs": _scan_logs(caplog.records, caplog.handler, needles),
    }

    assert leaks == {"database": [], "pages": [], "audit": [], "logs": []}
    assert len(needles) == 7
    assert "Your account" in pages[-1]
    assert MicrosoftIdentity.objects.filter(user=alice).count() == 2
    assert any("INSERT INTO" in r.getMessage() for r in caplog.records)


def test_it_signs_in_with_a_certificate_credential(
    microsoft: Any, settings: Any, alice: Any, acme: Any
) -> None:
    """The app authenticates the redemption with a certificate (a PS256 assertion)."""
    from tenantatlas.simulator.certs import make_test_certificate
    from tenantatlas.simulator.scenarios import AppScenario
    from tenantatlas.simulator.tests.helpers import new_tenant

    key_pem, cert_pem = make_test_certificate("tenantatlas sign-in")
    app = AppScenario(
        client_id="4f6b8d0a-2c4e-4a6b-9d1f-3e5a7c9b1d2e",
        multi_tenant=True,
        certificates=[cert_pem],
        redirect_uris=[f"http://{HOST}/accounts/microsoft/callback/"],
    )
    microsoft.add_tenant(new_tenant(app=app))
    settings.MICROSOFT_SIGN_IN_CLIENT_ID = app.client_id
    settings.MICROSOFT_SIGN_IN_CLIENT_SECRET = ""
    settings.MICROSOFT_SIGN_IN_CERTIFICATE = cert_pem
    settings.MICROSOFT_SIGN_IN_PRIVATE_KEY = key_pem
    link(microsoft, alice)
    client = Client(HTTP_HOST=HOST)

    response = sign_in_as(microsoft, client, NESTOR)

    assert response["Location"] == HOME
    assert client.session["_auth_user_id"] == str(alice.pk)
