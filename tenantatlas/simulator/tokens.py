"""The simulator's signing key: access and ID tokens as real RS256 JWTs, and their JWK.

Graph verifies access tokens the way Microsoft does (``verify_access_token``); clients decode
``roles`` or validate an ID token against the JWKS (``jwk``) the way they would in production.
The key's ``x5t`` is every token's ``kid``.
"""

from __future__ import annotations

import base64
import hashlib
import time
import uuid
from typing import Any

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tenantatlas.simulator.certs import b64url, x5t
from tenantatlas.simulator.codes import AuthorizationCode
from tenantatlas.simulator.directory import Principal
from tenantatlas.simulator.errors import TokenRejected
from tenantatlas.simulator.scenarios import AppScenario, TenantScenario
from tenantatlas.simulator.values import stable_guid

GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"
# Graph resource identifiers of the public and sovereign clouds; tokens carry the one asked for.
GRAPH_RESOURCES = (
    "https://graph.microsoft.com",
    "https://graph.microsoft.us",
    "https://dod-graph.microsoft.us",
    "https://microsoftgraph.chinacloudapi.cn",
)
ACCESS_TOKEN_LIFETIME = 3599
ID_TOKEN_LIFETIME = 3600


def issuer(origin: str, tenant_id: str) -> str:
    """The ``iss`` of the tenant's v2.0 ID tokens, as its discovery document names it."""
    return f"{origin}/{tenant_id}/v2.0"


class TokenSigner:
    """Signs the tokens the authority issues and verifies the ones Graph is handed."""

    def __init__(self, signing_key: rsa.RSAPrivateKey, signing_cert: x509.Certificate) -> None:
        self._key = signing_key
        self._public_key = signing_key.public_key()
        self._kid = x5t(signing_cert)
        self._cert_der = signing_cert.public_bytes(serialization.Encoding.DER)

    def jwk(self, token_issuer: str) -> dict[str, Any]:
        """The signing key as the JWKS lists it, for tokens of ``token_issuer``."""
        numbers = self._public_key.public_numbers()
        return {
            "kty": "RSA",
            "use": "sig",
            "kid": self._kid,
            "x5t": self._kid,
            "n": b64url(numbers.n.to_bytes((numbers.n.bit_length() + 7) // 8)),
            "e": b64url(numbers.e.to_bytes(3)),
            "x5c": [base64.b64encode(self._cert_der).decode()],
            "issuer": token_issuer,
        }

    def issue_access_token(
        self, tenant: TenantScenario, principal: Principal, resource: str, method: str
    ) -> str:
        now = int(time.time())
        app = principal.registration.app
        tid = (tenant.token_tenant_id or tenant.tenant_id).lower()
        claims: dict[str, Any] = {
            "aud": resource,
            "iss": f"https://sts.windows.net/{tid}/",
            "iat": now,
            "nbf": now,
            "exp": now + ACCESS_TOKEN_LIFETIME,
            "aio": b64url(uuid.uuid4().bytes),
            "app_displayname": app.display_name,
            "appid": app.client_id,
            "appidacr": method,
            "azp": app.client_id,
            "azpacr": method,
            "idp": f"https://sts.windows.net/{tid}/",
            "idtyp": "app",
            "oid": stable_guid("service-principal", tid, app.client_id.lower()),
            "rh": "0.AAAA" + b64url(uuid.uuid4().bytes),
            "sub": stable_guid("service-principal", tid, app.client_id.lower()),
            "tenant_region_scope": "WW",
            "tid": tid,
            "uti": b64url(uuid.uuid4().bytes),
            "ver": "1.0",
            "xms_tcdt": 1552555613,
        }
        if principal.roles:
            claims["roles"] = list(principal.roles)
        return self._sign(claims)

    def issue_user_access_token(
        self, grant: AuthorizationCode, app: AppScenario, method: str
    ) -> str:
        """A delegated Graph token for the signed-in user: ``scp``, no ``roles`` (Graph's
        application permissions are not the user's)."""
        now = int(time.time())
        tid = grant.tenant_id.lower()
        user = grant.user
        claims: dict[str, Any] = {
            "aud": GRAPH_APP_ID,
            "iss": f"https://sts.windows.net/{tid}/",
            "iat": now,
            "nbf": now,
            "exp": now + ACCESS_TOKEN_LIFETIME,
            "app_displayname": app.display_name,
            "appid": app.client_id,
            "appidacr": method,
            "idtyp": "user",
            "name": user.display_name,
            "oid": user.object_id,
            "scp": " ".join(s for s in grant.scopes if s != "offline_access") or "openid",
            "sub": _pairwise_subject("graph", user.object_id),
            "tid": tid,
            "unique_name": user.user_principal_name,
            "upn": user.user_principal_name,
            "uti": b64url(uuid.uuid4().bytes),
            "ver": "1.0",
        }
        return self._sign(claims)

    def issue_id_token(self, origin: str, grant: AuthorizationCode, app: AppScenario) -> str:
        """The v2.0 ID token: ``iss`` exactly as the tenant's discovery document says, ``aud``
        the client id, the nonce echoed; ``name``/``preferred_username`` with the ``profile``
        scope, ``email`` with the ``email`` scope (when the user has one)."""
        now = int(time.time())
        user = grant.user
        claims: dict[str, Any] = {
            "aud": app.client_id,
            "iss": issuer(origin, grant.tenant_id.lower()),
            "iat": now,
            "nbf": now,
            "exp": now + ID_TOKEN_LIFETIME,
            "aio": b64url(uuid.uuid4().bytes),
            "oid": user.object_id,
            "rh": "0.AAAA" + b64url(uuid.uuid4().bytes),
            "sub": _pairwise_subject(app.client_id.lower(), user.object_id),
            "tid": grant.tenant_id.lower(),
            "uti": b64url(uuid.uuid4().bytes),
            "ver": "2.0",
        }
        if grant.nonce is not None:
            claims["nonce"] = grant.nonce
        if "profile" in grant.scopes:
            claims["name"] = user.display_name
            claims["preferred_username"] = user.user_principal_name
        if "email" in grant.scopes and user.email:
            claims["email"] = user.email
        return self._sign(claims)

    def _sign(self, claims: dict[str, Any]) -> str:
        headers = {"typ": "JWT", "x5t": self._kid, "kid": self._kid}
        return jwt.encode(claims, self._key, algorithm="RS256", headers=headers)

    def verify_access_token(self, token: str) -> dict[str, Any]:
        """Claims of a valid simulator-issued Graph token, else TokenRejected with Graph's text."""
        if not token:
            raise TokenRejected("Access token is empty.")
        try:
            return jwt.decode(
                token,
                self._public_key,
                algorithms=["RS256"],
                audience=[*GRAPH_RESOURCES, GRAPH_APP_ID],
                options={"require": ["exp", "nbf", "tid", "aud"]},
            )
        except (jwt.ExpiredSignatureError, jwt.ImmatureSignatureError) as exc:
            raise TokenRejected("Access token has expired or is not yet valid.") from exc
        except jwt.DecodeError as exc:
            raise TokenRejected("CompactToken parsing failed with error code: 80049217") from exc
        except jwt.PyJWTError as exc:
            raise TokenRejected("Access token validation failure. Invalid audience.") from exc


def _pairwise_subject(audience: str, object_id: str) -> str:
    """``sub``: the user's id as one app sees it (pairwise, stable, not the object id)."""
    digest = hashlib.sha256(f"{audience}|{object_id}".encode()).digest()
    return b64url(digest[:32])
