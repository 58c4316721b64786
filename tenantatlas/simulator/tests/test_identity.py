"""Token endpoint and discovery, driven through real MSAL and plain HTTP."""

from __future__ import annotations

import base64
import datetime as dt
import functools
import json
import time
import uuid

import jwt
import msal
import pytest
import requests
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding

from tenantatlas.simulator.certs import (
    b64url,
    load_certificate,
    make_test_certificate,
    sha1_thumbprint_hex,
    x5t,
    x5t_s256,
)
from tenantatlas.simulator.scenarios import AppScenario, SecretSpec
from tenantatlas.simulator.tests.helpers import (
    ADATUM,
    CONTOSO,
    DEMO_CLIENT_ID,
    GRAPH_SCOPE,
    LITWARE,
    PROSEWARE,
    SECRET,
    TAILSPIN,
    msal_app,
    new_tenant,
    token_response,
)

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


@functools.cache
def _certificate(label: str) -> tuple[str, str]:
    """One key pair per label for the module: RSA key generation dominates these tests."""
    return make_test_certificate(label)


def _claims(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


def _cert_tenant(simulator, *, certificates):
    return simulator.add_tenant(
        new_tenant(
            app=AppScenario(
                str(uuid.uuid4()), certificates=certificates, roles=["Organization.Read.All"]
            )
        )
    )


def _assertion(
    key_pem: str,
    cert_pem: str,
    *,
    aud: str,
    client_id: str,
    alg: str = "RS256",
    padded: bool = False,
    exp_offset: int = 600,
    iss: str | None = None,
) -> str:
    cert = load_certificate(cert_pem)
    header: dict = {"alg": alg, "typ": "JWT"}
    thumb = x5t(cert) if alg == "RS256" else x5t_s256(cert)
    thumb += "=" * (-len(thumb) % 4) if padded else ""
    header["x5t" if alg == "RS256" else "x5t#S256"] = thumb
    now = int(time.time())
    claims = {
        "aud": aud,
        "iss": iss or client_id,
        "sub": client_id,
        "jti": str(uuid.uuid4()),
        "iat": now,
        "exp": now + exp_offset,
    }
    key = serialization.load_pem_private_key(key_pem.encode(), password=None)
    return jwt.encode(claims, key, algorithm=alg, headers=header)  # type: ignore[arg-type]


def test_it_serves_discovery_with_https_endpoints(simulator):
    response = requests.get(
        f"{simulator.base_url}/{CONTOSO}/v2.0/.well-known/openid-configuration",
        verify=simulator.ca_bundle,
        timeout=10,
    )
    assert response.status_code == 200
    document = response.json()
    assert document["token_endpoint"] == f"{simulator.base_url}/{CONTOSO}/oauth2/v2.0/token"
    assert document["authorization_endpoint"].startswith("https://")
    assert document["issuer"] == f"{simulator.base_url}/{CONTOSO}/v2.0"
    assert document["msgraph_host"] == "graph.microsoft.com"
    assert response.headers["Cache-Control"] == "max-age=86400, private"


def test_it_resolves_a_tenant_by_its_domain(simulator):
    response = requests.get(
        f"{simulator.base_url}/contoso.onmicrosoft.com/v2.0/.well-known/openid-configuration",
        verify=simulator.ca_bundle,
        timeout=10,
    )
    assert response.json()["token_endpoint"].endswith(f"/{CONTOSO}/oauth2/v2.0/token")


def test_it_answers_unknown_tenant_at_discovery_with_invalid_tenant(simulator):
    unknown = str(uuid.uuid4())
    response = requests.get(
        f"{simulator.base_url}/{unknown}/v2.0/.well-known/openid-configuration",
        verify=simulator.ca_bundle,
        timeout=10,
    )
    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "invalid_tenant"
    assert body["error_codes"] == [90002]
    assert body["error_description"].startswith(f"AADSTS90002: Tenant '{unknown}' not found.")
    assert {"timestamp", "trace_id", "correlation_id"} <= body.keys()


@pytest.mark.parametrize(
    ("tenant", "code"),
    [("4f1c2d3e-5a6b-4c7d-8e9f-0a1b2c3d4e5f", "AADSTS90002"), ("not_a_tenant", "AADSTS900023")],
)
def test_it_makes_msal_constructor_fail_for_a_bad_tenant(simulator, tenant, code):
    with pytest.raises(ValueError) as excinfo:
        msal_app(simulator, tenant, "whatever")
    assert code in str(excinfo.value.__context__)


def test_it_rejects_a_malformed_tenant_identifier(simulator):
    response = token_response(simulator, "not_a_tenant!", DEMO_CLIENT_ID, client_secret="x")
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"
    assert response.json()["error_codes"] == [900023]


def test_it_answers_unknown_tenant_at_token_endpoint_with_invalid_request(simulator):
    response = token_response(simulator, str(uuid.uuid4()), DEMO_CLIENT_ID, client_secret="x")
    assert (response.status_code, response.json()["error"]) == (400, "invalid_request")
    assert response.json()["error_codes"] == [90002]


def test_it_issues_a_token_for_a_secret_through_msal(simulator):
    result = msal_app(simulator, CONTOSO, "contoso-demo-secret").acquire_token_for_client(
        GRAPH_SCOPE
    )
    assert result["token_type"] == "Bearer"
    assert result["expires_in"] == 3599
    claims = _claims(result["access_token"])
    assert claims["aud"] == "https://graph.microsoft.com"
    assert claims["iss"] == f"https://sts.windows.net/{CONTOSO}/"
    assert claims["tid"] == CONTOSO
    assert claims["appid"] == claims["azp"] == DEMO_CLIENT_ID
    assert claims["idtyp"] == "app"
    assert claims["appidacr"] == "1"
    assert claims["exp"] - claims["iat"] == 3599
    assert "DeviceManagementApps.Read.All" in claims["roles"]
    header = jwt.get_unverified_header(result["access_token"])
    assert header["alg"] == "RS256"
    assert header["x5t"] == header["kid"]


def test_it_issues_tokens_naming_another_tenant_for_a_token_tenant_mismatch(simulator):
    tenant = simulator.add_tenant(new_tenant(token_tenant_id=CONTOSO))
    response = token_response(
        simulator, tenant.tenant_id, tenant.apps[0].client_id, client_secret=SECRET
    )
    claims = _claims(response.json()["access_token"])
    assert claims["tid"] == CONTOSO
    assert claims["iss"] == f"https://sts.windows.net/{CONTOSO}/"


def test_it_returns_raw_token_response_shape(simulator):
    response = token_response(
        simulator, CONTOSO, DEMO_CLIENT_ID, client_secret="contoso-demo-secret"
    )
    assert response.status_code == 200
    assert set(response.json()) == {"token_type", "expires_in", "ext_expires_in", "access_token"}
    assert response.headers["Cache-Control"] == "no-store, no-cache"


def test_it_accepts_http_basic_client_authentication(simulator):
    response = requests.post(
        f"{simulator.base_url}/{CONTOSO}/oauth2/v2.0/token",
        data={"grant_type": "client_credentials", "scope": GRAPH_SCOPE[0]},
        auth=(DEMO_CLIENT_ID, "contoso-demo-secret"),
        verify=simulator.ca_bundle,
        timeout=10,
    )
    assert response.status_code == 200


def test_it_issues_a_token_without_roles_claim_when_nothing_is_consented(simulator):
    result = msal_app(simulator, LITWARE, "litware-demo-secret").acquire_token_for_client(
        GRAPH_SCOPE
    )
    assert "roles" not in _claims(result["access_token"])


def test_it_issues_a_token_for_a_certificate_thumbprint_rs256(simulator):
    key, cert = _certificate("rs256")
    tenant = _cert_tenant(simulator, certificates=[cert])
    credential = {"private_key": key, "thumbprint": sha1_thumbprint_hex(load_certificate(cert))}
    result = msal_app(simulator, tenant.tenant_id, credential, tenant.apps[0].client_id)
    token = result.acquire_token_for_client(GRAPH_SCOPE)
    assert "access_token" in token, token
    assert _claims(token["access_token"])["azpacr"] == "2"
    assert simulator.requests[-1].kind == "token"
    assert simulator.requests[-1].status == 200


def test_it_issues_a_token_for_a_public_certificate_ps256(simulator):
    key, cert = _certificate("ps256")
    tenant = _cert_tenant(simulator, certificates=[cert])
    credential = {"private_key": key, "public_certificate": cert}
    token = msal_app(
        simulator, tenant.tenant_id, credential, tenant.apps[0].client_id
    ).acquire_token_for_client(GRAPH_SCOPE)
    assert "access_token" in token, token


@pytest.mark.parametrize(
    ("alg", "padded"), [("RS256", False), ("RS256", True), ("PS256", False), ("PS256", True)]
)
def test_it_accepts_thumbprints_padded_or_not(simulator, alg, padded):
    key, cert = _certificate("padding")
    tenant = _cert_tenant(simulator, certificates=[cert])
    client_id = tenant.apps[0].client_id
    aud = f"{simulator.base_url}/{tenant.tenant_id}/oauth2/v2.0/token"
    assertion = _assertion(key, cert, aud=aud, client_id=client_id, alg=alg, padded=padded)
    response = _with_assertion(simulator, tenant.tenant_id, client_id, assertion)
    assert response.status_code == 200, response.text


def _with_assertion(simulator, tenant_id, client_id, assertion):
    return token_response(
        simulator,
        tenant_id,
        client_id,
        client_assertion_type=ASSERTION_TYPE,
        client_assertion=assertion,
    )


def _assertion_error(simulator, tenant, assertion):
    response = _with_assertion(simulator, tenant.tenant_id, tenant.apps[0].client_id, assertion)
    return response.status_code, response.json()["error"], response.json()["error_codes"][0]


def test_it_rejects_an_assertion_signed_with_the_wrong_key(simulator):
    _, cert = _certificate("registered")
    other_key, _ = _certificate("other")
    tenant = _cert_tenant(simulator, certificates=[cert])
    aud = f"{simulator.base_url}/{tenant.tenant_id}/oauth2/v2.0/token"
    assertion = _assertion(other_key, cert, aud=aud, client_id=tenant.apps[0].client_id)
    assert _assertion_error(simulator, tenant, assertion) == (401, "invalid_client", 700027)


def test_it_rejects_an_unknown_certificate_thumbprint(simulator):
    _, registered = _certificate("registered")
    key, unregistered = _certificate("unregistered")
    tenant = _cert_tenant(simulator, certificates=[registered])
    aud = f"{simulator.base_url}/{tenant.tenant_id}/oauth2/v2.0/token"
    assertion = _assertion(key, unregistered, aud=aud, client_id=tenant.apps[0].client_id)
    status, error, code = _assertion_error(simulator, tenant, assertion)
    assert (status, error, code) == (401, "invalid_client", 700027)


def test_it_rejects_an_assertion_for_another_audience(simulator):
    key, cert = _certificate("aud")
    tenant = _cert_tenant(simulator, certificates=[cert])
    aud = f"https://login.microsoftonline.com/{tenant.tenant_id}/oauth2/v2.0/token"
    assertion = _assertion(key, cert, aud=aud, client_id=tenant.apps[0].client_id)
    assert _assertion_error(simulator, tenant, assertion)[2] == 50012


def test_it_rejects_an_assertion_whose_issuer_is_not_the_client(simulator):
    key, cert = _certificate("iss")
    tenant = _cert_tenant(simulator, certificates=[cert])
    aud = f"{simulator.base_url}/{tenant.tenant_id}/oauth2/v2.0/token"
    assertion = _assertion(
        key, cert, aud=aud, client_id=tenant.apps[0].client_id, iss="someone-else"
    )
    assert _assertion_error(simulator, tenant, assertion)[2] == 700021


def test_it_rejects_an_assertion_made_with_an_expired_certificate(simulator):
    started = dt.datetime.now(dt.UTC) - dt.timedelta(days=30)
    key, cert = make_test_certificate("expired", days_valid=10, not_before=started)
    tenant = _cert_tenant(simulator, certificates=[cert])
    aud = f"{simulator.base_url}/{tenant.tenant_id}/oauth2/v2.0/token"
    assertion = _assertion(key, cert, aud=aud, client_id=tenant.apps[0].client_id)
    response = _with_assertion(simulator, tenant.tenant_id, tenant.apps[0].client_id, assertion)
    assert response.json()["error_codes"] == [700027]
    assert "The key used is expired." in response.json()["error_description"]


def test_it_rejects_an_expired_assertion(simulator):
    key, cert = _certificate("exp")
    tenant = _cert_tenant(simulator, certificates=[cert])
    aud = f"{simulator.base_url}/{tenant.tenant_id}/oauth2/v2.0/token"
    assertion = _assertion(key, cert, aud=aud, client_id=tenant.apps[0].client_id, exp_offset=-3600)
    assert _assertion_error(simulator, tenant, assertion) == (401, "invalid_client", 700024)


def test_it_rejects_a_certificate_through_msal_when_the_key_does_not_match(simulator):
    key, _ = _certificate("presented")
    _, registered = _certificate("registered")
    tenant = _cert_tenant(simulator, certificates=[registered])
    credential = {
        "private_key": key,
        "thumbprint": sha1_thumbprint_hex(load_certificate(registered)),
    }
    result = msal_app(simulator, tenant.tenant_id, credential, tenant.apps[0].client_id)
    assert result.acquire_token_for_client(GRAPH_SCOPE)["error_codes"] == [700027]


@pytest.mark.parametrize(
    ("tenant", "client_id", "secret", "error", "code"),
    [
        (CONTOSO, str(uuid.UUID(int=7)), "x", "unauthorized_client", 700016),
        (CONTOSO, DEMO_CLIENT_ID, "wrong-secret", "invalid_client", 7000215),
        (TAILSPIN, DEMO_CLIENT_ID, "tailspin-demo-secret", "invalid_client", 7000222),
        (ADATUM, DEMO_CLIENT_ID, "adatum-demo-secret", "unauthorized_client", 7000112),
        (PROSEWARE, DEMO_CLIENT_ID, "proseware-demo-secret", "invalid_grant", 53003),
    ],
)
def test_it_returns_identity_errors_through_msal(simulator, tenant, client_id, secret, error, code):
    result = msal_app(simulator, tenant, secret, client_id).acquire_token_for_client(GRAPH_SCOPE)
    assert result["error"] == error
    assert result["error_codes"] == [code]
    assert result["error_description"].startswith(f"AADSTS{code}: ")
    assert "Trace ID: " in result["error_description"]
    assert result["error_uri"] == f"https://login.microsoftonline.com/error?code={code}"


def test_it_returns_401_for_invalid_and_expired_secrets(simulator):
    wrong = token_response(simulator, CONTOSO, DEMO_CLIENT_ID, client_secret="nope")
    expired = token_response(
        simulator, TAILSPIN, DEMO_CLIENT_ID, client_secret="tailspin-demo-secret"
    )
    assert (wrong.status_code, expired.status_code) == (401, 401)


def test_it_accepts_a_current_secret_next_to_an_expired_one(simulator):
    past = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    app = AppScenario(str(uuid.uuid4()), secrets=[SecretSpec("old", past), SecretSpec(SECRET)])
    tenant = simulator.add_tenant(new_tenant(app=app))
    assert token_response(simulator, tenant.tenant_id, app.client_id, client_secret=SECRET).ok
    old = token_response(simulator, tenant.tenant_id, app.client_id, client_secret="old")
    assert old.json()["error_codes"] == [7000222]


@pytest.mark.parametrize(
    ("scope", "error", "code"),
    [
        ("https://graph.microsoft.com/User.Read", "invalid_scope", 1002012),
        ("https://management.azure.com/.default", "invalid_resource", 500011),
    ],
)
def test_it_rejects_scopes_other_than_a_graph_default_scope(simulator, scope, error, code):
    response = token_response(
        simulator, CONTOSO, DEMO_CLIENT_ID, client_secret="contoso-demo-secret", scope=scope
    )
    assert (response.status_code, response.json()["error"], response.json()["error_codes"]) == (
        400,
        error,
        [code],
    )


def test_it_issues_tokens_for_the_graph_app_id_scope(simulator):
    scope = "00000003-0000-0000-c000-000000000000/.default"
    response = token_response(
        simulator, CONTOSO, DEMO_CLIENT_ID, client_secret="contoso-demo-secret", scope=scope
    )
    assert _claims(response.json()["access_token"])["aud"] == "https://graph.microsoft.com"


def test_it_requires_a_credential(simulator):
    response = token_response(simulator, CONTOSO, DEMO_CLIENT_ID)
    assert response.json()["error_codes"] == [7000218]


def test_it_serves_signing_keys_that_verify_issued_tokens(simulator):
    keys = requests.get(
        f"{simulator.base_url}/{CONTOSO}/discovery/v2.0/keys",
        verify=simulator.ca_bundle,
        timeout=10,
    )
    token = token_response(
        simulator, CONTOSO, DEMO_CLIENT_ID, client_secret="contoso-demo-secret"
    ).json()["access_token"]
    jwk = keys.json()["keys"][0]
    public_key = jwt.algorithms.RSAAlgorithm.from_jwk(json.dumps(jwk))
    claims = jwt.decode(
        token, public_key, algorithms=["RS256"], audience="https://graph.microsoft.com"
    )  # type: ignore[arg-type]
    assert jwk["kid"] == jwt.get_unverified_header(token)["kid"]
    assert claims["tid"] == CONTOSO


def test_it_serves_instance_discovery(simulator):
    response = requests.get(
        f"{simulator.base_url}/common/discovery/instance",
        params={
            "api-version": "1.1",
            "authorization_endpoint": "https://x/common/oauth2/authorize",
        },
        verify=simulator.ca_bundle,
        timeout=10,
    )
    assert response.status_code == 200
    assert response.json()["metadata"][0]["aliases"] == [f"127.0.0.1:{simulator.port}"]


def test_it_records_token_requests_without_secrets(simulator):
    token_response(simulator, CONTOSO, DEMO_CLIENT_ID, client_secret="contoso-demo-secret")
    record = simulator.requests[-1]
    assert (record.kind, record.method, record.status) == ("token", "POST", 200)
    assert (record.tenant_id, record.client_id) == (CONTOSO, DEMO_CLIENT_ID)
    assert "contoso-demo-secret" not in repr(simulator.requests)


def test_it_signs_tokens_msal_can_cache(simulator):
    app = msal_app(simulator, CONTOSO, "contoso-demo-secret")
    first = app.acquire_token_for_client(GRAPH_SCOPE)
    second = app.acquire_token_for_client(GRAPH_SCOPE)
    assert first["token_source"] == "identity_provider"
    assert second["token_source"] == "cache"
    assert isinstance(app, msal.ConfidentialClientApplication)


def test_it_uses_b64url_without_padding_for_its_own_key_ids(simulator):
    token = token_response(
        simulator, CONTOSO, DEMO_CLIENT_ID, client_secret="contoso-demo-secret"
    ).json()["access_token"]
    assert "=" not in jwt.get_unverified_header(token)["x5t"]
    assert b64url(b"\xff") == "_w"


def test_it_accepts_standard_base64_header_and_payload_as_cipp_sends_them(simulator):
    key_pem, cert_pem = _certificate("cipp")
    tenant = _cert_tenant(simulator, certificates=[cert_pem])
    client_id = tenant.apps[0].client_id
    now = int(time.time())
    header = {"alg": "PS256", "typ": "JWT", "x5t#S256": x5t_s256(load_certificate(cert_pem)) + "="}
    claims = {
        "aud": f"{simulator.base_url}/{tenant.tenant_id}/oauth2/v2.0/token",
        "iss": client_id,
        "sub": client_id,
        "jti": str(uuid.uuid4()),
        "nbf": now,
        "exp": now + 120,
    }
    signing_input = ".".join(
        base64.b64encode(json.dumps(part).encode()).decode() for part in (header, claims)
    )
    key = serialization.load_pem_private_key(key_pem.encode(), password=None)
    signature = key.sign(  # type: ignore[union-attr, call-arg]
        signing_input.encode(),
        padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32),
        hashes.SHA256(),
    )
    assertion = f"{signing_input}.{b64url(signature)}"
    response = _with_assertion(simulator, tenant.tenant_id, client_id, assertion)
    assert response.status_code == 200, response.text
