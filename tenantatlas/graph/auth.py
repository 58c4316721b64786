"""App-only tokens from Microsoft Entra via MSAL, with every failure mapped to a reason code.

MSAL Python quirks this module exists to contain (see the reference facts, §1.7):

* the application constructor performs OIDC discovery; an unknown tenant surfaces as a
  ``ValueError`` whose ``__context__`` holds the server's body (with the AADSTS code);
* identity-platform 4xx errors come back as a *dict*, 5xx as ``MsalServiceError``;
* each application instance caches failures (400s for 60 s), so a TokenProvider builds a fresh
  application: a "check again" after the admin fixed something must really ask again;
* the default HTTP session lets ``REQUESTS_CA_BUNDLE`` override ``verify``; we hand MSAL our
  own :class:`~tenantatlas.graph.http.GraphSession` instead, which also applies the timeout
  and registers the client assertion MSAL signs with the job's redactor before it is sent.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import jwt
import msal
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from django.conf import settings

from tenantatlas.graph.clouds import Cloud, tls_verify
from tenantatlas.graph.http import GraphSession
from tenantatlas.graph.tokens import AccessToken
from tenantatlas.lib.aadsts import reason_for_aadsts
from tenantatlas.lib.reasons import ProviderError
from tenantatlas.lib.sanitize import Redactor

CertificateSigning = Literal["PS256", "RS256"]
# PS256 + x5t#S256 (+x5c) is what Microsoft documents today; RS256 + x5t (SHA-1) is the older,
# still accepted form. Both are supported; PS256 is the default.
DEFAULT_CERTIFICATE_SIGNING: CertificateSigning = "PS256"
# Renew a cached token this long before it expires (MSAL itself uses 5 minutes).
EXPIRY_MARGIN = timedelta(minutes=5)
_AADSTS = re.compile(r"AADSTS(\d{4,})")
_HTTP_STATUS = re.compile(r"HTTP Error: (\d{3})")


@dataclass(frozen=True)
class ClientCredential:
    """An app registration's client id and either a client secret or a certificate."""

    client_id: str
    client_secret: str | None = field(default=None, repr=False)
    private_key_pem: str | None = field(default=None, repr=False)
    certificate_pem: str | None = None

    def __post_init__(self) -> None:
        has_certificate = bool(self.private_key_pem or self.certificate_pem)
        if bool(self.client_secret) == has_certificate:
            raise ValueError("give either client_secret or private_key_pem + certificate_pem")
        if has_certificate and not (self.private_key_pem and self.certificate_pem):
            raise ValueError("a certificate credential needs both private key and certificate")

    @property
    def kind(self) -> str:
        return "client_secret" if self.client_secret else "certificate"

    def certificate(self) -> x509.Certificate:
        """The parsed certificate (``auth.certificate_invalid`` when unreadable)."""
        try:
            return x509.load_pem_x509_certificate((self.certificate_pem or "").encode())
        except ValueError:
            raise ProviderError(
                "auth.certificate_invalid", "The stored certificate is not a readable PEM."
            ) from None

    @property
    def thumbprint(self) -> str:
        """SHA-1 thumbprint (hex, upper case): what Entra shows and RS256's ``x5t`` encodes."""
        return self.certificate().fingerprint(hashes.SHA1()).hex().upper()  # noqa: S303

    def msal_credential(self, signing: CertificateSigning) -> str | dict[str, str]:
        """The ``client_credential`` argument MSAL expects for this credential."""
        if self.client_secret:
            return self.client_secret
        try:
            serialization.load_pem_private_key((self.private_key_pem or "").encode(), None)
        except (ValueError, TypeError):
            raise ProviderError(
                "auth.certificate_invalid",
                "The stored private key is not a readable, unencrypted PEM key.",
            ) from None
        key = self.private_key_pem or ""
        if signing == "RS256":
            return {"private_key": key, "thumbprint": self.thumbprint}
        self.certificate()  # fail early, with our message, on an unreadable certificate
        return {"private_key": key, "public_certificate": self.certificate_pem or ""}


def decode_roles(token: str) -> list[str] | None:
    """The ``roles`` claim of an access token, read without verification (clients may not
    validate Graph tokens; we only need to know what was granted). None when absent."""
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        return None
    roles = claims.get("roles")
    if not isinstance(roles, list):
        return None
    return [str(role) for role in roles]


class MsalSession(GraphSession):
    """GraphSession for MSAL: default timeout, and secrets in form bodies get registered."""

    def __init__(self, verify: str | bool, timeout: float, redactor: Redactor) -> None:
        super().__init__(verify)
        self._timeout = timeout
        self._redactor = redactor

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> Any:
        data = kwargs.get("data")
        if isinstance(data, Mapping):
            self._redactor.register(data.get("client_assertion"), data.get("client_secret"))
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self._timeout
        return super().request(method, url, *args, **kwargs)


class TokenProvider:
    """Acquires app-only Graph tokens for one (cloud, tenant, credential), cached in memory."""

    def __init__(
        self,
        cloud: Cloud,
        tenant_id: str,
        credential: ClientCredential,
        *,
        redactor: Redactor,
        timeout: float | None = None,
        certificate_signing: CertificateSigning = DEFAULT_CERTIFICATE_SIGNING,
        session: MsalSession | None = None,
    ) -> None:
        self.cloud = cloud
        self.tenant_id = tenant_id
        self.credential = credential
        self.redactor = redactor
        self.timeout = settings.GRAPH_TIMEOUT if timeout is None else timeout
        self.certificate_signing = certificate_signing
        self._session = session
        self._app: msal.ConfidentialClientApplication | None = None
        self._token: AccessToken | None = None
        redactor.register(credential.client_secret, credential.private_key_pem)

    def get_token(self, force_refresh: bool = False) -> AccessToken:
        """A valid token (cached until 5 minutes before expiry), or a ProviderError."""
        now = datetime.now(UTC)
        if not force_refresh and self._token and self._token.expires_at - EXPIRY_MARGIN > now:
            return self._token
        app = self._application()
        if force_refresh:
            app.remove_tokens_for_client()
        result = self._call(lambda: app.acquire_token_for_client(scopes=[self.cloud.scope]))
        if not isinstance(result, dict):
            raise ProviderError("graph.invalid_response", "The token response was unreadable.")
        if "access_token" not in result:
            raise self._identity_error(result)
        value = str(result["access_token"])
        self.redactor.register(value)
        expires_in = _as_seconds(result.get("expires_in"))
        self._token = AccessToken(value, now + timedelta(seconds=expires_in), decode_roles(value))
        return self._token

    # -- internals --------------------------------------------------------------------------

    def _application(self) -> msal.ConfidentialClientApplication:
        if self._app is None:
            client_credential = self.credential.msal_credential(self.certificate_signing)
            session = self._session or MsalSession(
                tls_verify(self.cloud), self.timeout, self.redactor
            )
            self._app = self._call(
                lambda: msal.ConfidentialClientApplication(
                    self.credential.client_id,
                    client_credential=client_credential,
                    authority=self.cloud.authority(self.tenant_id),
                    instance_discovery=False,
                    http_client=session,
                    token_cache=msal.TokenCache(),
                ),
                constructing=True,
            )
        return self._app

    def _call(self, action: Any, *, constructing: bool = False) -> Any:
        """Run an MSAL call, turning its exceptions into ProviderErrors."""
        try:
            return action()
        except ProviderError:
            raise
        except requests.Timeout:
            raise ProviderError(
                "graph.timeout", "Microsoft Entra did not answer in time."
            ) from None
        except requests.RequestException as exc:
            raise ProviderError(
                "graph.network_error",
                f"Microsoft Entra could not be reached ({type(exc).__name__}).",
                details={"authority_host": self.cloud.authority_host},
            ) from None
        except msal.exceptions.MsalServiceError as exc:
            raise self._service_error(exc) from None
        except ValueError as exc:
            raise self._value_error(exc, constructing) from None

    def _service_error(self, exc: Exception) -> ProviderError:
        match = _HTTP_STATUS.search(str(exc))
        status = int(match.group(1)) if match else None
        details: dict[str, Any] = {"http_status": status} if status else {}
        if status and status >= 500:
            return ProviderError(
                "graph.unavailable",
                "Microsoft Entra answered with a server error.",
                details=details,
            )
        return ProviderError(
            "auth.failed", self.redactor.sanitize(str(exc), limit=200), details=details
        )

    def _value_error(self, exc: ValueError, constructing: bool) -> ProviderError:
        # MSAL hides the discovery response on the exception's context (facts §1.7).
        chained = " ".join(str(e) for e in (exc.__context__, exc.__cause__, exc) if e)
        codes = [int(code) for code in _AADSTS.findall(chained)]
        codes += [int(code) for code in re.findall(r'"error_codes":\s*\[(\d+)', chained)]
        for code in codes:
            reason = reason_for_aadsts(code)
            if reason != "auth.failed":
                return ProviderError(reason, details={"aadsts": code})
        if constructing and "invalid_tenant" in chained:
            return ProviderError("auth.tenant_not_found")
        if not constructing and "Expecting value" in str(exc):
            return ProviderError("graph.invalid_response", "The token response was not JSON.")
        return ProviderError(
            "auth.failed",
            self.redactor.sanitize(str(exc), limit=200),
            details={"aadsts": codes[0]} if codes else {},
        )

    def _identity_error(self, result: dict[str, Any]) -> ProviderError:
        codes = result.get("error_codes") or []
        description = str(result.get("error_description") or "")
        if not codes:
            codes = [int(code) for code in _AADSTS.findall(description)]
        code = int(codes[0]) if codes else None
        error = str(result.get("error") or "")
        reason = reason_for_aadsts(code) if code else "auth.failed"
        if reason == "auth.failed" and error == "temporarily_unavailable":
            reason = "graph.unavailable"
        details: dict[str, Any] = {"error": error[:64]}
        if code:
            details["aadsts"] = code
        for key in ("trace_id", "correlation_id"):
            if result.get(key):
                details[key] = str(result[key])[:64]
        if description:
            details["error_description"] = self.redactor.sanitize(
                description.splitlines()[0], limit=300
            )
        return ProviderError(reason, details=details)


def _as_seconds(value: object) -> int:
    try:
        return max(int(str(value)), 0)
    except ValueError:
        return 0
