"""Sign in with Microsoft: the OpenID Connect authorization code flow with PKCE (facts §8.4).

MSAL builds the flow (state, nonce, PKCE) and redeems the code; the id token is validated here,
not by MSAL (which since 1.38 only decodes it): signature against the JWKS named by the OIDC
discovery document of the token's tenant, issuer, audience, expiry and nonce, and the tenant
against the installation's allowed list. Every failure is a :class:`SignInFailed` with a stable
code the account side turns into a page; nothing here knows about users or sessions.

Requests go through :class:`~tenantatlas.graph.http.GraphSession`, so TLS trust is the cloud's
(the simulator's CA bundle, ``TENANTATLAS_CA_BUNDLE``), never the environment's.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import threading
import time
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import jwt
import msal
import requests

from tenantatlas.graph.auth import ClientCredential, MsalSession
from tenantatlas.graph.clouds import Cloud, tls_verify
from tenantatlas.graph.discovery import (
    DomainLookupFailed,
    fetch_identity_json,
    tenant_for_domain,
)
from tenantatlas.lib.sanitize import Redactor

# MSAL adds openid and profile itself (and refuses them as input); email for the e-mail claim.
SIGN_IN_SCOPES = ["email"]
# Clock skew tolerated on exp / nbf / iat.
LEEWAY_SECONDS = 120
# Discovery documents and key sets are kept this long; an unknown kid refetches at once.
KEYS_CACHE_SECONDS = 3600
GUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_AADSTS = re.compile(r"AADSTS(\d{4,})")
# Multi-tenant authorities (no tenant of their own): the token's tid says whose it is.
MULTI_TENANT_AUTHORITIES = frozenset({"organizations", "common"})


class SignInFailed(Exception):
    """A sign-in that cannot complete; ``code`` is stable, ``details`` safe to show and log."""

    def __init__(self, code: str, message: str, **details: Any) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details


@dataclass(frozen=True)
class SignInApp:
    """The app registration people sign in through, and which tenants may sign in."""

    cloud: Cloud
    credential: ClientCredential
    # Tenant ids (GUIDs) or verified domain names whose people may sign in.
    allowed_tenants: tuple[str, ...]
    timeout: float = 15.0

    @property
    def client_id(self) -> str:
        return self.credential.client_id

    @property
    def authority_tenant(self) -> str:
        """One allowed tenant: its own authority; several: ``organizations``."""
        if len(self.allowed_tenants) == 1:
            return self.allowed_tenants[0]
        return "organizations"

    def issuer_for(self, tenant_id: str) -> str:
        return f"{self.cloud.authority_host.rstrip('/')}/{tenant_id}/v2.0"


@dataclass(frozen=True)
class VerifiedIdentity:
    """Who signed in, from a validated id token: tid + oid identify; the rest is display."""

    tenant_id: str
    object_id: str
    name: str = ""
    username: str = ""  # preferred_username: mutable, never used to match
    email: str = ""
    claims: Mapping[str, Any] = field(default_factory=dict, repr=False)


class SigningKeys(Protocol):
    """Where validation finds a tenant's signing key by kid (the JWKS of its discovery)."""

    def key_for(self, tenant_id: str, kid: str) -> Any: ...


def nonce_claim(flow_nonce: str) -> str:
    """The nonce the id token carries: MSAL sends the SHA-256 (hex) of the flow's nonce."""
    return hashlib.sha256(flow_nonce.encode("ascii")).hexdigest()


# -- the flow --------------------------------------------------------------------------------


def begin_sign_in(
    app: SignInApp, redirect_uri: str, *, prompt: str | None = None
) -> dict[str, Any]:
    """A new auth code flow (MSAL's dict: ``auth_uri`` to send the browser to, state, nonce,
    PKCE verifier). The caller keeps it, server-side, until the callback."""
    msal_app = _msal_app(app, Redactor())
    try:
        with warnings.catch_warnings():
            # The query response mode on purpose: a form_post callback is a cross-site POST,
            # which browsers send without the (SameSite=Lax) session cookie holding the flow.
            # The code it carries is single use and worthless without the PKCE verifier.
            warnings.filterwarnings("ignore", message="response_mode='form_post' is recommended")
            return dict(
                msal_app.initiate_auth_code_flow(
                    SIGN_IN_SCOPES, redirect_uri=redirect_uri, prompt=prompt, response_mode="query"
                )
            )
    except ValueError as exc:
        raise SignInFailed(
            "misconfigured", f"The sign-in request could not be built: {exc}"
        ) from None


def complete_sign_in(
    app: SignInApp,
    flow: Mapping[str, Any],
    auth_response: Mapping[str, str],
    *,
    keys: SigningKeys | None = None,
) -> VerifiedIdentity:
    """Check the redirect against the flow, redeem the code, validate the id token."""
    if not flow.get("state") or not hmac.compare_digest(
        str(flow.get("state")), str(auth_response.get("state") or "")
    ):
        raise SignInFailed(
            "state_mismatch", "The answer from Microsoft does not match this sign-in."
        )
    if auth_response.get("error"):
        raise _authorize_error(auth_response)
    if not auth_response.get("code"):
        raise SignInFailed("malformed_response", "Microsoft's answer carried no code.")
    redactor = Redactor()
    redactor.register(auth_response.get("code"), str(flow.get("code_verifier") or ""))
    msal_app = _msal_app(app, redactor)
    result = _call(
        app,
        redactor,
        lambda: msal_app.acquire_token_by_auth_code_flow(dict(flow), dict(auth_response)),
    )
    if not isinstance(result, dict):
        raise SignInFailed("unreachable", "Microsoft's token answer was unreadable.")
    if "error" in result or "id_token" not in result:
        raise _token_error(result, redactor)
    return validate_id_token(
        str(result["id_token"]),
        app=app,
        nonce=nonce_claim(str(flow.get("nonce") or "")),
        keys=keys or discovery_keys(app),
    )


def validate_id_token(
    token: str,
    *,
    app: SignInApp,
    nonce: str,
    keys: SigningKeys,
    allowed_tenant_ids: frozenset[str] | None = None,
) -> VerifiedIdentity:
    """The id token's identity, or ``SignInFailed("token_invalid" | "tenant_not_allowed")``.

    The tenant is checked first (from the unverified claims), so a token of a tenant that may not
    sign in never makes us fetch that tenant's keys; then everything else on the verified token.
    """
    try:
        header = jwt.get_unverified_header(token)
        unverified = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        raise _invalid("malformed", "The id token is not a readable JWT.") from None
    if header.get("alg") != "RS256":
        raise _invalid(
            "algorithm", f"The id token is signed with {header.get('alg')!r}, not RS256."
        )
    tenant_id = str(unverified.get("tid") or "").lower()
    if not GUID_RE.match(tenant_id):
        raise _invalid("claims_missing", "The id token names no tenant (tid).")
    allowed = allowed_tenant_ids if allowed_tenant_ids is not None else allowed_ids(app)
    if tenant_id not in allowed:
        raise SignInFailed(
            "tenant_not_allowed",
            "People of this Microsoft Entra tenant may not sign in here.",
            tenant_id=tenant_id,
        )
    key = keys.key_for(tenant_id, str(header.get("kid") or ""))
    claims = _verified_claims(token, key, app, tenant_id)
    if not hmac.compare_digest(str(claims.get("nonce")), nonce):
        raise _invalid("nonce", "The id token belongs to another sign-in (nonce).")
    object_id = str(claims.get("oid") or "").lower()
    if not GUID_RE.match(object_id):
        raise _invalid("claims_missing", "The id token names no user object (oid).")
    return VerifiedIdentity(
        tenant_id=tenant_id,
        object_id=object_id,
        name=str(claims.get("name") or "")[:200],
        username=str(claims.get("preferred_username") or "")[:200],
        email=str(claims.get("email") or "")[:200],
        claims=claims,
    )


# PyJWT's refusals of a signed token, most specific first, as (error, reason, message).
_JWT_REFUSALS: tuple[tuple[type[jwt.PyJWTError], str, str], ...] = (
    (jwt.ExpiredSignatureError, "expired", "The id token has expired."),
    (jwt.ImmatureSignatureError, "not_yet_valid", "The id token is not valid yet."),
    (jwt.InvalidAudienceError, "audience", "The id token was issued for another application."),
    (jwt.InvalidIssuerError, "issuer", "The id token was issued by another authority."),
    (jwt.InvalidSignatureError, "signature", "The id token's signature does not verify."),
)


def _verified_claims(token: str, key: Any, app: SignInApp, tenant_id: str) -> dict[str, Any]:
    """The claims of a token whose signature, audience, issuer and times check out."""
    try:
        return jwt.decode(
            token,
            key,
            algorithms=["RS256"],
            audience=app.client_id,
            issuer=app.issuer_for(tenant_id),
            leeway=LEEWAY_SECONDS,
            options={"require": ["exp", "iat", "iss", "aud", "tid", "oid", "nonce"]},
        )
    except jwt.MissingRequiredClaimError as exc:
        raise _invalid("claims_missing", f"The id token lacks the {exc.claim} claim.") from None
    except jwt.PyJWTError as exc:
        for error, reason, message in _JWT_REFUSALS:
            if isinstance(exc, error):
                raise _invalid(reason, message) from None
        raise _invalid("malformed", "The id token could not be validated.") from None


# -- discovery, keys and the allowed tenants -------------------------------------------------


class DiscoveryKeys:
    """Signing keys from ``{authority}/{tid}/v2.0/.well-known/openid-configuration`` →
    ``jwks_uri``, kept for an hour per (authority host, tenant); an unknown kid refetches once
    (Microsoft rolls its keys over), then fails."""

    _lock = threading.Lock()
    _cache: dict[tuple[str, str], tuple[float, dict[str, Any]]] = {}

    def __init__(self, app: SignInApp) -> None:
        self.app = app

    def key_for(self, tenant_id: str, kid: str) -> Any:
        for fresh in (False, True):
            found = self._keys(tenant_id, fresh=fresh).get(kid)
            if found is not None:
                return found
        raise _invalid("unknown_key", "The id token is signed with a key Microsoft does not list.")

    def _keys(self, tenant_id: str, *, fresh: bool) -> dict[str, Any]:
        cache_key = (self.app.cloud.authority_host, tenant_id)
        with self._lock:
            cached = self._cache.get(cache_key)
        if cached and not fresh and cached[0] > time.monotonic():
            return cached[1]
        document = fetch_json(
            self.app, f"{self.app.cloud.authority(tenant_id)}/v2.0/.well-known/openid-configuration"
        )
        jwks_uri = str(document.get("jwks_uri") or "")
        if not jwks_uri.startswith("https://"):
            raise SignInFailed("unreachable", "Microsoft's discovery document names no key set.")
        keys: dict[str, Any] = {}
        try:
            for jwk in jwt.PyJWKSet.from_dict(fetch_json(self.app, jwks_uri)).keys:
                if jwk.key_id:
                    keys[jwk.key_id] = jwk.key
        except jwt.PyJWTError:
            raise SignInFailed("unreachable", "Microsoft's key set is unreadable.") from None
        with self._lock:
            self._cache[cache_key] = (time.monotonic() + KEYS_CACHE_SECONDS, keys)
        return keys

    @classmethod
    def forget(cls) -> None:
        with cls._lock:
            cls._cache.clear()


def discovery_keys(app: SignInApp) -> DiscoveryKeys:
    return DiscoveryKeys(app)


_tenant_ids: dict[tuple[str, str], str] = {}


def allowed_ids(app: SignInApp) -> frozenset[str]:
    """The allowed tenants as ids: a verified domain is resolved through its discovery document
    (its issuer names the tenant), once per process."""
    ids = set()
    for entry in app.allowed_tenants:
        value = entry.strip().lower()
        if GUID_RE.match(value):
            ids.add(value)
            continue
        cache_key = (app.cloud.authority_host, value)
        if cache_key not in _tenant_ids:
            _tenant_ids[cache_key] = _resolve_domain(app, value)
        ids.add(_tenant_ids[cache_key])
    return frozenset(ids)


def _resolve_domain(app: SignInApp, domain: str) -> str:
    try:
        return tenant_for_domain(app.cloud, domain, timeout=app.timeout)
    except DomainLookupFailed as exc:
        if exc.code == "unknown":
            raise SignInFailed(
                "misconfigured", f"The domain {domain} names no Microsoft Entra tenant."
            ) from None
        raise SignInFailed("unreachable", exc.message, http_status=exc.http_status) from None


def fetch_json(app: SignInApp, url: str) -> dict[str, Any]:
    """GET a JSON document from the identity platform (discovery, keys)."""
    try:
        return dict(fetch_identity_json(app.cloud, url, timeout=app.timeout))
    except DomainLookupFailed as exc:
        if exc.code == "unknown":
            raise SignInFailed("misconfigured", "Microsoft does not know this tenant.") from None
        raise SignInFailed("unreachable", exc.message, http_status=exc.http_status) from None


# -- MSAL --------------------------------------------------------------------------------------


def _msal_app(app: SignInApp, redactor: Redactor) -> msal.ConfidentialClientApplication:
    redactor.register(app.credential.client_secret, app.credential.private_key_pem)
    session = MsalSession(tls_verify(app.cloud), app.timeout, redactor)

    def build() -> msal.ConfidentialClientApplication:
        return msal.ConfidentialClientApplication(
            app.client_id,
            client_credential=app.credential.msal_credential("PS256"),
            authority=app.cloud.authority(app.authority_tenant),
            instance_discovery=False,
            http_client=session,
            token_cache=msal.TokenCache(),  # nothing of the person's is kept
            exclude_scopes=["offline_access"],  # no refresh token: we only sign in
        )

    return _call(app, redactor, build)


def _call(app: SignInApp, redactor: Redactor, action: Any) -> Any:
    try:
        return action()
    except requests.Timeout:
        raise SignInFailed("unreachable", "Microsoft did not answer in time.") from None
    except requests.RequestException as exc:
        raise SignInFailed(
            "unreachable", f"Microsoft could not be reached ({type(exc).__name__})."
        ) from None
    except msal.exceptions.MsalServiceError as exc:
        raise SignInFailed("unreachable", redactor.sanitize(str(exc), limit=200)) from None
    except RuntimeError as exc:  # MSAL's own nonce check
        raise _invalid("nonce", redactor.sanitize(str(exc), limit=200)) from None
    except ValueError as exc:  # discovery refused (unknown tenant) or a state mismatch
        chained = " ".join(str(e) for e in (exc.__context__, exc) if e)
        if "state" in str(exc):
            raise SignInFailed(
                "state_mismatch", "The answer from Microsoft does not match this sign-in."
            ) from None
        codes = [int(code) for code in _AADSTS.findall(chained)]
        raise SignInFailed(
            "misconfigured",
            redactor.sanitize(str(exc), limit=200),
            **({"aadsts": codes[0]} if codes else {}),
        ) from None


def _authorize_error(response: Mapping[str, str]) -> SignInFailed:
    """Microsoft redirected back with ``error`` (the person cancelled, consent missing...)."""
    description = str(response.get("error_description") or "").splitlines()
    first = description[0][:300] if description else ""
    codes = [int(code) for code in _AADSTS.findall(first)]
    details: dict[str, Any] = {"error": str(response.get("error"))[:64]}
    if first:
        details["error_description"] = first
    if codes:
        details["aadsts"] = codes[0]
    return SignInFailed("microsoft_error", first or str(response.get("error")), **details)


def _token_error(result: Mapping[str, Any], redactor: Redactor) -> SignInFailed:
    """The token endpoint refused the code (AADSTS54005 redeemed, 70008 expired, 501481 PKCE)."""
    description = redactor.sanitize(
        str(result.get("error_description") or "").split("\n")[0], limit=300
    ).strip()
    codes = result.get("error_codes") or [int(c) for c in _AADSTS.findall(description)]
    details: dict[str, Any] = {"error": str(result.get("error") or "no id token")[:64]}
    if description:
        details["error_description"] = description
    if codes:
        details["aadsts"] = int(codes[0])
    return SignInFailed("code_rejected", description or details["error"], **details)


def _invalid(reason: str, message: str) -> SignInFailed:
    return SignInFailed("token_invalid", message, reason=reason)
