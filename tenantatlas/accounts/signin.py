"""Sign in with Microsoft, the account side: configuration, the pending flows, the messages.

The Microsoft-facing half (MSAL, discovery, keys, id-token validation) is
:mod:`tenantatlas.graph.signin`. Here: the :class:`SignInApp` built from the settings, the flows
a browser has started (kept in its session, bound to its state, expiring), and what a person is
told for each way a sign-in can fail.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.http import HttpRequest

from tenantatlas.graph.auth import ClientCredential
from tenantatlas.graph.clouds import get_cloud
from tenantatlas.graph.signin import SignInApp

SESSION_KEY = "microsoft_sign_in_flows"
# A browser rarely has more than one sign-in open (two tabs); older ones are dropped.
MAX_PENDING_FLOWS = 3
SIGN_IN = "sign_in"
LINK = "link"


def microsoft_enabled() -> bool:
    return bool(settings.MICROSOFT_SIGN_IN)


def password_enabled() -> bool:
    return bool(settings.PASSWORD_SIGN_IN)


def sign_in_app() -> SignInApp:
    """The app registration from the settings (call only when Microsoft sign-in is enabled)."""
    if settings.MICROSOFT_SIGN_IN_CLIENT_SECRET:
        credential = ClientCredential(
            settings.MICROSOFT_SIGN_IN_CLIENT_ID,
            client_secret=settings.MICROSOFT_SIGN_IN_CLIENT_SECRET,
        )
    else:
        credential = ClientCredential(
            settings.MICROSOFT_SIGN_IN_CLIENT_ID,
            private_key_pem=settings.MICROSOFT_SIGN_IN_PRIVATE_KEY,
            certificate_pem=settings.MICROSOFT_SIGN_IN_CERTIFICATE,
        )
    return SignInApp(
        cloud=get_cloud(settings.MICROSOFT_SIGN_IN_CLOUD),
        credential=credential,
        allowed_tenants=tuple(settings.MICROSOFT_SIGN_IN_TENANTS),
        timeout=min(float(settings.GRAPH_TIMEOUT), 15.0),
    )


@dataclass(frozen=True)
class PendingFlow:
    """A sign-in this browser started: MSAL's flow, what it is for, where it goes next."""

    flow: dict[str, Any]
    purpose: str  # SIGN_IN or LINK
    user_id: int | None  # LINK: who asked to link
    next_url: str
    started_at: float


class FlowProblem(Exception):
    """The callback matches no usable flow: ``code`` is no_flow, state_mismatch or flow_expired."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def remember_flow(
    request: HttpRequest, flow: dict[str, Any], *, purpose: str, next_url: str = ""
) -> None:
    flows: dict[str, Any] = dict(request.session.get(SESSION_KEY) or {})
    flows[str(flow["state"])] = {
        "flow": flow,
        "purpose": purpose,
        "user_id": request.user.pk if purpose == LINK else None,
        "next": next_url,
        "started_at": time.time(),
    }
    newest = sorted(flows.items(), key=lambda item: item[1]["started_at"])[-MAX_PENDING_FLOWS:]
    request.session[SESSION_KEY] = dict(newest)


def take_flow(request: HttpRequest, state: str) -> PendingFlow:
    """The flow the callback's state names, removed from the session (a state works once)."""
    flows: dict[str, Any] = dict(request.session.get(SESSION_KEY) or {})
    entry = flows.pop(state, None) if state else None
    if entry is None:
        raise FlowProblem("state_mismatch" if flows else "no_flow")
    request.session[SESSION_KEY] = flows
    pending = PendingFlow(
        flow=entry["flow"],
        purpose=entry["purpose"],
        user_id=entry["user_id"],
        next_url=entry["next"],
        started_at=float(entry["started_at"]),
    )
    if time.time() - pending.started_at > settings.MICROSOFT_SIGN_IN_FLOW_SECONDS:
        raise FlowProblem("flow_expired")
    return pending


@dataclass(frozen=True)
class Explanation:
    """What a person sees when a sign-in fails: a title, what happened, what to do."""

    title: str
    text: str
    remedy: str
    status: int = 400


_ADMIN = "If it keeps happening, tell whoever runs this TenantAtlas installation"
START_AGAIN = "Start the sign-in again."

EXPLANATIONS: dict[str, Explanation] = {
    "no_flow": Explanation(
        "No sign-in in progress",
        "This browser has no sign-in with Microsoft waiting for this answer: it was already "
        "completed, or the browser lost its session (cookies cleared, another browser).",
        START_AGAIN,
    ),
    "state_mismatch": Explanation(
        "This answer belongs to another sign-in",
        "The answer from Microsoft does not match the sign-in this browser started, so it was "
        "refused (it may have been forged or replayed).",
        START_AGAIN,
    ),
    "flow_expired": Explanation(
        "The sign-in took too long",
        "More than 10 minutes passed between leaving for Microsoft and coming back.",
        START_AGAIN,
    ),
    "access_denied": Explanation(
        "Sign-in cancelled at Microsoft",
        "Microsoft says the sign-in was cancelled or permission was declined.",
        "Start again and accept the request, or sign in another way.",
        status=403,
    ),
    "microsoft_error": Explanation(
        "Microsoft refused the sign-in",
        "Microsoft answered with an error instead of signing you in.",
        f"{START_AGAIN} {_ADMIN}, with the code shown below.",
    ),
    "code_rejected": Explanation(
        "Microsoft did not accept the sign-in code",
        "The one-time code Microsoft handed back was refused when TenantAtlas redeemed it "
        "(already used, expired, or this installation's app credential was refused).",
        f"{START_AGAIN} {_ADMIN}, with the code shown below.",
    ),
    "token_invalid": Explanation(
        "Microsoft's answer could not be verified",
        "The identity token did not pass validation, so nobody was signed in.",
        f"{START_AGAIN} {_ADMIN}.",
    ),
    "tenant_not_allowed": Explanation(
        "Your organisation may not sign in here",
        "Your Microsoft account belongs to a Microsoft Entra tenant this installation does not "
        "accept for sign-in.",
        "Sign in with an account of an allowed organisation, or ask the administrator of this "
        "installation to add your tenant (the tenant id is shown below).",
        status=403,
    ),
    "unreachable": Explanation(
        "Microsoft could not be reached",
        "TenantAtlas could not talk to the Microsoft identity platform to finish the sign-in.",
        f"Try again in a minute. {_ADMIN}.",
        status=502,
    ),
    "misconfigured": Explanation(
        "Sign in with Microsoft is not set up correctly",
        "This installation's Microsoft sign-in settings were refused by Microsoft.",
        "Tell whoever runs this TenantAtlas installation (docs/sign-in.md lists the settings).",
        status=503,
    ),
    "malformed_response": Explanation(
        "Microsoft's answer was incomplete",
        "The answer carried neither a code nor an error.",
        START_AGAIN,
    ),
    "account_disabled": Explanation(
        "Your TenantAtlas account is disabled",
        "Microsoft signed you in, but the TenantAtlas account linked to this Microsoft account "
        "is disabled, so you were not signed in.",
        "Ask an owner of your workspace or the administrator of this installation.",
        status=403,
    ),
    "account_removed": Explanation(
        "The linked TenantAtlas account was removed",
        "Microsoft signed you in, but the TenantAtlas account this Microsoft account was linked "
        "to no longer exists, so you were not signed in.",
        "Ask the administrator of this installation for an account, then link your Microsoft "
        "account to it from its Account page.",
        status=403,
    ),
    "already_linked": Explanation(
        "This Microsoft account is linked to someone else",
        "The Microsoft account you signed in with already signs in as another TenantAtlas "
        "account, so it was not linked to yours.",
        "Sign in with another Microsoft account, or ask the administrator to unlink it first.",
        status=409,
    ),
    "link_other_user": Explanation(
        "This link was started by another account",
        "The linking was started while someone else was signed in in this browser.",
        "Sign in again and start the linking from your Account page.",
        status=403,
    ),
}

# Microsoft's error codes (facts §8.3–8.4) that deserve their own words.
AADSTS_HINTS = {
    50011: "The reply address is not registered on the app (AADSTS50011): the app registration "
    "needs this installation's callback address.",
    50105: "Your account is not assigned to the TenantAtlas app in your tenant (AADSTS50105).",
    65001: "The TenantAtlas app has not been consented to in your tenant (AADSTS65001).",
    65004: "Permission for the TenantAtlas app was declined (AADSTS65004).",
    54005: "The sign-in code was already used (AADSTS54005).",
    70008: "The sign-in code expired before it was redeemed (AADSTS70008).",
    501481: "The sign-in's PKCE proof did not match (AADSTS501481).",
    700016: "The app registration was not found in the tenant (AADSTS700016).",
    7000215: "The installation's client secret was refused (AADSTS7000215).",
    7000222: "The installation's client secret has expired (AADSTS7000222).",
}


def explain(code: str, details: dict[str, Any] | None = None) -> tuple[str, Explanation, str]:
    """The failure's code as shown, its explanation, and a line of detail (may be empty)."""
    details = details or {}
    if code == "microsoft_error" and details.get("error") == "access_denied":
        code = "access_denied"
    if code not in EXPLANATIONS:
        code = "microsoft_error"
    explanation = EXPLANATIONS[code]
    aadsts = details.get("aadsts")
    hint = AADSTS_HINTS.get(int(aadsts)) if isinstance(aadsts, int) else None
    if hint:
        return code, explanation, hint
    if details.get("tenant_id"):
        return code, explanation, f"Tenant id: {details['tenant_id']}"
    if details.get("error_description"):
        return code, explanation, f"Microsoft says: {details['error_description']}"
    if details.get("error"):
        return code, explanation, f"Microsoft's error: {details['error']}"
    return code, explanation, ""
