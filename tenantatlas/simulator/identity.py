"""The identity platform half: OIDC discovery, JWKS, the v2.0 token endpoint.

Two grants: client credentials and the authorization code (with PKCE, the code issued by the
sign-in page of ``browser.py``). Clients authenticate with a client secret (form field or HTTP
Basic) or a certificate assertion (RS256 + ``x5t`` or PS256 + ``x5t#S256``, padded or not).
Access and ID tokens are real RS256 JWTs signed by the simulator key (``tokens.py``), so Graph
can verify them the way Microsoft does and clients can decode ``roles`` or validate an ID token
against the JWKS the way they would in production.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
import urllib.parse
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa

from tenantatlas.simulator import errors
from tenantatlas.simulator.assertions import verify_assertion
from tenantatlas.simulator.certs import b64url
from tenantatlas.simulator.codes import AuthorizationCodes
from tenantatlas.simulator.directory import Directory
from tenantatlas.simulator.errors import IdentityError, Reply
from tenantatlas.simulator.scenarios import AppScenario, TenantScenario
from tenantatlas.simulator.tokens import (
    ACCESS_TOKEN_LIFETIME,
    GRAPH_APP_ID,
    GRAPH_RESOURCES,
    TokenSigner,
    issuer,
)

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
GUID_RE = re.compile(
    r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
)
DOMAIN_RE = re.compile(r"^(?=.{4,253}$)([a-zA-Z0-9-]{1,63}\.)+[a-zA-Z]{2,63}$")
#: Authorities that name no tenant: the user's account decides (``common`` also takes personal
#: accounts at Microsoft; the simulator has none).
MULTI_TENANT_SEGMENTS = ("organizations", "common")
OIDC_SCOPES = ("openid", "profile", "email", "offline_access")


@dataclass(frozen=True)
class TokenOutcome:
    """What the request log needs to know about a token request."""

    reply: Reply
    tenant_id: str | None
    client_id: str | None


class Authority:
    """Issues and verifies tokens for the tenants ``resolve`` knows."""

    def __init__(
        self,
        resolve: Callable[[str], TenantScenario | None],
        signing_key: rsa.RSAPrivateKey,
        signing_cert: x509.Certificate,
        directory: Directory,
        codes: AuthorizationCodes,
    ) -> None:
        self._resolve = resolve
        self.directory = directory
        self.codes = codes
        self.tokens = TokenSigner(signing_key, signing_cert)

    # -- tenants -----------------------------------------------------------------------
    def tenant_for(self, segment: str, *, at_discovery: bool) -> TenantScenario:
        """The tenant a path segment names, or the AADSTS error Entra gives for it."""
        if not (GUID_RE.match(segment) or DOMAIN_RE.match(segment)):
            raise errors.tenant_id_invalid(segment)
        tenant = self._resolve(segment)
        if tenant is None:
            raise errors.tenant_not_found(segment, at_discovery=at_discovery)
        return tenant

    # -- discovery ---------------------------------------------------------------------
    def issuer(self, origin: str, tenant_id: str) -> str:
        """The ``iss`` of the tenant's v2.0 ID tokens, as its discovery document names it."""
        return issuer(origin, tenant_id)

    def discovery(self, origin: str, segment: str) -> tuple[Reply, TenantScenario | None]:
        """The tenant's OpenID configuration; for ``organizations``/``common`` Microsoft's
        endpoints keep that segment and ``issuer`` has the literal placeholder ``{tenantid}``."""
        if segment.lower() in MULTI_TENANT_SEGMENTS:
            tenant, tid, issuer_tid = None, segment.lower(), "{tenantid}"
        else:
            tenant = self.tenant_for(segment, at_discovery=True)
            tid = issuer_tid = tenant.tenant_id
        document = {
            "token_endpoint": f"{origin}/{tid}/oauth2/v2.0/token",
            "token_endpoint_auth_methods_supported": [
                "client_secret_post",
                "private_key_jwt",
                "client_secret_basic",
            ],
            "jwks_uri": f"{origin}/{tid}/discovery/v2.0/keys",
            "response_modes_supported": ["query", "fragment", "form_post"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "issuer": self.issuer(origin, issuer_tid),
            "request_uri_parameter_supported": False,
            "userinfo_endpoint": "https://graph.microsoft.com/oidc/userinfo",
            "authorization_endpoint": f"{origin}/{tid}/oauth2/v2.0/authorize",
            "device_authorization_endpoint": f"{origin}/{tid}/oauth2/v2.0/devicecode",
            "http_logout_supported": True,
            "frontchannel_logout_supported": True,
            "end_session_endpoint": f"{origin}/{tid}/oauth2/v2.0/logout",
            "claims_supported": [
                "sub",
                "iss",
                "cloud_instance_name",
                "cloud_instance_host_name",
                "cloud_graph_host_name",
                "msgraph_host",
                "aud",
                "exp",
                "iat",
                "auth_time",
                "acr",
                "nonce",
                "preferred_username",
                "name",
                "tid",
                "ver",
                "at_hash",
                "c_hash",
                "email",
            ],
            "kerberos_endpoint": f"{origin}/{tid}/kerberos",
            "tenant_region_scope": "WW",
            "cloud_instance_name": "microsoftonline.com",
            "cloud_graph_host_name": "graph.windows.net",
            "msgraph_host": "graph.microsoft.com",
            "rbac_url": "https://pas.windows.net",
        }
        return Reply.json(200, document, **{"Cache-Control": "max-age=86400, private"}), tenant

    def instance_discovery(self, origin: str) -> Reply:
        host = urllib.parse.urlsplit(origin).netloc
        document = {
            "tenant_discovery_endpoint": f"{origin}/common/v2.0/.well-known/openid-configuration",
            "api-version": "1.1",
            "metadata": [{"preferred_network": host, "preferred_cache": host, "aliases": [host]}],
        }
        return Reply.json(200, document, **{"Cache-Control": "max-age=86400, private"})

    def keys(self, origin: str, segment: str) -> Reply:
        if segment.lower() in MULTI_TENANT_SEGMENTS:
            issuer_tid = "{tenantid}"
        else:
            issuer_tid = self.tenant_for(segment, at_discovery=True).tenant_id
        jwk = self.tokens.jwk(self.issuer(origin, issuer_tid))
        return Reply.json(200, {"keys": [jwk]})

    # -- token endpoint ----------------------------------------------------------------
    def token(
        self, origins: list[str], segment: str, form: dict[str, str], authorization: str
    ) -> TokenOutcome:
        """Handle one token request; every failure becomes Entra's error body."""
        client_id = form.get("client_id")
        tenant_id: str | None = None
        try:
            if authorization.lower().startswith("basic "):
                basic_id, _, basic_secret = (
                    base64.b64decode(authorization[6:]).decode().partition(":")
                )
                client_id = client_id or urllib.parse.unquote_plus(basic_id)
                form.setdefault("client_secret", urllib.parse.unquote_plus(basic_secret))
            grant = form.get("grant_type", "")
            if grant == "authorization_code" and segment.lower() in MULTI_TENANT_SEGMENTS:
                return self._authorization_code(origins, segment, None, client_id, form)
            tenant = self.tenant_for(segment, at_discovery=False)
            tenant_id = tenant.tenant_id
            if not grant:
                raise errors.parameter_missing("grant_type")
            if grant == "authorization_code":
                return self._authorization_code(origins, segment, tenant, client_id, form)
            if grant != "client_credentials":
                raise errors.unsupported_grant(grant)
            if not client_id:
                raise errors.parameter_missing("client_id")
            principal = self.directory.principal(tenant, client_id)
            if principal is None:
                raise errors.app_not_found(client_id, tenant.display_name)
            app = principal.registration.app
            resource = self._resource_for(form.get("scope", ""), tenant)
            method = self._check_credential(tenant.tenant_id, app, segment, origins, form)
            if principal.disabled:
                raise errors.app_disabled(app.client_id, app.display_name)
            if principal.blocked_by_policy:
                raise errors.blocked_by_policy()
        except IdentityError as exc:
            return TokenOutcome(exc.reply(), tenant_id, client_id)
        token = self.tokens.issue_access_token(tenant, principal, resource, method)
        payload = {
            "token_type": "Bearer",
            "expires_in": ACCESS_TOKEN_LIFETIME,
            "ext_expires_in": ACCESS_TOKEN_LIFETIME,
            "access_token": token,
        }
        return TokenOutcome(
            Reply.json(200, payload, **_no_store_headers()), tenant_id, app.client_id
        )

    def _authorization_code(
        self,
        origins: list[str],
        segment: str,
        tenant: TenantScenario | None,
        client_id: str | None,
        form: dict[str, str],
    ) -> TokenOutcome:
        """Redeem a code from the sign-in page: client authentication with the app's home
        credential, then the code (single use, fresh, same reply URL, PKCE verifier)."""
        tenant_id = tenant.tenant_id if tenant is not None else None
        try:
            if not client_id:
                raise errors.parameter_missing("client_id")
            registration = self.directory.registration(client_id, tenant)
            if registration is None:
                raise errors.app_not_found(client_id, tenant.display_name if tenant else segment)
            app = registration.app
            if not form.get("code"):
                raise errors.parameter_missing("code")
            if not form.get("redirect_uri"):
                raise errors.parameter_missing("redirect_uri")
            method = self._check_credential(
                tenant_id or registration.home.tenant_id, app, segment, origins, form
            )
            grant = self.codes.redeem(
                form["code"],
                client_id=app.client_id,
                redirect_uri=form["redirect_uri"],
                verifier=form.get("code_verifier"),
            )
            if tenant is not None and tenant.tenant_id.lower() != grant.tenant_id.lower():
                raise errors.code_for_other_tenant()
        except IdentityError as exc:
            return TokenOutcome(exc.reply(), tenant_id, client_id)
        origin = origins[0]
        scopes = [s for s in grant.scopes if s in OIDC_SCOPES]
        granted = [*scopes, *(s for s in grant.scopes if s not in OIDC_SCOPES)]
        payload: dict[str, Any] = {
            "token_type": "Bearer",
            "scope": " ".join(s for s in granted if s != "offline_access"),
            "expires_in": ACCESS_TOKEN_LIFETIME,
            "ext_expires_in": ACCESS_TOKEN_LIFETIME,
            "access_token": self.tokens.issue_user_access_token(grant, app, method),
        }
        if "openid" in grant.scopes:
            payload["id_token"] = self.tokens.issue_id_token(origin, grant, app)
        if "offline_access" in grant.scopes:
            # Opaque, as Microsoft's are; the simulator does not redeem refresh tokens.
            payload["refresh_token"] = "1.AAAA" + b64url(uuid.uuid4().bytes * 4)
        if form.get("client_info") == "1":
            info = {"uid": grant.user.object_id, "utid": grant.tenant_id}
            payload["client_info"] = b64url(json.dumps(info).encode())
        reply = Reply.json(200, payload, **_no_store_headers())
        return TokenOutcome(reply, grant.tenant_id, app.client_id)

    def verify_access_token(self, token: str) -> dict[str, Any]:
        """Claims of a valid simulator-issued Graph token, else TokenRejected with Graph's text."""
        return self.tokens.verify_access_token(token)

    def _resource_for(self, scope: str, tenant: TenantScenario) -> str:
        scopes = scope.split()
        if not scopes:
            raise errors.parameter_missing("scope")
        if len(scopes) != 1 or not scopes[0].endswith("/.default"):
            raise errors.invalid_scope(scope)
        resource = scopes[0].removesuffix("/.default").rstrip("/")
        if resource == GRAPH_APP_ID:
            return GRAPH_RESOURCES[0]
        if resource not in GRAPH_RESOURCES:
            raise errors.resource_not_found(resource, tenant.display_name)
        return resource

    def _check_credential(
        self,
        tenant_id: str,
        app: AppScenario,
        segment: str,
        origins: list[str],
        form: dict[str, str],
    ) -> str:
        """Validate the secret or assertion; returns the ``azpacr`` value ("1" or "2")."""
        secret = form.get("client_secret")
        if secret is not None:
            now = dt.datetime.now(dt.UTC)
            matches = [s for s in app.secrets if s.value == secret]
            if not matches:
                raise errors.invalid_secret(app.client_id)
            if all(s.expires_at is not None and s.expires_at <= now for s in matches):
                raise errors.expired_secret(app.client_id)
            return "1"
        assertion = form.get("client_assertion")
        if assertion is None:
            raise errors.credential_missing()
        if form.get("client_assertion_type") != ASSERTION_TYPE:
            raise errors.parameter_missing("client_assertion_type")
        audiences = {
            f"{origin}/{name}/oauth2/v2.0/token".lower()
            for origin in origins
            for name in (segment, tenant_id)
        }
        verify_assertion(assertion, app, audiences)
        return "2"


def _no_store_headers() -> dict[str, str]:
    return {
        "Cache-Control": "no-store, no-cache",
        "Pragma": "no-cache",
        "x-ms-request-id": str(uuid.uuid4()),
    }
