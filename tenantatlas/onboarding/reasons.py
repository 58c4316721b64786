"""Every outcome of a consent link that is not a new connection: a stable code, what happened and
what to do about it (docs/onboarding.md lists them).

The entries are of the run catalog's type (lib/reasons.py) but a catalog of their own: they
describe a browser flow, not a provider run, so no run, badge or health ever carries them.
"""

from __future__ import annotations

import re

from tenantatlas.lib.reasons import Reason


def _r(code: str, title: str, message: str, remediation: str) -> Reason:
    return Reason(code, title, message, remediation, retryable=False)


_ENTRA_ENTERPRISE = "Entra admin center → Identity → Applications → Enterprise applications"

_CATALOG: tuple[Reason, ...] = (
    _r(
        "consent.declined",
        "Consent declined",
        "The customer's administrator declined the permissions (AADSTS65004).",
        "Talk to the customer's administrator, then renew the link and send it again.",
    ),
    _r(
        "consent.admin_approval_required",
        "An administrator must approve",
        "The person who opened the link may not grant tenant-wide consent (AADSTS90094): "
        "the request waits for an administrator's approval.",
        "Send the link to a Global Administrator or Privileged Role Administrator of the "
        "customer's tenant (or approve the pending request in " + _ENTRA_ENTERPRISE + " → "
        "Admin consent requests), then renew the link.",
    ),
    _r(
        "consent.wrong_tenant",
        "Consent given in another tenant",
        "Consent was given for a different Entra tenant than this onboarding names, or the "
        "administrator's account belongs to another tenant (AADSTS50020).",
        "Check the tenant id or domain of the onboarding; the administrator must sign in to "
        "the customer's tenant. Renew the link, or start a new onboarding for that tenant.",
    ),
    _r(
        "consent.tenant_already_connected",
        "Tenant already connected",
        "This Entra tenant is already connected in the workspace.",
        "Nothing to do for the consent itself; use the existing connection (its check shows "
        "the permissions the tenant granted).",
    ),
    _r(
        "consent.failed",
        "Consent failed",
        "Microsoft did not complete the consent.",
        "Read the error Microsoft gave (shown with the onboarding), fix it in the customer's "
        "tenant or the partner app's registration, then renew the link.",
    ),
    _r(
        "consent.invalid_response",
        "Incomplete answer from Microsoft",
        "The answer from Microsoft named no tenant or did not confirm admin consent.",
        "Renew the link and have the administrator open it again.",
    ),
    _r(
        "consent.link_invalid",
        "Link not valid",
        "This consent link is not known: it was replaced by a renewed link, or it is not a link "
        "this TenantAtlas issued.",
        "Ask your service provider for a current link.",
    ),
    _r(
        "consent.link_used",
        "Link already used",
        "This consent link has already been used once; each link works a single time.",
        "Nothing to do if the onboarding completed; otherwise ask for a renewed link.",
    ),
    _r(
        "consent.link_expired",
        "Link expired",
        "This consent link has expired.",
        "Renew the link on the Onboarding page and send the new one.",
    ),
    _r(
        "consent.link_cancelled",
        "Onboarding cancelled",
        "This onboarding was cancelled, so its link no longer works.",
        "Start a new onboarding for the customer if it is still wanted.",
    ),
)

REASONS: dict[str, Reason] = {reason.code: reason for reason in _CATALOG}
# A link that could not be used: the callback changed nothing but perhaps the link's expiry.
DEAD_LINK_REASONS = frozenset(
    {"consent.link_invalid", "consent.link_used", "consent.link_expired", "consent.link_cancelled"}
)

# AADSTS codes of the admin-consent error redirect (microsoft-graph-facts §8.3).
_AADSTS_REASON = {
    "65004": "consent.declined",
    "90094": "consent.admin_approval_required",
    "50020": "consent.wrong_tenant",  # the admin's account is of another tenant than the link's
}
_AADSTS = re.compile(r"AADSTS(\d+)")


def reason_of_error(error: str, description: str) -> tuple[str, str]:
    """(reason code, AADSTS code or "") for an ``error`` / ``error_description`` pair."""
    match = _AADSTS.search(description or "")
    aadsts = match.group(1) if match else ""
    if aadsts in _AADSTS_REASON:
        return _AADSTS_REASON[aadsts], aadsts
    if not aadsts and error == "access_denied":
        return "consent.declined", ""
    return "consent.failed", aadsts
