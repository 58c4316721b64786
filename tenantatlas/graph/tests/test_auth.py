"""TokenProvider and credentials, with MSAL talking to a scripted identity endpoint."""

from __future__ import annotations

import datetime as dt
import json
from urllib.parse import parse_qs

import jwt
import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes

from tenantatlas.graph.auth import ClientCredential, MsalSession, TokenProvider, decode_roles
from tenantatlas.graph.tests.fakes import CLOUD, ScriptedAdapter, response
from tenantatlas.lib.reasons import ProviderError
from tenantatlas.lib.sanitize import Redactor
from tenantatlas.simulator.certs import make_test_certificate

TENANT = "11111111-2222-3333-4444-555555555555"
CLIENT = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
SECRET = "CANARY-secret-value~0123456789"
BASE = f"https://login.test/{TENANT}"
DISCOVERY = {
    "token_endpoint": f"{BASE}/oauth2/v2.0/token",
    "authorization_endpoint": f"{BASE}/oauth2/v2.0/authorize",
    "issuer": f"{BASE}/v2.0",
}


KEY_PEM, CERT_PEM = make_test_certificate("tenantatlas-test", days_valid=30)


def access_token(roles: list[str] | None) -> str:
    claims: dict = {"tid": TENANT, "aud": "https://graph.test"}
    if roles is not None:
        claims["roles"] = roles
    return jwt.encode(claims, "k" * 32, algorithm="HS256")


def token_ok(roles: list[str] | None = None) -> requests.Response:
    body = {"token_type": "Bearer", "expires_in": 3599, "access_token": access_token(roles)}
    return response(200, body)


def identity_error(status: int, error: str, code: int) -> requests.Response:
    body = {
        "error": error,
        "error_description": f"AADSTS{code}: something. Trace ID: x\r\nCorrelation ID: y",
        "error_codes": [code],
        "trace_id": "trace-1",
        "correlation_id": "corr-1",
    }
    return response(status, body)


class Identity:
    def __init__(self, script: list, credential: ClientCredential | None = None, **kw) -> None:
        self.redactor = Redactor()
        self.adapter = ScriptedAdapter(script)
        session = MsalSession(True, 5.0, self.redactor)
        session.mount("https://", self.adapter)
        self.provider = TokenProvider(
            CLOUD,
            TENANT,
            credential or ClientCredential(CLIENT, client_secret=SECRET),
            redactor=self.redactor,
            session=session,
            **kw,
        )

    def bodies(self) -> list[dict[str, list[str]]]:
        return [parse_qs(r.body) for r in self.adapter.requests if r.method == "POST"]


def _fails(identity: Identity) -> ProviderError:
    with pytest.raises(ProviderError) as caught:
        identity.provider.get_token()
    text = json.dumps([caught.value.message, caught.value.details])
    assert "CANARY" not in text
    return caught.value


def test_it_gets_a_token_with_roles_and_caches_it() -> None:
    identity = Identity([response(200, DISCOVERY), token_ok(["Organization.Read.All"])])
    token = identity.provider.get_token()
    assert token.roles == ["Organization.Read.All"]
    assert token.expires_at > dt.datetime.now(dt.UTC) + dt.timedelta(minutes=55)
    assert identity.provider.get_token() is token
    (body,) = identity.bodies()
    assert body["scope"] == ["https://graph.test/.default"]
    assert body["client_secret"] == [SECRET]
    assert body["grant_type"] == ["client_credentials"]
    assert "CANARY" not in identity.redactor.sanitize(f"x {SECRET} {token.value}")
    assert token.value not in repr(token)


def test_force_refresh_asks_again() -> None:
    identity = Identity([response(200, DISCOVERY), token_ok([]), token_ok(["A.Read.All"])])
    identity.provider.get_token()
    assert identity.provider.get_token(force_refresh=True).roles == ["A.Read.All"]
    assert len(identity.bodies()) == 2


def test_token_without_roles_is_returned_with_roles_none() -> None:
    identity = Identity([response(200, DISCOVERY), token_ok(None)])
    assert identity.provider.get_token().roles is None


@pytest.mark.parametrize(
    ("status", "error", "code", "reason"),
    [
        (401, "invalid_client", 7000215, "auth.invalid_client_secret"),
        (401, "invalid_client", 7000222, "auth.client_secret_expired"),
        (401, "invalid_client", 700027, "auth.certificate_invalid"),
        (401, "invalid_client", 50012, "auth.certificate_invalid"),
        (400, "invalid_client", 700024, "auth.certificate_invalid"),
        (400, "unauthorized_client", 700016, "auth.app_not_found"),
        (400, "unauthorized_client", 7000112, "auth.app_disabled"),
        (400, "invalid_request", 90002, "auth.tenant_not_found"),
        (400, "invalid_request", 900023, "auth.tenant_id_invalid"),
        (400, "invalid_grant", 53003, "auth.blocked_by_policy"),
        (400, "invalid_grant", 530035, "auth.blocked_by_policy"),
        (400, "invalid_grant", 530032, "auth.blocked_by_policy"),
        (400, "invalid_scope", 70011, "auth.failed"),
    ],
)
def test_identity_errors_map_to_reason_codes(status, error, code, reason) -> None:
    identity = Identity([response(200, DISCOVERY), identity_error(status, error, code)])
    failure = _fails(identity)
    assert failure.reason_code == reason
    assert failure.details["aadsts"] == code
    assert failure.details["trace_id"] == "trace-1"


def test_unknown_tenant_at_discovery_is_tenant_not_found() -> None:
    identity = Identity([identity_error(400, "invalid_tenant", 90002)])
    failure = _fails(identity)
    assert failure.reason_code == "auth.tenant_not_found"
    assert failure.details == {"aadsts": 90002}


def test_server_errors_timeouts_and_network_errors() -> None:
    assert _fails(Identity([response(200, DISCOVERY), response(503, {})])).reason_code == (
        "graph.unavailable"
    )
    assert _fails(Identity([response(500, {})])).reason_code == "graph.unavailable"
    assert _fails(Identity([requests.ReadTimeout("slow")])).reason_code == "graph.timeout"
    refused = Identity([requests.ConnectionError("refused")])
    assert _fails(refused).reason_code == "graph.network_error"
    garbled = Identity([response(200, DISCOVERY), response(400, raw=b"<html>")])
    assert _fails(garbled).reason_code == "graph.invalid_response"


def test_a_failed_construction_is_retried_with_a_fresh_application() -> None:
    identity = Identity(
        [requests.ConnectionError("down"), response(200, DISCOVERY), token_ok(["A.Read.All"])]
    )
    assert _fails(identity).reason_code == "graph.network_error"
    assert identity.provider.get_token().roles == ["A.Read.All"]


@pytest.mark.parametrize(
    ("signing", "alg", "header"), [("PS256", "PS256", "x5t#S256"), ("RS256", "RS256", "x5t")]
)
def test_certificate_assertions_in_both_forms(signing, alg, header) -> None:
    credential = ClientCredential(CLIENT, private_key_pem=KEY_PEM, certificate_pem=CERT_PEM)
    identity = Identity(
        [response(200, DISCOVERY), token_ok(["A.Read.All"])],
        credential,
        certificate_signing=signing,
    )
    identity.provider.get_token()
    (body,) = identity.bodies()
    assertion = body["client_assertion"][0]
    assert body["client_assertion_type"] == [
        "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
    ]
    headers = jwt.get_unverified_header(assertion)
    assert headers["alg"] == alg
    assert header in headers
    claims = jwt.decode(assertion, options={"verify_signature": False})
    assert claims["iss"] == claims["sub"] == CLIENT
    assert claims["aud"] == DISCOVERY["token_endpoint"]
    # The assertion and the key are registered for redaction.
    assert identity.redactor.sanitize(f"{assertion} {KEY_PEM.splitlines()[3]}", limit=None) == (
        "[redacted] [redacted]"
    )


def test_thumbprint_is_the_sha1_of_the_certificate() -> None:
    credential = ClientCredential(CLIENT, private_key_pem=KEY_PEM, certificate_pem=CERT_PEM)
    cert = x509.load_pem_x509_certificate(CERT_PEM.encode())
    assert credential.thumbprint == cert.fingerprint(hashes.SHA1()).hex().upper()
    assert len(credential.thumbprint) == 40
    assert credential.kind == "certificate"


def test_unreadable_key_or_certificate_is_certificate_invalid() -> None:
    bad_key = ClientCredential(CLIENT, private_key_pem="junk-key-CANARY", certificate_pem=CERT_PEM)
    assert _fails(Identity([], bad_key)).reason_code == "auth.certificate_invalid"
    bad_cert = ClientCredential(CLIENT, private_key_pem=KEY_PEM, certificate_pem="junk")
    assert _fails(Identity([], bad_cert)).reason_code == "auth.certificate_invalid"


def test_credential_needs_exactly_one_kind() -> None:
    with pytest.raises(ValueError):
        ClientCredential(CLIENT)
    with pytest.raises(ValueError):
        ClientCredential(CLIENT, client_secret=SECRET, private_key_pem=KEY_PEM)
    with pytest.raises(ValueError):
        ClientCredential(CLIENT, private_key_pem=KEY_PEM)
    assert SECRET not in repr(ClientCredential(CLIENT, client_secret=SECRET))


def test_decode_roles() -> None:
    assert decode_roles(access_token(["A.Read.All", "B.Read.All"])) == ["A.Read.All", "B.Read.All"]
    assert decode_roles(access_token(None)) is None
    assert decode_roles("not-a-jwt") is None


def test_environment_ca_bundle_cannot_override_trust(monkeypatch) -> None:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/evil.pem")
    identity = Identity([response(200, DISCOVERY), token_ok([])])
    identity.provider.get_token()
    assert [kw["verify"] for kw in identity.adapter.send_kwargs] == [True, True]
    assert all(kw["timeout"] == 5.0 for kw in identity.adapter.send_kwargs)
