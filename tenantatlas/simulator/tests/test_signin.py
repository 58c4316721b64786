"""Sign-in with Microsoft: the authorize page, codes bound to client, reply URL, PKCE and nonce,
the authorization code grant and ID tokens that validate against the discovery document's keys
(also through MSAL's auth code flow)."""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
import urllib.parse

import jwt
import msal
import pytest
import requests

from tenantatlas.simulator.certs import make_test_certificate
from tenantatlas.simulator.scenarios import AppScenario, SecretSpec
from tenantatlas.simulator.tests.helpers import (
    COHO,
    PARTNER_CLIENT_ID,
    PARTNER_SECRET,
    WIDE_WORLD,
    new_tenant,
)

CALLBACK = "http://127.0.0.1:8000/accounts/microsoft/callback/"
ISAIAH = "isaiah.langer@wideworldimporters.onmicrosoft.com"
ALEX = "alex.wilber@cohowinery.onmicrosoft.com"


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def authorize_url(sim, segment: str = WIDE_WORLD, challenge: str = "", **params: str) -> str:
    query = {
        "client_id": PARTNER_CLIENT_ID,
        "response_type": "code",
        "redirect_uri": CALLBACK,
        "scope": "openid profile email",
        "state": "s-1",
        "nonce": "n-1",
        "response_mode": "query",
        **({"code_challenge": challenge, "code_challenge_method": "S256"} if challenge else {}),
        **params,
    }
    return f"{sim.base_url}/{segment}/oauth2/v2.0/authorize?{urllib.parse.urlencode(query)}"


def post(sim, url: str, **form: str) -> requests.Response:
    return requests.post(url, data=form, verify=sim.ca_bundle, timeout=10, allow_redirects=False)


def redirected(response: requests.Response) -> dict[str, str]:
    assert response.status_code == 302, response.text
    return dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(response.headers["Location"]).query))


def sign_in(sim, user: str = ISAIAH, segment: str = WIDE_WORLD, **params: str) -> tuple[str, str]:
    """(code, verifier) for ``user`` signing in through the page."""
    verifier, challenge = pkce()
    answer = redirected(
        post(
            sim, authorize_url(sim, segment, challenge, **params), login_hint=user, action="signin"
        )
    )
    assert answer["state"] == "s-1"
    return answer["code"], verifier


def redeem(sim, code: str, verifier: str, segment: str = WIDE_WORLD, **form: str):
    data = {
        "client_id": PARTNER_CLIENT_ID,
        "client_secret": PARTNER_SECRET,
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": CALLBACK,
        "code_verifier": verifier,
        **form,
    }
    return requests.post(
        f"{sim.base_url}/{segment}/oauth2/v2.0/token", data=data, verify=sim.ca_bundle, timeout=10
    )


def discovery(sim, segment: str) -> dict:
    url = f"{sim.base_url}/{segment}/v2.0/.well-known/openid-configuration"
    return requests.get(url, verify=sim.ca_bundle, timeout=10).json()


def validated_id_token(sim, token: str, tenant_id: str) -> dict:
    """The ID token validated as a relying party does: JWKS from discovery, issuer, audience."""
    config = discovery(sim, tenant_id)
    keys = requests.get(config["jwks_uri"], verify=sim.ca_bundle, timeout=10).json()["keys"]
    kid = jwt.get_unverified_header(token)["kid"]
    [key] = [k for k in keys if k["kid"] == kid]
    return jwt.decode(
        token,
        jwt.PyJWK(key).key,
        algorithms=["RS256"],
        audience=PARTNER_CLIENT_ID,
        issuer=config["issuer"],
    )


def test_discovery_advertises_consistent_endpoints_per_tenant_and_for_organizations(simulator):
    config = discovery(simulator, WIDE_WORLD)
    base = simulator.base_url
    assert config["issuer"] == f"{base}/{WIDE_WORLD}/v2.0"
    assert config["authorization_endpoint"] == f"{base}/{WIDE_WORLD}/oauth2/v2.0/authorize"
    assert config["token_endpoint"] == f"{base}/{WIDE_WORLD}/oauth2/v2.0/token"
    assert config["jwks_uri"] == f"{base}/{WIDE_WORLD}/discovery/v2.0/keys"
    shared = discovery(simulator, "organizations")
    assert shared["issuer"] == base + "/{tenantid}/v2.0"
    assert shared["authorization_endpoint"] == f"{base}/organizations/oauth2/v2.0/authorize"
    keys = requests.get(shared["jwks_uri"], verify=simulator.ca_bundle, timeout=10)
    assert keys.status_code == 200
    assert keys.json()["keys"][0]["kid"]


def test_the_page_lists_the_tenants_users_only_on_a_tenant_path(simulator):
    page = requests.get(authorize_url(simulator), verify=simulator.ca_bundle, timeout=10).text
    assert ISAIAH in page
    assert ALEX not in page
    assert 'id="signin-submit"' in page
    assert 'id="signin-cancel"' in page
    shared = requests.get(
        authorize_url(simulator, "organizations"), verify=simulator.ca_bundle, timeout=10
    ).text
    assert ISAIAH in shared
    assert ALEX in shared


def test_it_redeems_a_code_for_a_valid_id_token_with_the_asked_claims(simulator):
    code, verifier = sign_in(simulator)
    response = redeem(simulator, code, verifier)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert body["scope"] == "openid profile email"
    assert body["expires_in"] > 0
    assert body["access_token"]
    claims = validated_id_token(simulator, body["id_token"], WIDE_WORLD)
    [isaiah] = [u for u in simulator.users(WIDE_WORLD) if u.user_principal_name == ISAIAH]
    assert claims["tid"] == WIDE_WORLD
    assert claims["oid"] == isaiah.object_id
    assert claims["nonce"] == "n-1"
    assert claims["name"] == "Isaiah Langer"
    assert claims["preferred_username"] == ISAIAH
    assert claims["email"] == "isaiah.langer@wideworldimporters.com"
    assert claims["ver"] == "2.0"
    assert claims["sub"] != claims["oid"]
    assert claims["nbf"] <= claims["iat"] < claims["exp"]


def test_it_leaves_out_profile_and_email_claims_not_asked_for(simulator):
    code, verifier = sign_in(simulator, scope="openid")
    claims = jwt.decode(
        redeem(simulator, code, verifier).json()["id_token"], options={"verify_signature": False}
    )
    assert "name" not in claims
    assert "preferred_username" not in claims
    assert "email" not in claims


def test_organizations_signs_in_a_user_of_any_tenant_with_that_tenants_issuer(simulator):
    code, verifier = sign_in(simulator, ALEX, "organizations")
    body = redeem(simulator, code, verifier, "organizations").json()
    claims = validated_id_token(simulator, body["id_token"], COHO)
    assert claims["tid"] == COHO
    assert claims["iss"] == f"{simulator.base_url}/{COHO}/v2.0"


def test_a_code_is_single_use(simulator):
    code, verifier = sign_in(simulator)
    assert redeem(simulator, code, verifier).status_code == 200
    again = redeem(simulator, code, verifier)
    assert again.status_code == 400
    assert again.json()["error"] == "invalid_grant"
    assert again.json()["error_codes"] == [54005]


def test_an_expired_code_is_refused(simulator):
    code, verifier = sign_in(simulator)
    simulator.expire_authorization_codes()
    response = redeem(simulator, code, verifier)
    assert response.json()["error"] == "invalid_grant"
    assert response.json()["error_codes"] == [70008]


def test_a_wrong_pkce_verifier_is_refused_and_the_code_kept(simulator):
    code, verifier = sign_in(simulator)
    wrong = redeem(simulator, code, "x" * 50)
    assert wrong.status_code == 400
    assert wrong.json()["error_codes"] == [501481]
    assert redeem(simulator, code, verifier).status_code == 200


def test_another_redirect_uri_at_the_token_endpoint_is_refused(simulator):
    code, verifier = sign_in(simulator)
    response = redeem(
        simulator, code, verifier, redirect_uri="http://127.0.0.1:8000/onboarding/consent/callback/"
    )
    assert response.json()["error"] == "invalid_grant"
    assert response.json()["error_codes"] == [500112]


def test_the_code_needs_the_apps_credential(simulator):
    code, verifier = sign_in(simulator)
    response = redeem(simulator, code, verifier, client_secret="wrong")
    assert response.status_code == 401
    assert response.json()["error_codes"] == [7000215]


def test_a_code_redeemed_at_another_tenant_is_refused(simulator):
    code, verifier = sign_in(simulator)
    assert redeem(simulator, code, verifier, COHO).json()["error_codes"] == [700005]


def test_cancel_redirects_with_access_denied(simulator):
    answer = redirected(post(simulator, authorize_url(simulator), action="cancel"))
    assert answer["error"] == "access_denied"
    assert answer["error_description"].startswith("AADSTS65004: ")
    assert answer["state"] == "s-1"
    assert "code" not in answer


def test_a_tenant_path_refuses_a_user_of_another_tenant(simulator):
    answer = redirected(post(simulator, authorize_url(simulator), login_hint=ALEX, action="signin"))
    assert answer["error"] == "access_denied"
    assert answer["error_description"].startswith("AADSTS50020: ")


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"client_id": "11111111-2222-4333-8444-555555555555"}, "AADSTS700016"),
        ({"redirect_uri": "http://127.0.0.1:8000/somewhere-else/"}, "AADSTS50011"),
        ({"redirect_uri": ""}, "AADSTS900144"),
    ],
)
def test_client_and_reply_url_errors_are_pages(simulator, params, code):
    response = requests.get(
        authorize_url(simulator, **params),
        verify=simulator.ca_bundle,
        timeout=10,
        allow_redirects=False,
    )
    assert response.status_code == 400
    assert "Location" not in response.headers
    assert f'">{code}</p>' in response.text


@pytest.mark.parametrize(
    ("params", "error", "code"),
    [
        ({"response_type": "token"}, "unsupported_response_type", "70005"),
        ({"scope": ""}, "invalid_request", "900144"),
        ({"prompt": "none"}, "login_required", "50058"),
    ],
)
def test_request_errors_are_sent_to_the_reply_url(simulator, params, error, code):
    response = requests.get(
        authorize_url(simulator, **params),
        verify=simulator.ca_bundle,
        timeout=10,
        allow_redirects=False,
    )
    answer = redirected(response)
    assert answer["error"] == error
    assert answer["error_description"].startswith(f"AADSTS{code}: ")


def test_form_post_posts_the_code_to_the_reply_url(simulator):
    verifier, challenge = pkce()
    url = authorize_url(simulator, challenge=challenge, response_mode="form_post")
    page = post(simulator, url, login_hint=ISAIAH, action="signin")
    assert page.status_code == 200
    assert f'action="{CALLBACK}"' in page.text
    code = re.search(r'name="code" value="([^"]+)"', page.text)
    assert code is not None
    assert 'name="state" value="s-1"' in page.text
    assert redeem(simulator, code.group(1), verifier).status_code == 200


def test_msal_completes_the_auth_code_flow_against_the_simulator(simulator):
    app = msal.ConfidentialClientApplication(
        PARTNER_CLIENT_ID,
        client_credential=PARTNER_SECRET,
        authority=f"{simulator.base_url}/organizations",
        instance_discovery=False,
        verify=str(simulator.ca_bundle),
    )
    flow = app.initiate_auth_code_flow(["User.Read"], redirect_uri=CALLBACK)
    assert flow["auth_uri"].startswith(f"{simulator.base_url}/organizations/oauth2/v2.0/authorize?")
    form = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(flow["auth_uri"]).query))
    assert form["code_challenge_method"] == "S256"
    response = requests.post(
        flow["auth_uri"],
        data={"login_hint": ALEX, "action": "signin"},
        verify=simulator.ca_bundle,
        timeout=10,
        allow_redirects=False,
    )
    result = app.acquire_token_by_auth_code_flow(flow, redirected(response))
    assert "access_token" in result, result
    assert result["id_token_claims"]["tid"] == COHO
    assert result["id_token_claims"]["preferred_username"] == ALEX
    [account] = app.get_accounts()
    assert account["username"] == ALEX


def test_a_certificate_authenticates_the_code_redemption_through_msal(simulator):
    key_pem, cert_pem = make_test_certificate("sign-in")
    app = AppScenario(
        client_id="4a6c8e0b-2d3f-4b5a-9c7e-1f3a5b7d9e0c",
        multi_tenant=True,
        certificates=[cert_pem],
        redirect_uris=["https://app.example/signin"],
    )
    simulator.add_tenant(new_tenant(app=app))
    client = msal.ConfidentialClientApplication(
        app.client_id,
        client_credential={"private_key": key_pem, "public_certificate": cert_pem},
        authority=f"{simulator.base_url}/{COHO}",
        instance_discovery=False,
        verify=str(simulator.ca_bundle),
    )
    flow = client.initiate_auth_code_flow(["email"], redirect_uri="https://app.example/signin")
    response = requests.post(
        flow["auth_uri"],
        data={"login_hint": ALEX, "action": "signin"},
        verify=simulator.ca_bundle,
        timeout=10,
        allow_redirects=False,
    )
    assert response.headers["Location"].startswith("https://app.example/signin?code=")
    result = client.acquire_token_by_auth_code_flow(flow, redirected(response))
    assert result["id_token_claims"]["aud"] == app.client_id
    assert result["id_token_claims"]["tid"] == COHO


def test_a_reply_url_without_a_path_is_answered_with_a_trailing_slash(simulator):
    app = AppScenario(
        client_id="5b7d9f1c-3e4a-4c6b-8d0f-2a4c6e8b0d1f",
        multi_tenant=True,
        secrets=[SecretSpec("s")],
        redirect_uris=["https://contoso.example"],
    )
    simulator.add_tenant(new_tenant(app=app))
    url = authorize_url(simulator, client_id=app.client_id, redirect_uri="https://contoso.example")
    response = post(simulator, url, login_hint=ISAIAH, action="signin")
    assert response.headers["Location"].startswith("https://contoso.example/?code=")


def test_a_single_tenant_app_cannot_use_organizations(simulator):
    home = simulator.add_tenant(
        new_tenant(
            app=AppScenario(
                client_id="6c8e0a2d-4f5b-4d7c-9e1a-3b5d7f9a1c2e", redirect_uris=[CALLBACK]
            )
        )
    )
    client_id = home.apps[0].client_id
    shared = requests.get(
        authorize_url(simulator, "organizations", client_id=client_id),
        verify=simulator.ca_bundle,
        timeout=10,
    )
    assert shared.status_code == 400
    assert "AADSTS50194" in shared.text
    at_home = requests.get(
        authorize_url(simulator, home.tenant_id, client_id=client_id),
        verify=simulator.ca_bundle,
        timeout=10,
    )
    assert at_home.status_code == 200
    assert home.directory_users()[0].user_principal_name in at_home.text
