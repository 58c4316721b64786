"""Multi-tenant apps and admin consent: a customer tenant holds the partner app only once its
admin consented (the consent page, the scenario or the control endpoint), and tokens for it then
carry exactly the granted roles."""

from __future__ import annotations

import concurrent.futures
import re
import urllib.parse

import jwt
import pytest
import requests

from tenantatlas.simulator.certs import make_test_certificate
from tenantatlas.simulator.scenarios import (
    DEMO_SCENARIOS,
    AppScenario,
    ConsentScenario,
    SecretSpec,
    UserScenario,
)
from tenantatlas.simulator.server import SimulatorServer
from tenantatlas.simulator.tests.helpers import (
    COHO,
    FOURTH_COFFEE,
    PARTNER_CLIENT_ID,
    PARTNER_ROLES,
    PARTNER_SECRET,
    TREY,
    WIDE_WORLD,
    msal_app,
    new_tenant,
    token_response,
)

CONSENT_CALLBACK = "http://127.0.0.1:8000/onboarding/consent/callback/"
GRAPH_DEFAULT = "https://graph.microsoft.com/.default"
FOURTH_ADMIN = "lee.gu@fourthcoffee.onmicrosoft.com"
FOURTH_MEMBER = "pradeep.gupta@fourthcoffee.onmicrosoft.com"
COHO_ADMIN = "alex.wilber@cohowinery.onmicrosoft.com"


def roles_of(response: requests.Response) -> list[str] | None:
    assert response.status_code == 200, response.text
    claims = jwt.decode(response.json()["access_token"], options={"verify_signature": False})
    return claims.get("roles")


def partner_token(sim, tenant: str, secret: str = PARTNER_SECRET) -> requests.Response:
    return token_response(sim, tenant, PARTNER_CLIENT_ID, client_secret=secret)


def consent_url(sim, segment: str = "organizations", **params: str) -> str:
    query = {
        "client_id": PARTNER_CLIENT_ID,
        "scope": GRAPH_DEFAULT,
        "redirect_uri": CONSENT_CALLBACK,
        "state": "st-123",
        **params,
    }
    return f"{sim.base_url}/{segment}/v2.0/adminconsent?{urllib.parse.urlencode(query)}"


def get(sim, url: str) -> requests.Response:
    return requests.get(url, verify=sim.ca_bundle, timeout=10, allow_redirects=False)


def submit(sim, url: str, **form: str) -> requests.Response:
    """What the page's form posts: its hidden fields (the query) plus the choice."""
    return requests.post(url, data=form, verify=sim.ca_bundle, timeout=10, allow_redirects=False)


def answer(response: requests.Response) -> tuple[str, dict[str, str]]:
    assert response.status_code == 302, response.text
    split = urllib.parse.urlsplit(response.headers["Location"])
    base = urllib.parse.urlunsplit((split.scheme, split.netloc, split.path, "", ""))
    return base, dict(urllib.parse.parse_qsl(split.query))


# -- client credentials across tenants ----------------------------------------------------------


def test_it_gives_a_consented_customer_tenant_the_granted_roles(simulator):
    assert sorted(roles_of(partner_token(simulator, WIDE_WORLD))) == sorted(PARTNER_ROLES)
    assert roles_of(partner_token(simulator, COHO)) == [
        "Organization.Read.All",
        "DeviceManagementManagedDevices.Read.All",
        "DeviceManagementConfiguration.Read.All",
    ]
    claims = jwt.decode(
        partner_token(simulator, COHO).json()["access_token"], options={"verify_signature": False}
    )
    assert claims["tid"] == COHO
    assert claims["appid"] == PARTNER_CLIENT_ID


def test_it_refuses_a_tenant_that_never_consented_with_700016(simulator):
    response = partner_token(simulator, FOURTH_COFFEE)
    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "unauthorized_client"
    assert body["error_codes"] == [700016]
    assert "Fourth Coffee" in body["error_description"]


def test_it_checks_the_home_tenants_credential_in_a_customer_tenant(simulator):
    response = partner_token(simulator, WIDE_WORLD, secret="not-the-secret")
    assert response.status_code == 401
    assert response.json()["error_codes"] == [7000215]


def test_it_issues_no_roles_claim_when_the_consent_granted_none(simulator):
    simulator.grant_consent(FOURTH_COFFEE, PARTNER_CLIENT_ID, [])
    assert roles_of(partner_token(simulator, FOURTH_COFFEE)) is None
    assert simulator.granted_roles(FOURTH_COFFEE, PARTNER_CLIENT_ID) == []


def test_it_accepts_the_home_certificate_in_a_customer_tenant_through_msal(simulator):
    key_pem, cert_pem = make_test_certificate("partner")
    app = AppScenario(
        client_id="2d4f6a8c-0e1b-4c3d-9f5a-7b9d1e3f5a7c",
        multi_tenant=True,
        certificates=[cert_pem],
        required_roles=["Organization.Read.All"],
    )
    simulator.add_tenant(new_tenant(app=app))
    customer = simulator.add_tenant(
        new_tenant(
            apps=[], consents=[ConsentScenario(app.client_id, roles=["Organization.Read.All"])]
        )
    )
    credential = {"private_key": key_pem, "public_certificate": cert_pem}
    result = msal_app(
        simulator, customer.tenant_id, credential, app.client_id
    ).acquire_token_for_client([GRAPH_DEFAULT])
    assert "access_token" in result, result
    claims = jwt.decode(result["access_token"], options={"verify_signature": False})
    assert claims["roles"] == ["Organization.Read.All"]
    assert claims["azpacr"] == "2"


def test_it_does_not_let_a_single_tenant_app_into_another_tenant(simulator):
    home = simulator.add_tenant(new_tenant())
    client_id = home.apps[0].client_id
    other = simulator.add_tenant(new_tenant(apps=[], consents=[ConsentScenario(client_id)]))
    response = token_response(
        simulator, other.tenant_id, client_id, client_secret="test-secret-value"
    )
    assert response.status_code == 400
    assert response.json()["error_codes"] == [700016]


def test_it_disables_a_consented_service_principal(simulator):
    customer = simulator.add_tenant(
        new_tenant(apps=[], consents=[ConsentScenario(PARTNER_CLIENT_ID, disabled=True)])
    )
    response = partner_token(simulator, customer.tenant_id)
    assert response.status_code == 400
    assert response.json()["error_codes"] == [7000112]


# -- the admin consent endpoint -----------------------------------------------------------------


def test_it_shows_microsofts_error_page_for_an_unknown_client_id(simulator):
    response = get(
        simulator, consent_url(simulator, client_id="11111111-2222-4333-8444-555555555555")
    )
    assert response.status_code == 400
    assert "Location" not in response.headers
    assert response.headers["Content-Type"].startswith("text/html")
    assert '<p id="error-code" data-error="unauthorized_client">AADSTS700016</p>' in response.text


@pytest.mark.parametrize(
    "redirect_uri",
    [
        "http://127.0.0.1:8000/onboarding/consent/callback",  # no trailing slash
        "http://127.0.0.1:8000/Onboarding/consent/callback/",  # case
        "https://evil.example/onboarding/consent/callback/",
        "http://10.0.0.5:8000/onboarding/consent/callback/",
    ],
)
def test_it_shows_an_error_page_for_a_reply_url_not_registered(simulator, redirect_uri):
    response = get(simulator, consent_url(simulator, redirect_uri=redirect_uri))
    assert response.status_code == 400
    assert "Location" not in response.headers
    assert "AADSTS50011" in response.text
    assert f"The redirect URI &#x27;{redirect_uri}&#x27; specified in the request" in response.text


def test_it_shows_the_consent_page_with_the_users_and_the_permissions(simulator):
    response = get(simulator, consent_url(simulator))
    assert response.status_code == 200
    page = response.text
    assert 'id="consent-accept"' in page
    assert 'id="consent-decline"' in page
    assert FOURTH_ADMIN in page
    assert FOURTH_MEMBER in page
    for role in PARTNER_ROLES:
        assert f"<li>{role}</li>" in page
    assert '<input type="hidden" name="state" value="st-123">' in page


def test_an_admins_consent_grants_the_required_roles_and_redirects_with_the_tenant(simulator):
    url = consent_url(simulator)
    base, params = answer(submit(simulator, url, login_hint=FOURTH_ADMIN, action="accept"))
    assert base == CONSENT_CALLBACK
    assert params == {
        "admin_consent": "True",
        "tenant": FOURTH_COFFEE,
        "scope": GRAPH_DEFAULT,
        "state": "st-123",
    }
    assert sorted(roles_of(partner_token(simulator, FOURTH_COFFEE))) == sorted(PARTNER_ROLES)
    assert simulator.granted_roles(FOURTH_COFFEE, PARTNER_CLIENT_ID) == PARTNER_ROLES


def test_an_admins_consent_completes_a_partial_consent(simulator):
    answer(submit(simulator, consent_url(simulator, COHO), login_hint=COHO_ADMIN, action="accept"))
    assert sorted(roles_of(partner_token(simulator, COHO))) == sorted(PARTNER_ROLES)


def test_a_declined_consent_redirects_with_access_denied_and_grants_nothing(simulator):
    base, params = answer(submit(simulator, consent_url(simulator), action="cancel"))
    assert base == CONSENT_CALLBACK
    assert params["error"] == "access_denied"
    assert params["error_description"].startswith(
        "AADSTS65004: User declined to consent to access the app.\r\nTrace ID: "
    )
    assert params["admin_consent"] == "True"
    assert params["state"] == "st-123"
    assert "tenant" not in params
    assert simulator.granted_roles(FOURTH_COFFEE, PARTNER_CLIENT_ID) is None


def test_a_non_admin_needs_admin_approval_and_can_only_go_back(simulator):
    response = submit(simulator, consent_url(simulator), login_hint=FOURTH_MEMBER, action="accept")
    assert response.status_code == 200
    assert "Location" not in response.headers
    assert "Need admin approval" in response.text
    assert "AADSTS90094" in response.text
    back = re.search(r'id="consent-return" href="([^"]+)"', response.text)
    assert back is not None
    split = urllib.parse.urlsplit(back.group(1).replace("&amp;", "&"))
    params = dict(urllib.parse.parse_qsl(split.query))
    assert params["error"] == "access_denied"
    assert params["error_description"].startswith("AADSTS90094: ")
    assert params["state"] == "st-123"
    assert simulator.granted_roles(FOURTH_COFFEE, PARTNER_CLIENT_ID) is None
    assert partner_token(simulator, FOURTH_COFFEE).json()["error_codes"] == [700016]


def test_a_tenant_path_refuses_an_admin_of_another_tenant(simulator):
    url = consent_url(simulator, FOURTH_COFFEE)
    _, params = answer(submit(simulator, url, login_hint=COHO_ADMIN, action="accept"))
    assert params["error"] == "access_denied"
    assert params["error_description"].startswith(
        f"AADSTS50020: User account '{COHO_ADMIN}' from identity provider "
        f"'https://sts.windows.net/{COHO}/' does not exist in tenant 'Fourth Coffee'"
    )
    assert simulator.granted_roles(FOURTH_COFFEE, PARTNER_CLIENT_ID) is None
    assert len(simulator.granted_roles(COHO, PARTNER_CLIENT_ID)) == 3  # unchanged


def test_a_tenant_path_takes_its_own_admin_by_domain_too(simulator):
    url = consent_url(simulator, "fourthcoffee.onmicrosoft.com")
    _, params = answer(submit(simulator, url, login_hint=FOURTH_ADMIN, action="accept"))
    assert params["tenant"] == FOURTH_COFFEE


@pytest.mark.parametrize(
    "redirect_uri",
    [
        "http://127.0.0.1:53123/onboarding/consent/callback/",
        "http://localhost:8123/onboarding/consent/callback/",
        "http://localhost/onboarding/consent/callback/",
    ],
)
def test_a_loopback_reply_url_matches_on_any_port(simulator, redirect_uri):
    url = consent_url(simulator, redirect_uri=redirect_uri)
    base, params = answer(submit(simulator, url, login_hint=FOURTH_ADMIN, action="accept"))
    assert base == redirect_uri
    assert params["admin_consent"] == "True"


def test_an_unknown_account_shows_the_page_again(simulator):
    response = submit(simulator, consent_url(simulator), login_hint="nobody@nowhere.test")
    assert response.status_code == 200
    assert 'id="user-error"' in response.text
    assert simulator.granted_roles(FOURTH_COFFEE, PARTNER_CLIENT_ID) is None


def test_it_refuses_an_unknown_tenant_on_its_page(simulator):
    response = get(simulator, consent_url(simulator, "00000000-0000-4000-8000-00000000abcd"))
    assert response.status_code == 400
    assert "AADSTS90002" in response.text


def test_declared_users_and_generated_ones_are_stable(simulator):
    [admin, member] = simulator.users(FOURTH_COFFEE)
    assert admin.is_admin
    assert not member.is_admin
    assert admin.object_id == simulator.users(FOURTH_COFFEE)[0].object_id
    tenant = simulator.add_tenant(new_tenant(tenant_id="3c5e7a9b-1d2f-4a4b-8c6d-8e0f2a4b6c8d"))
    generated = simulator.users(tenant.tenant_id)
    assert [u.user_principal_name for u in generated] == [
        "admin@t3c5e7a9b.onmicrosoft.com",
        "user@t3c5e7a9b.onmicrosoft.com",
    ]
    assert [u.is_admin for u in generated] == [True, False]
    again = simulator.add_tenant(new_tenant(tenant_id=tenant.tenant_id))
    assert [u.object_id for u in simulator.users(again.tenant_id)] == [
        u.object_id for u in generated
    ]
    declared = UserScenario("a@b.test", "A", object_id="5e3a1c7b-9d2f-4b6a-8c4e-0f2a4b6c8d0e")
    custom = simulator.add_tenant(new_tenant(users=[declared]))
    assert simulator.users(custom.tenant_id) == [declared]


# -- control: in-process helpers and the control endpoint ---------------------------------------


def control(sim, method: str, path: str, **kwargs) -> requests.Response:
    return requests.request(
        method, f"{sim.base_url}/_simulator/{path}", verify=sim.ca_bundle, timeout=10, **kwargs
    )


def test_the_control_endpoint_sets_reads_and_revokes_a_consent(simulator):
    path = f"tenants/{FOURTH_COFFEE}/consents/{PARTNER_CLIENT_ID}"
    assert control(simulator, "GET", path).status_code == 404
    put = control(simulator, "PUT", path, json={"roles": ["Organization.Read.All"]})
    assert put.status_code == 200
    assert put.json() == {
        "tenant_id": FOURTH_COFFEE,
        "client_id": PARTNER_CLIENT_ID,
        "roles": ["Organization.Read.All"],
    }
    assert roles_of(partner_token(simulator, FOURTH_COFFEE)) == ["Organization.Read.All"]
    listed = control(simulator, "GET", "consents").json()["consents"]
    assert {
        "tenant_id": FOURTH_COFFEE,
        "client_id": PARTNER_CLIENT_ID,
        "roles": ["Organization.Read.All"],
        "source": "runtime",
    } in listed
    assert (
        control(
            simulator, "DELETE", f"tenants/{WIDE_WORLD}/consents/{PARTNER_CLIENT_ID}"
        ).status_code
        == 204
    )
    assert partner_token(simulator, WIDE_WORLD).json()["error_codes"] == [700016]
    assert control(simulator, "POST", "consents/reset").status_code == 204
    assert simulator.granted_roles(FOURTH_COFFEE, PARTNER_CLIENT_ID) is None
    assert sorted(simulator.granted_roles(WIDE_WORLD, PARTNER_CLIENT_ID)) == sorted(PARTNER_ROLES)


def test_the_control_endpoint_refuses_a_bad_body_and_an_unknown_tenant(simulator):
    path = f"tenants/{FOURTH_COFFEE}/consents/{PARTNER_CLIENT_ID}"
    assert control(simulator, "PUT", path, data=b"[1]").status_code == 400
    assert (
        control(simulator, "PUT", path, json={"roles": "Organization.Read.All"}).status_code == 400
    )
    assert control(simulator, "POST", path).status_code == 405
    unknown = control(simulator, "GET", "tenants/00000000-0000-4000-8000-000000000009/consents/x")
    assert unknown.status_code == 404
    assert unknown.json()["error"] == "unknown_tenant"
    assert control(simulator, "GET", "consents/reset").status_code == 405


def test_the_control_endpoint_lists_a_tenants_users(simulator):
    body = control(simulator, "GET", f"tenants/{TREY}/users").json()
    assert [u["user_principal_name"] for u in body["users"]] == [
        "nestor.wilke@treyresearch.onmicrosoft.com",
        "patti.fernandez@treyresearch.onmicrosoft.com",
    ]
    assert body["users"][0]["is_admin"] is True
    assert body["users"][0]["object_id"]


def test_the_consents_list_holds_the_declared_ones(simulator):
    consents = {(c.tenant_id, c.client_id): c for c in simulator.consents()}
    assert consents[(COHO, PARTNER_CLIENT_ID)].source == "scenario"
    assert len(consents[(COHO, PARTNER_CLIENT_ID)].roles) == 3
    assert (FOURTH_COFFEE, PARTNER_CLIENT_ID) not in consents
    assert consents[(TREY, PARTNER_CLIENT_ID)].roles == tuple(PARTNER_ROLES)


def test_reset_forgets_runtime_consents(simulator):
    simulator.grant_consent(FOURTH_COFFEE, PARTNER_CLIENT_ID, ["Organization.Read.All"])
    simulator.revoke_consent(WIDE_WORLD, PARTNER_CLIENT_ID)
    simulator.reset()
    assert simulator.granted_roles(FOURTH_COFFEE, PARTNER_CLIENT_ID) is None
    assert sorted(simulator.granted_roles(WIDE_WORLD, PARTNER_CLIENT_ID)) == sorted(PARTNER_ROLES)


def test_a_secret_added_at_home_works_in_every_consented_tenant(simulator):
    home = simulator.get_tenant(TREY)
    app = home.apps[0]
    simulator.add_tenant(
        new_tenant(
            tenant_id=TREY,
            display_name=home.display_name,
            default_domain=home.default_domain,
            app=AppScenario(**{**app.__dict__, "secrets": [SecretSpec("rotated-secret")]}),
        )
    )
    assert partner_token(simulator, WIDE_WORLD, secret="rotated-secret").status_code == 200
    assert partner_token(simulator, WIDE_WORLD).status_code == 401


def test_concurrent_consents_to_one_tenant_keep_every_grant(simulator):
    roles = [f"Role{i}.Read.All" for i in range(40)]
    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        list(
            pool.map(
                lambda role: simulator.directory.grant(
                    FOURTH_COFFEE, PARTNER_CLIENT_ID, [role], replace=False
                ),
                roles,
            )
        )
    assert sorted(simulator.granted_roles(FOURTH_COFFEE, PARTNER_CLIENT_ID)) == sorted(roles)


def test_runtime_consents_outlive_a_restart_until_reset(tmp_path):
    first = SimulatorServer(tmp_path, DEMO_SCENARIOS)
    first.grant_consent(FOURTH_COFFEE, PARTNER_CLIENT_ID, ["Organization.Read.All"])
    first.revoke_consent(WIDE_WORLD, PARTNER_CLIENT_ID)
    second = SimulatorServer(tmp_path, DEMO_SCENARIOS)
    assert second.granted_roles(FOURTH_COFFEE, PARTNER_CLIENT_ID) == ["Organization.Read.All"]
    assert second.granted_roles(WIDE_WORLD, PARTNER_CLIENT_ID) is None
    second.reset()
    third = SimulatorServer(tmp_path, DEMO_SCENARIOS)
    assert third.granted_roles(FOURTH_COFFEE, PARTNER_CLIENT_ID) is None
    assert third.granted_roles(WIDE_WORLD, PARTNER_CLIENT_ID) == PARTNER_ROLES
