"""Error bodies in Microsoft's shapes: identity platform (AADSTS) and Graph (OData).

Clients must key on ``error`` / ``error_codes`` and Graph's ``error.code``; the texts are
copied from real payloads so that logs and sanitizers see what production would show.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from dataclasses import dataclass, field
from typing import Any

LEARN_CERTS = "https://learn.microsoft.com/entra/identity-platform/certificate-credentials"


@dataclass
class Reply:
    """A response the HTTP layer writes verbatim."""

    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/json; charset=utf-8"

    @classmethod
    def json(cls, status: int, payload: Any, **headers: str) -> Reply:
        return cls(status, json.dumps(payload, separators=(",", ":")).encode(), dict(headers))


class IdentityError(Exception):
    """An AADSTS failure of the authority endpoints."""

    def __init__(self, status: int, error: str, code: int, message: str) -> None:
        super().__init__(f"AADSTS{code}: {message}")
        self.status = status
        self.error = error
        self.code = code
        self.message = message

    def describe(self) -> tuple[str, str, str, str]:
        """``(error_description, timestamp, trace id, correlation id)`` as Entra writes them."""
        stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%SZ")
        trace_id, correlation_id = str(uuid.uuid4()), str(uuid.uuid4())
        description = (
            f"AADSTS{self.code}: {self.message}\r\nTrace ID: {trace_id}\r\n"
            f"Correlation ID: {correlation_id}\r\nTimestamp: {stamp}"
        )
        return description, stamp, trace_id, correlation_id

    @property
    def error_uri(self) -> str:
        return f"https://login.microsoftonline.com/error?code={self.code}"

    def reply(self) -> Reply:
        description, stamp, trace_id, correlation_id = self.describe()
        payload = {
            "error": self.error,
            "error_description": description,
            "error_codes": [self.code],
            "timestamp": stamp,
            "trace_id": trace_id,
            "correlation_id": correlation_id,
            "error_uri": self.error_uri,
        }
        return Reply.json(
            self.status,
            payload,
            **{
                "Cache-Control": "no-store, no-cache",
                "Pragma": "no-cache",
                "x-ms-request-id": trace_id,
            },
        )


def tenant_not_found(tenant: str, *, at_discovery: bool) -> IdentityError:
    return IdentityError(
        400,
        "invalid_tenant" if at_discovery else "invalid_request",
        90002,
        f"Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are "
        "signing into the correct cloud. Check with your subscription administrator, this may "
        "happen if there are no active subscriptions for the tenant.",
    )


def tenant_id_invalid(tenant: str) -> IdentityError:
    return IdentityError(
        400,
        "invalid_request",
        900023,
        f"Specified tenant identifier '{tenant}' is neither a valid DNS name, nor a valid "
        "external domain.",
    )


def app_not_found(client_id: str, tenant_name: str) -> IdentityError:
    return IdentityError(
        400,
        "unauthorized_client",
        700016,
        f"Application with identifier '{client_id}' was not found in the directory "
        f"'{tenant_name}'. This can happen if the application has not been installed by the "
        "administrator of the tenant or consented to by any user in the tenant. You may have "
        "sent your authentication request to the wrong tenant.",
    )


def invalid_secret(client_id: str) -> IdentityError:
    return IdentityError(
        401,
        "invalid_client",
        7000215,
        "Invalid client secret provided. Ensure the secret being sent in the request is the "
        f"client secret value, not the client secret ID, for a secret added to app '{client_id}'.",
    )


def expired_secret(client_id: str) -> IdentityError:
    return IdentityError(
        401,
        "invalid_client",
        7000222,
        f"The provided client secret keys for app '{client_id}' are expired. Visit the Azure "
        "portal to create new keys for your app: https://aka.ms/NewClientSecret, or consider "
        "using certificate credentials for added security: https://aka.ms/certCreds.",
    )


def certificate_invalid(client_id: str, thumbprint: str, reason: str) -> IdentityError:
    return IdentityError(
        401,
        "invalid_client",
        700027,
        f"Client assertion failed signature validation. [Reason - {reason}, Thumbprint of key "
        f"used by client: '{thumbprint}', Please visit the Azure Portal, Graph Explorer or "
        f"directly use MS Graph to see configured keys for app Id '{client_id}'.]",
    )


def assertion_expired(now: dt.datetime, nbf: dt.datetime | None, exp: dt.datetime) -> IdentityError:
    start = nbf.isoformat() if nbf else "unspecified"
    return IdentityError(
        401,
        "invalid_client",
        700024,
        f"Client assertion is not within its valid time range. Current time: {now.isoformat()}, "
        f"assertion valid from {start}, expiry time of assertion {exp.isoformat()}. "
        f"Review the documentation at {LEARN_CERTS} .",
    )


def assertion_audience_invalid() -> IdentityError:
    return IdentityError(
        401,
        "invalid_client",
        50012,
        f"Client assertion audience claim does not match Realm issuer. Review the documentation "
        f"at {LEARN_CERTS} .",
    )


def assertion_subject_mismatch() -> IdentityError:
    return IdentityError(
        401,
        "invalid_client",
        700021,
        "Client assertion application identifier doesn't match 'client_id' parameter. Review "
        f"the documentation at {LEARN_CERTS} .",
    )


def assertion_malformed() -> IdentityError:
    return IdentityError(400, "invalid_request", 50027, "JWT token is invalid or malformed.")


def credential_missing() -> IdentityError:
    return IdentityError(
        401,
        "invalid_client",
        7000218,
        "The request body must contain the following parameter: 'client_assertion' or "
        "'client_secret'.",
    )


def parameter_missing(name: str) -> IdentityError:
    return IdentityError(
        400,
        "invalid_request",
        900144,
        f"The request body must contain the following parameter: '{name}'.",
    )


def unsupported_grant(grant: str) -> IdentityError:
    return IdentityError(
        400,
        "unsupported_grant_type",
        70003,
        f"The app requested an unsupported grant type '{grant}'.",
    )


def invalid_scope(scope: str) -> IdentityError:
    return IdentityError(
        400,
        "invalid_scope",
        1002012,
        f"The provided value for scope {scope} is not valid. Client credential flows must have a "
        "scope value with /.default suffixed to the resource identifier (application ID URI).",
    )


def resource_not_found(resource: str, tenant_name: str) -> IdentityError:
    return IdentityError(
        400,
        "invalid_resource",
        500011,
        f"The resource principal named {resource} was not found in the tenant named "
        f"{tenant_name}. This can happen if the application has not been installed by the "
        "administrator of the tenant or consented to by any user in the tenant. You might have "
        "sent your authentication request to the wrong tenant.",
    )


def app_disabled(client_id: str, app_name: str) -> IdentityError:
    return IdentityError(
        400, "unauthorized_client", 7000112, f"Application '{client_id}'({app_name}) is disabled."
    )


def blocked_by_policy() -> IdentityError:
    return IdentityError(
        400,
        "invalid_grant",
        53003,
        "Access has been blocked by Conditional Access policies. The access policy does not "
        "allow token issuance.",
    )


# -- browser flows (admin consent, authorization code) and the authorization code grant --------


def redirect_uri_mismatch(redirect_uri: str, client_id: str) -> IdentityError:
    return IdentityError(
        400,
        "invalid_request",
        50011,
        f"The redirect URI '{redirect_uri}' specified in the request does not match the redirect "
        f"URIs configured for the application '{client_id}'. Make sure the redirect URI sent in "
        "the request matches one added to your application in the Azure portal. Navigate to "
        "https://aka.ms/redirectUriMismatchError to learn more about how to fix this.",
    )


def not_multi_tenant(client_id: str, app_name: str) -> IdentityError:
    return IdentityError(
        400,
        "invalid_request",
        50194,
        f"Application '{client_id}'({app_name}) is not configured as a multi-tenant application. "
        "Usage of the /common endpoint is not supported for such applications created after "
        "'10/15/2018'. Use a tenant-specific endpoint or configure the application to be "
        "multi-tenant.",
    )


def consent_declined() -> IdentityError:
    return IdentityError(400, "access_denied", 65004, "User declined to consent to access the app.")


def admin_approval_required() -> IdentityError:
    return IdentityError(400, "access_denied", 90094, "The grant requires admin permission.")


def user_not_in_tenant(upn: str, home_tid: str, tenant_name: str, client_id: str) -> IdentityError:
    return IdentityError(
        400,
        "access_denied",
        50020,
        f"User account '{upn}' from identity provider 'https://sts.windows.net/{home_tid}/' does "
        f"not exist in tenant '{tenant_name}' and cannot access the application '{client_id}' in "
        "that tenant. The account needs to be added as an external user in the tenant first. "
        "Sign out and sign in again with a different Azure Active Directory user account.",
    )


def login_required() -> IdentityError:
    return IdentityError(
        400, "login_required", 50058, "A silent sign-in request was sent but no user is signed in."
    )


def unsupported_response_type(response_type: str) -> IdentityError:
    return IdentityError(
        400,
        "unsupported_response_type",
        70005,
        f"response_type '{response_type}' is not enabled for the application.",
    )


def invalid_request(code: int, message: str) -> IdentityError:
    return IdentityError(400, "invalid_request", code, message)


def code_redeemed() -> IdentityError:
    return IdentityError(
        400,
        "invalid_grant",
        54005,
        "OAuth2 Authorization code was already redeemed, please retry with a new valid code or "
        "use an existing refresh token.",
    )


def code_expired() -> IdentityError:
    return IdentityError(
        400,
        "invalid_grant",
        70008,
        "The provided authorization code or refresh token has expired due to inactivity. Send a "
        "new interactive authorization request for this user and resource.",
    )


def code_invalid() -> IdentityError:
    return IdentityError(
        400, "invalid_grant", 70000, "The provided value for the 'code' parameter is not valid."
    )


def code_for_other_tenant() -> IdentityError:
    return IdentityError(
        400,
        "invalid_grant",
        700005,
        "Provided Authorization Code is intended to use against other tenant, thus rejected.",
    )


def code_verifier_mismatch() -> IdentityError:
    return IdentityError(
        400,
        "invalid_grant",
        501481,
        "The Code_Verifier does not match the code_challenge supplied in the authorization request.",
    )


def reply_address_mismatch(redirect_uri: str, original: str) -> IdentityError:
    return IdentityError(
        400,
        "invalid_grant",
        500112,
        f"The reply address '{redirect_uri}' does not match the reply address '{original}' "
        "provided when requesting Authorization code.",
    )


def graph_error(
    status: int,
    code: str,
    message: str,
    *,
    client_request_id: str | None = None,
    inner: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> Reply:
    """Graph's ``{"error": {code, message, innerError}}`` body with its id headers."""
    request_id = str(uuid.uuid4())
    client_request_id = client_request_id or request_id
    inner_error = {
        **(inner or {}),
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S"),
        "request-id": request_id,
        "client-request-id": client_request_id,
    }
    payload = {"error": {"code": code, "message": message, "innerError": inner_error}}
    all_headers = {
        "request-id": request_id,
        "client-request-id": client_request_id,
        "x-ms-ags-diagnostic": json.dumps(
            {"ServerInfo": {"DataCenter": "Simulator", "Slice": "E", "Ring": "0"}}
        ),
        **(headers or {}),
    }
    return Reply.json(status, payload, **all_headers)


def intune_forbidden_message(scopes: list[str]) -> str:
    """Intune's 403 message: a JSON document serialised into ``error.message``."""
    inner = {
        "_version": 3,
        "Message": (
            "Application is not authorized to perform this operation. Application must have one "
            f"of the following scopes: {', '.join(scopes)} - Operation ID (for customer support): "
            f"00000000-0000-0000-0000-000000000000 - Activity ID: {uuid.uuid4()} - "
            f"Url: https://fef.msub05.manage.microsoft.com/StatelessSimulatorFEService/"
            "deviceManagement?api-version=2024-01-01"
        ),
        "CustomApiErrorPhrase": "",
        "RetryAfter": None,
        "ErrorSourceService": "",
        "HttpHeaders": "{}",
    }
    return json.dumps(inner, indent=2).replace("\n", "\r\n")


class TokenRejected(Exception):
    """A bearer token Graph must refuse; ``message`` is Graph's text for the case."""
