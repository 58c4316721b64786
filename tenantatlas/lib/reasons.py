"""The reason-code catalog: every failure a provider run can end with, in one place.

A reason code is the stable, machine-readable half of a failure (badges, filters, the API and
the docs key on it); the message is the sanitized human half. ``docs/reason-codes.md`` is
generated from this module (``manage.py reason_codes_doc``), so the two never drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class Reason:
    """One catalog entry: what went wrong and what an administrator should do about it.

    ``retryable``: running the operation again later can succeed without anyone changing
    anything. ``fatal_for_sync``: nothing else can work either, so an inventory sync stops at
    once instead of recording the failure for one kind and reading the next. ``affects_health``:
    the failure is a property of the connection, so a run that ends with it marks the connection
    unhealthy (whichever operation it was).
    """

    code: str
    title: str
    message: str
    remediation: str
    retryable: bool
    fatal_for_sync: bool = False
    affects_health: bool = False


def _r(
    code: str,
    title: str,
    message: str,
    remediation: str,
    *,
    retryable: bool,
    fatal_for_sync: bool = False,
    affects_health: bool = False,
) -> Reason:
    return Reason(code, title, message, remediation, retryable, fatal_for_sync, affects_health)


_ENTRA_APP = "Entra admin center → Identity → Applications → App registrations → your app"
_ENTRA_ENTERPRISE = "Entra admin center → Identity → Applications → Enterprise applications"

_CATALOG: tuple[Reason, ...] = (
    _r(
        "credential.missing",
        "No credential stored",
        "The connection has no current credential.",
        "Edit the connection and enter a client secret or upload a certificate.",
        retryable=False,
        fatal_for_sync=True,
        affects_health=True,
    ),
    _r(
        "credential.expiring",
        "Credential expires soon",
        "The client secret or certificate expires within the warning window.",
        "Create a new secret or certificate in the app registration (Certificates & secrets), "
        "then use Rotate credential on the connection before the old one expires.",
        retryable=False,
        fatal_for_sync=True,
        affects_health=True,
    ),
    _r(
        "credential.decrypt_failed",
        "Credential cannot be decrypted",
        "The stored credential cannot be read with the configured encryption keys.",
        "Restore the encryption key that was used when the credential was saved "
        "(TENANTATLAS_ENCRYPTION_KEYS), or rotate the credential to store it again.",
        retryable=False,
        fatal_for_sync=True,
        affects_health=True,
    ),
    _r(
        "rotation.superseded",
        "Credential replaced before it was verified",
        "A newer credential was entered while this one waited for its verifying check; "
        "this one was never used.",
        "Nothing to do: the newer credential is being verified instead.",
        retryable=False,
    ),
    _r(
        "rotation.withdrawn",
        "New credential discarded",
        "The new credential was discarded before its check verified it; it was never used.",
        "Nothing to do: the credential in use stays in use. Rotate again to try another one.",
        retryable=False,
    ),
    _r(
        "rotation.check_failed",
        "New credential not verified",
        "The connection check with the new credential did not pass, so the credential in use "
        "stays in use.",
        "Open the verifying check to see why, correct the secret or certificate (or the app "
        "registration), then rotate again.",
        retryable=False,
    ),
    _r(
        "auth.invalid_client_secret",
        "Client secret rejected",
        "Microsoft Entra rejected the client secret (AADSTS7000215).",
        f"In the {_ENTRA_APP} → Certificates & secrets, create a new client secret and paste "
        "its Value (not the Secret ID) into the connection.",
        retryable=False,
        fatal_for_sync=True,
        affects_health=True,
    ),
    _r(
        "auth.client_secret_expired",
        "Client secret expired",
        "The client secret has expired (AADSTS7000222).",
        f"In the {_ENTRA_APP} → Certificates & secrets, create a new client secret and rotate "
        "the connection's credential.",
        retryable=False,
        fatal_for_sync=True,
        affects_health=True,
    ),
    _r(
        "auth.certificate_invalid",
        "Certificate rejected",
        "Microsoft Entra rejected the certificate assertion (AADSTS700027/50012/700024).",
        f"In the {_ENTRA_APP} → Certificates & secrets → Certificates, upload the public "
        "certificate matching the private key stored in TenantAtlas (compare thumbprints). "
        "After a rotation allow a few minutes for the change to propagate, and check the "
        "server clock.",
        retryable=False,
        fatal_for_sync=True,
        affects_health=True,
    ),
    _r(
        "auth.app_not_found",
        "Application not found in tenant",
        "The application is not known in this Entra tenant (AADSTS700016).",
        "Check the client id and tenant id. For a multi-tenant app, a Global Administrator "
        "of the customer tenant must grant admin consent so the app gets a service principal "
        f"there ({_ENTRA_ENTERPRISE}).",
        retryable=False,
        fatal_for_sync=True,
        affects_health=True,
    ),
    _r(
        "auth.app_disabled",
        "Application disabled",
        "The application's service principal is disabled in this tenant (AADSTS7000112).",
        f"In the {_ENTRA_ENTERPRISE} → your app → Properties, set 'Enabled for users to "
        "sign-in?' to Yes (accountEnabled=true).",
        retryable=False,
        fatal_for_sync=True,
        affects_health=True,
    ),
    _r(
        "auth.tenant_not_found",
        "Tenant not found",
        "Microsoft Entra does not know this tenant (AADSTS90002).",
        "Check the Entra tenant id (Entra admin center → Overview → Tenant ID) and that the "
        "connection uses the right cloud (global, US Government or China).",
        retryable=False,
        fatal_for_sync=True,
        affects_health=True,
    ),
    _r(
        "auth.tenant_id_invalid",
        "Tenant id invalid",
        "The tenant identifier is neither a valid tenant id nor a domain (AADSTS900023).",
        "Enter the tenant id as a GUID, copied from Entra admin center → Overview → Tenant ID.",
        retryable=False,
        fatal_for_sync=True,
        affects_health=True,
    ),
    _r(
        "auth.blocked_by_policy",
        "Blocked by tenant policy",
        "Sign-in of the application was blocked by a tenant policy (AADSTS53003/530035/530032).",
        "In Entra admin center → Protection → Conditional Access, review policies that target "
        "workload identities, and check security defaults and named locations for the "
        "TenantAtlas server's outbound IP address.",
        retryable=False,
        fatal_for_sync=True,
        affects_health=True,
    ),
    _r(
        "auth.consent_missing",
        "Admin consent missing",
        "A token was issued but it carries no application permissions.",
        f"In the {_ENTRA_APP} → API permissions, add the Microsoft Graph application "
        "permissions TenantAtlas lists as required, then select 'Grant admin consent'.",
        retryable=False,
        fatal_for_sync=True,
        affects_health=True,
    ),
    _r(
        "auth.failed",
        "Authentication failed",
        "Microsoft Entra refused to issue a token.",
        "Check the tenant id, client id and credential of the connection; the details show "
        "the AADSTS code Microsoft returned (look it up at login.microsoftonline.com/error).",
        retryable=False,
        fatal_for_sync=True,
        affects_health=True,
    ),
    _r(
        "graph.unauthorized",
        "Token not accepted by Graph",
        "Microsoft Graph rejected the access token even after it was renewed.",
        "Check that the connection uses the right cloud and that the application is allowed "
        "to call Microsoft Graph; then run the connection check again.",
        retryable=True,
        fatal_for_sync=True,
        affects_health=True,
    ),
    _r(
        "graph.permission_denied",
        "Permission missing",
        "Microsoft Graph denied access: an application permission is missing.",
        f"In the {_ENTRA_APP} → API permissions, add the Microsoft Graph application "
        "permissions listed in the details and select 'Grant admin consent'. For Intune data "
        "also check Intune RBAC scope tags.",
        retryable=False,
    ),
    _r(
        "graph.license_missing",
        "Intune not licensed",
        "The tenant has no active Microsoft Intune license.",
        "Assign an Intune (or Microsoft 365 E3/E5/Business Premium) license in Microsoft 365 "
        "admin center → Billing → Licenses, and set the MDM authority to Intune.",
        retryable=False,
    ),
    _r(
        "graph.not_found",
        "Resource not found",
        "Microsoft Graph did not find the requested resource.",
        "The object may have been deleted in the tenant; run an inventory sync to refresh.",
        retryable=False,
    ),
    _r(
        "graph.throttled",
        "Throttled by Microsoft Graph",
        "Microsoft Graph kept throttling the requests; retries were exhausted.",
        "Wait a few minutes and run the operation again. Other tools using the same app "
        "registration share its Graph limits.",
        retryable=True,
    ),
    _r(
        "graph.unavailable",
        "Microsoft service unavailable",
        "Microsoft Graph or Entra kept answering with server errors; retries were exhausted.",
        "Check the Microsoft 365 Service health dashboard and try again later.",
        retryable=True,
    ),
    _r(
        "graph.timeout",
        "Request timed out",
        "Microsoft did not answer in time.",
        "Try again later; if it persists, check the server's outbound connectivity and "
        "TENANTATLAS_GRAPH_TIMEOUT.",
        retryable=True,
    ),
    _r(
        "graph.network_error",
        "Network error",
        "TenantAtlas could not reach Microsoft (connection or TLS failure).",
        "Check DNS, firewall and proxy settings for the Entra and Graph hosts of the "
        "connection's cloud, and TENANTATLAS_CA_BUNDLE if a TLS-inspecting proxy is used.",
        retryable=True,
    ),
    _r(
        "graph.invalid_response",
        "Unreadable response",
        "Microsoft returned a response TenantAtlas could not read.",
        "Usually transient; try again. If a proxy sits between TenantAtlas and Microsoft, "
        "check that it does not rewrite responses.",
        retryable=True,
    ),
    _r(
        "provider.tenant_mismatch",
        "Tenant mismatch",
        "Microsoft Graph answered for a different tenant than the connection names.",
        "Check the Entra tenant id of the connection against Entra admin center → Overview.",
        retryable=False,
        fatal_for_sync=True,
        affects_health=True,
    ),
    _r(
        "provider.connection_disabled",
        "Connection disabled",
        "The connection is disabled; operations cannot start on it.",
        "Enable the connection on the Provider Connections page, then start the operation.",
        retryable=False,
        fatal_for_sync=True,
    ),
    _r(
        "operation.unsupported",
        "Operation not supported",
        "This provider does not support the requested operation.",
        "No action needed; the operation is not available for this provider yet.",
        retryable=False,
    ),
    _r(
        "run.worker_lost",
        "Worker lost",
        "The worker running this operation stopped responding.",
        "Start the operation again; if it recurs, check the worker processes and their logs.",
        retryable=True,
    ),
    _r(
        "run.timed_out",
        "Timed out",
        "The operation exceeded its time limit.",
        "Start the operation again; for very large tenants raise the operation timeout.",
        retryable=True,
    ),
    _r(
        "run.cancelled",
        "Cancelled",
        "The operation was cancelled.",
        "No action needed; start the operation again when it is wanted.",
        retryable=False,
    ),
    _r(
        "queue.unavailable",
        "Queue unavailable",
        "The task queue could not be reached, so the operation was not started.",
        "Try again in a moment. If it persists, check that the web processes reach the queue "
        "(Redis at REDIS_URL with the rq transport, otherwise the database).",
        retryable=True,
    ),
    _r(
        "internal.error",
        "Internal error",
        "An unexpected error occurred.",
        "Try again; if it persists, report it with the run id (server logs hold the details).",
        retryable=True,
    ),
)

REASONS: dict[str, Reason] = {reason.code: reason for reason in _CATALOG}
assert len(REASONS) == len(_CATALOG), "duplicate reason code in the catalog"

INTERNAL_ERROR = "internal.error"


def get_reason(code: str | None) -> Reason:
    """The catalog entry for ``code``; unknown codes fall back to ``internal.error``."""
    return REASONS.get(code or "", REASONS[INTERNAL_ERROR])


class ProviderError(Exception):
    """An expected failure talking to a provider, carrying a stable reason code.

    ``message`` must already be sanitized and short; ``details`` holds only non-secret facts
    (``http_status``, ``aadsts``, ``graph_request_id``, ``missing_permissions`` ...).
    """

    def __init__(
        self,
        reason_code: str,
        message: str | None = None,
        *,
        details: dict[str, Any] | None = None,
        retry_at: datetime | None = None,
    ) -> None:
        self.reason_code = reason_code if reason_code in REASONS else INTERNAL_ERROR
        self.message = message or get_reason(self.reason_code).message
        self.details: dict[str, Any] = dict(details or {})
        self.retry_at = retry_at
        super().__init__(f"{self.reason_code}: {self.message}")

    @property
    def reason(self) -> Reason:
        return get_reason(self.reason_code)


class RetryLater(ProviderError):
    """Microsoft asked us to wait longer than a worker may block: reschedule at ``retry_at``."""

    def __init__(
        self,
        reason_code: str,
        message: str | None = None,
        *,
        retry_at: datetime,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(reason_code, message, details=details, retry_at=retry_at)


__all__ = [
    "REASONS",
    "ProviderError",
    "Reason",
    "RetryLater",
    "get_reason",
]
