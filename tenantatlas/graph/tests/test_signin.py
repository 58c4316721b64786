"""Id-token validation for Sign in with Microsoft: every rule, with a locally made key and JWKS."""

from __future__ import annotations

import time
import uuid
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from tenantatlas.graph.auth import ClientCredential
from tenantatlas.graph.clouds import get_cloud
from tenantatlas.graph.signin import (
    DiscoveryKeys,
    SignInApp,
    SignInFailed,
    allowed_ids,
    complete_sign_in,
    nonce_claim,
    validate_id_token,
)

CLIENT_ID = "7d1c9e3a-5b2f-4c8d-9e1a-3f5b7c9d1e2a"
TENANT = "3c1e5a7b-9d2f-4b6c-8e1a-2f4d6b8c0e1a"
OTHER_TENANT = "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d"
OID = "5f4e3d2c-1b0a-4f9e-8d7c-6b5a4f3e2d1c"
FLOW_NONCE = "flow-nonce-value"
KID = "local-key-1"

_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
_OTHER_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


class LocalKeys:
    """A tenant's JWKS as validation sees it: public keys by kid."""

    def __init__(self, keys: dict[str, Any]) -> None:
        self.keys = keys
        self.asked: list[tuple[str, str]] = []

    def key_for(self, tenant_id: str, kid: str) -> Any:
        self.asked.append((tenant_id, kid))
        if kid not in self.keys:
            raise SignInFailed("token_invalid", "unknown key", reason="unknown_key")
        return self.keys[kid]


@pytest.fixture
def app() -> SignInApp:
    return SignInApp(
        cloud=get_cloud("global"),
        credential=ClientCredential(CLIENT_ID, client_secret="sign-in-secret-value-0001"),
        allowed_tenants=(TENANT,),
    )


@pytest.fixture
def keys() -> LocalKeys:
    return LocalKeys({KID: _KEY.public_key()})


def claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    values: dict[str, Any] = {
        "iss": f"https://login.microsoftonline.com/{TENANT}/v2.0",
        "aud": CLIENT_ID,
        "iat": now,
        "nbf": now,
        "exp": now + 3600,
        "tid": TENANT,
        "oid": OID,
        "sub": "pairwise-subject",
        "nonce": nonce_claim(FLOW_NONCE),
        "name": "Ada Admin",
        "preferred_username": "ada@contoso.example",
        "email": "ada@contoso.example",
    }
    values.update(overrides)
    return {key: value for key, value in values.items() if value is not None}


def token(key: Any = _KEY, kid: str = KID, algorithm: str = "RS256", **overrides: Any) -> str:
    return jwt.encode(claims(**overrides), key, algorithm=algorithm, headers={"kid": kid})


def refused(app: SignInApp, keys: LocalKeys, raw: str, nonce: str | None = None) -> SignInFailed:
    with pytest.raises(SignInFailed) as caught:
        validate_id_token(raw, app=app, nonce=nonce or nonce_claim(FLOW_NONCE), keys=keys)
    return caught.value


def test_it_accepts_a_valid_token_and_identifies_by_tenant_and_object_id(
    app: SignInApp, keys: LocalKeys
) -> None:
    identity = validate_id_token(token(), app=app, nonce=nonce_claim(FLOW_NONCE), keys=keys)

    assert (identity.tenant_id, identity.object_id) == (TENANT, OID)
    assert (identity.name, identity.username) == ("Ada Admin", "ada@contoso.example")
    assert keys.asked == [(TENANT, KID)]


def test_it_refuses_a_token_of_another_issuer(app: SignInApp, keys: LocalKeys) -> None:
    wrong = token(iss=f"https://login.microsoftonline.com/{OTHER_TENANT}/v2.0")

    failure = refused(app, keys, wrong)

    assert (failure.code, failure.details["reason"]) == ("token_invalid", "issuer")


def test_it_refuses_a_token_of_another_cloud(app: SignInApp, keys: LocalKeys) -> None:
    failure = refused(app, keys, token(iss=f"https://login.microsoftonline.us/{TENANT}/v2.0"))

    assert failure.details["reason"] == "issuer"


def test_it_refuses_a_token_for_another_application(app: SignInApp, keys: LocalKeys) -> None:
    failure = refused(app, keys, token(aud=str(uuid.uuid4())))

    assert (failure.code, failure.details["reason"]) == ("token_invalid", "audience")


def test_it_refuses_a_token_of_another_sign_in(app: SignInApp, keys: LocalKeys) -> None:
    failure = refused(app, keys, token(nonce=nonce_claim("someone-elses-flow")))

    assert (failure.code, failure.details["reason"]) == ("token_invalid", "nonce")


def test_it_refuses_a_token_without_nonce(app: SignInApp, keys: LocalKeys) -> None:
    failure = refused(app, keys, token(nonce=None))

    assert failure.details["reason"] == "claims_missing"


def test_it_refuses_an_expired_token(app: SignInApp, keys: LocalKeys) -> None:
    past = int(time.time()) - 3 * 3600
    failure = refused(app, keys, token(iat=past, nbf=past, exp=past + 3600))

    assert (failure.code, failure.details["reason"]) == ("token_invalid", "expired")


def test_it_tolerates_two_minutes_of_clock_skew(app: SignInApp, keys: LocalKeys) -> None:
    now = int(time.time())
    slightly_late = token(iat=now - 3700, nbf=now - 3700, exp=now - 60)

    assert validate_id_token(slightly_late, app=app, nonce=nonce_claim(FLOW_NONCE), keys=keys)


def test_it_refuses_a_token_not_valid_yet(app: SignInApp, keys: LocalKeys) -> None:
    later = int(time.time()) + 3600
    failure = refused(app, keys, token(nbf=later, iat=later, exp=later + 3600))

    assert failure.details["reason"] == "not_yet_valid"


def test_it_refuses_a_bad_signature(app: SignInApp, keys: LocalKeys) -> None:
    failure = refused(app, keys, token(key=_OTHER_KEY))

    assert (failure.code, failure.details["reason"]) == ("token_invalid", "signature")


def test_it_refuses_a_tampered_token(app: SignInApp, keys: LocalKeys) -> None:
    header, _, signature = token().split(".")
    forged_claims = token(oid=str(uuid.uuid4())).split(".")[1]

    failure = refused(app, keys, f"{header}.{forged_claims}.{signature}")

    assert failure.details["reason"] == "signature"


def test_it_refuses_an_unknown_key_id(app: SignInApp, keys: LocalKeys) -> None:
    failure = refused(app, keys, token(kid="rolled-over-elsewhere"))

    assert (failure.code, failure.details["reason"]) == ("token_invalid", "unknown_key")


def test_it_refuses_an_unsigned_or_symmetric_token(app: SignInApp, keys: LocalKeys) -> None:
    hs256 = jwt.encode(claims(), "shared-secret-of-32-bytes-or-more!!", algorithm="HS256")
    unsigned = jwt.encode(claims(), "", algorithm="none")

    assert refused(app, keys, hs256).details["reason"] == "algorithm"
    assert refused(app, keys, unsigned).details["reason"] == "algorithm"
    assert keys.asked == []


def test_it_refuses_a_tenant_not_allowed_before_fetching_its_keys(
    app: SignInApp, keys: LocalKeys
) -> None:
    other = token(tid=OTHER_TENANT, iss=f"https://login.microsoftonline.com/{OTHER_TENANT}/v2.0")

    failure = refused(app, keys, other)

    assert failure.code == "tenant_not_allowed"
    assert failure.details["tenant_id"] == OTHER_TENANT
    assert keys.asked == []


def test_it_refuses_a_token_without_object_id(app: SignInApp, keys: LocalKeys) -> None:
    assert refused(app, keys, token(oid=None)).details["reason"] == "claims_missing"


def test_it_refuses_what_is_not_a_jwt(app: SignInApp, keys: LocalKeys) -> None:
    assert refused(app, keys, "not-a-token").details["reason"] == "malformed"


def test_it_refuses_a_redirect_whose_state_differs_without_calling_microsoft(
    app: SignInApp,
) -> None:
    flow = {"state": "expected-state", "nonce": FLOW_NONCE, "code_verifier": "v" * 43}

    with pytest.raises(SignInFailed) as caught:
        complete_sign_in(app, flow, {"state": "forged", "code": "a-code"})

    assert caught.value.code == "state_mismatch"


def test_it_turns_an_error_redirect_into_its_aadsts_code(app: SignInApp) -> None:
    flow = {"state": "s1", "nonce": FLOW_NONCE}
    answer = {
        "state": "s1",
        "error": "access_denied",
        "error_description": "AADSTS65004: User declined to consent.\r\nTrace ID: x",
    }

    with pytest.raises(SignInFailed) as caught:
        complete_sign_in(app, flow, answer)

    failure = caught.value
    assert failure.code == "microsoft_error"
    assert failure.details == {
        "error": "access_denied",
        "error_description": "AADSTS65004: User declined to consent.",
        "aadsts": 65004,
    }


# -- discovery and keys against the real HTTPS simulator ------------------------------------


def test_it_reads_signing_keys_from_the_tenants_discovery_document(sim: Any) -> None:
    DiscoveryKeys.forget()
    tenant = sim.tenants[0].tenant_id
    app = SignInApp(
        cloud=get_cloud("simulator"),
        credential=ClientCredential(CLIENT_ID, client_secret="sign-in-secret-value-0001"),
        allowed_tenants=(tenant,),
    )
    listed = sim_kid(sim, tenant)
    sim.clear_requests()

    assert DiscoveryKeys(app).key_for(tenant, listed) is not None
    with pytest.raises(SignInFailed) as caught:
        DiscoveryKeys(app).key_for(tenant, "not-listed")
    assert caught.value.details["reason"] == "unknown_key"
    key_requests = [r for r in sim.requests if r.path.endswith("/discovery/v2.0/keys")]
    assert len(key_requests) == 2, "the unknown kid refetched the key set once"


def sim_kid(sim: Any, tenant: str) -> str:
    import requests

    document = requests.get(
        f"{sim.base_url}/{tenant}/discovery/v2.0/keys", verify=str(sim.ca_bundle), timeout=10
    ).json()
    return str(document["keys"][0]["kid"])


def test_it_resolves_an_allowed_domain_to_its_tenant_id(sim: Any) -> None:
    tenant = sim.tenants[0]
    app = SignInApp(
        cloud=get_cloud("simulator"),
        credential=ClientCredential(CLIENT_ID, client_secret="sign-in-secret-value-0001"),
        allowed_tenants=(tenant.default_domain.upper(), OTHER_TENANT),
    )

    assert allowed_ids(app) == {tenant.tenant_id, OTHER_TENANT}
