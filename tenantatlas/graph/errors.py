"""Turn Graph error responses into reason codes.

Graph errors are ``{"error": {"code", "message", "innerError": {...}}}``; Microsoft asks clients
to branch on status and ``code``, not on message text. Two exceptions are deliberate because
Intune offers nothing better: the missing permissions are only listed inside the message of an
Intune 403 (itself a JSON string), and an unlicensed tenant is only recognisable by its message
("Request not applicable to target tenant") or the ``AppLifecycle_2210`` code.
"""

from __future__ import annotations

import json
import re
from typing import Any

import requests

from tenantatlas.graph.contracts import Contract
from tenantatlas.lib.reasons import ProviderError
from tenantatlas.lib.sanitize import Redactor

_SCOPES = re.compile(
    r"Application must have one of the following scopes:\s*(.+?)\s*(?:-\s*Operation ID|$|\")",
    re.IGNORECASE | re.DOTALL,
)
_LICENSE_MARKERS = ("request not applicable to target tenant", "applifecycle_2210")


def graph_error(response: requests.Response) -> dict[str, Any]:
    """The ``error`` object of a Graph error body ({} when the body is not Graph-shaped)."""
    try:
        body = json.loads(response.content or b"null")
    except ValueError:
        return {}
    error = body.get("error") if isinstance(body, dict) else None
    return error if isinstance(error, dict) else {}


def required_scopes(message: str) -> list[str]:
    """The permissions an Intune 403 message says the app needs (may be nested JSON)."""
    texts = [message]
    try:
        nested = json.loads(message)
    except ValueError:
        nested = None
    if isinstance(nested, dict):
        texts.insert(0, str(nested.get("Message") or nested.get("message") or ""))
    for text in texts:
        match = _SCOPES.search(text)
        if match:
            scopes = [scope.strip() for scope in match.group(1).split(",")]
            return [scope for scope in scopes if re.fullmatch(r"[A-Za-z0-9.]+", scope)]
    return []


def response_details(response: requests.Response, contract: Contract) -> dict[str, Any]:
    """Non-secret facts worth keeping about a failed response."""
    inner = graph_error(response).get("innerError") or {}
    details: dict[str, Any] = {"contract": contract.key, "http_status": response.status_code}
    request_id = response.headers.get("request-id") or inner.get("request-id")
    if request_id:
        details["graph_request_id"] = str(request_id)
    client_request_id = response.headers.get("client-request-id") or inner.get("client-request-id")
    if client_request_id:
        details["client_request_id"] = str(client_request_id)
    return details


def error_for_response(
    response: requests.Response, contract: Contract, redactor: Redactor
) -> ProviderError:
    """The ProviderError a non-success, non-retryable Graph response means."""
    status = response.status_code
    error = graph_error(response)
    code = str(error.get("code") or "")
    message = str(error.get("message") or "")
    details = response_details(response, contract)
    if code:
        details["graph_error_code"] = redactor.sanitize(code, limit=100)
    if message:
        details["graph_message"] = redactor.sanitize(message, limit=300)
    haystack = f"{code} {message} {json.dumps(error.get('innerError') or {})}".lower()

    if status in (400, 403) and any(marker in haystack for marker in _LICENSE_MARKERS):
        return ProviderError("graph.license_missing", details=details)
    if status == 403 and "insufficient_claims" in haystack:
        # A Conditional Access claims challenge: a tenant policy, not a missing permission.
        return ProviderError("auth.blocked_by_policy", details=details)
    if status == 401 and code == "UnknownError" and "forbidden" in haystack:
        # Intune reports some RBAC denials as 401 UnknownError wrapping "Forbidden" (facts §2.1).
        status = 403
        details["http_status_reported"] = 401
    elif status == 401:
        return ProviderError("graph.unauthorized", details=details)
    if status == 403:
        scopes = required_scopes(message)
        details["required_permissions"] = scopes or list(contract.permissions)
        details["permissions_source"] = "graph" if scopes else "registry"
        return ProviderError(
            "graph.permission_denied",
            f"Access denied for {contract.key}: the app needs one of "
            f"{', '.join(details['required_permissions'])}.",
            details=details,
        )
    if status == 404:
        return ProviderError("graph.not_found", details=details)
    if status == 429:
        return ProviderError("graph.throttled", details=details)
    if status >= 500:
        return ProviderError("graph.unavailable", details=details)
    return ProviderError(
        "internal.error",
        redactor.sanitize(f"Graph refused {contract.key} with HTTP {status} {code}".strip()),
        details=details,
    )
