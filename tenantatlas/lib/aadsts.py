"""AADSTS error codes → reason codes.

Microsoft asks clients to branch on ``error_codes``, never on ``error_description`` text; the
codes below are the ones the reference facts (§1.5) document for client credentials. Anything
else is ``auth.failed`` with the code kept in the details for the administrator to look up.
"""

from __future__ import annotations

AADSTS_REASONS: dict[int, str] = {
    7000215: "auth.invalid_client_secret",
    7000222: "auth.client_secret_expired",
    700027: "auth.certificate_invalid",
    50012: "auth.certificate_invalid",
    700024: "auth.certificate_invalid",
    700016: "auth.app_not_found",
    7000112: "auth.app_disabled",
    90002: "auth.tenant_not_found",
    900023: "auth.tenant_id_invalid",
    53003: "auth.blocked_by_policy",
    530035: "auth.blocked_by_policy",
    530032: "auth.blocked_by_policy",
    # Identity-platform throttling and transient service errors: retryable.
    90055: "graph.throttled",
    50196: "graph.throttled",
    90006: "graph.unavailable",
    90033: "graph.unavailable",
    90090: "graph.unavailable",
    50033: "graph.unavailable",
    90024: "graph.unavailable",
}


def reason_for_aadsts(code: int | None) -> str:
    """The reason code for an AADSTS number (``auth.failed`` when unmapped)."""
    return AADSTS_REASONS.get(code or 0, "auth.failed")
