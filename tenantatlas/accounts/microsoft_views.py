"""Sign in with Microsoft: leaving for Microsoft, the callback, the account page with linking,
and the break-glass sign-in link.

The start and callback views are the only pages that talk to Microsoft while a request waits
(OIDC discovery, redeeming the code, the signing keys): they carry ``reaches_microsoft``, which
the test suite's DB-only guard honours. Every failure answers a page that says what happened
and what to do; none is a 500.
"""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render, resolve_url
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from tenantatlas.accounts import signin
from tenantatlas.accounts.identities import (
    SignInRefused,
    link_microsoft_identity,
    note_microsoft_sign_in,
    record_break_glass_sign_in,
    unlink_microsoft_identity,
    user_for_break_glass,
    user_for_identity,
)
from tenantatlas.accounts.lockout import (
    address_locked,
    count_failed_sign_in,
    microsoft_username,
    sign_in_allowed,
)
from tenantatlas.accounts.views import sign_in_locked_out
from tenantatlas.graph.clouds import UnknownCloud
from tenantatlas.graph.signin import SignInFailed, VerifiedIdentity, begin_sign_in, complete_sign_in
from tenantatlas.lib.errors import Refused
from tenantatlas.lib.pages import reaches_microsoft

log = logging.getLogger(__name__)
MODEL_BACKEND = "django.contrib.auth.backends.ModelBackend"
# Failures that say nothing about the person asking (Microsoft down, our own settings, the
# person cancelling at Microsoft) are not counted towards a lockout.
NOT_COUNTED = frozenset({"unreachable", "misconfigured", "microsoft_error"})


def _enabled() -> None:
    if not signin.microsoft_enabled():
        raise Http404("Sign in with Microsoft is not enabled here.")


def _failure(
    request: HttpRequest, code: str, details: dict[str, Any] | None = None
) -> HttpResponse:
    code, explanation, detail = signin.explain(code, details)
    log.info("Sign in with Microsoft refused: %s %s", code, details or {})
    context = {"explanation": explanation, "detail": detail, "code": code}
    return render(request, "accounts/microsoft_error.html", context, status=explanation.status)


def _leave_for_microsoft(request: HttpRequest, *, purpose: str, next_url: str) -> HttpResponse:
    callback = request.build_absolute_uri(reverse("accounts:microsoft_callback"))
    try:
        flow = begin_sign_in(signin.sign_in_app(), callback, prompt="select_account")
    except SignInFailed as exc:
        return _failure(request, exc.code, exc.details)
    except UnknownCloud:
        return _failure(request, "misconfigured")
    signin.remember_flow(request, flow, purpose=purpose, next_url=next_url)
    return redirect(str(flow["auth_uri"]))


@reaches_microsoft
@never_cache
@require_GET
def microsoft_sign_in(request: HttpRequest) -> HttpResponse:
    """Send the browser to Microsoft to sign in (``?next=`` is kept for the way back)."""
    _enabled()
    if request.user.is_authenticated:
        return redirect(settings.LOGIN_REDIRECT_URL)
    next_url = request.GET.get("next", "")
    if not url_has_allowed_host_and_scheme(next_url, {request.get_host()}, request.is_secure()):
        next_url = ""
    return _leave_for_microsoft(request, purpose=signin.SIGN_IN, next_url=next_url)


@reaches_microsoft
@login_required
@require_POST
def microsoft_link(request: HttpRequest) -> HttpResponse:
    """Start linking: the signed-in person signs in at Microsoft with the account to link."""
    _enabled()
    return _leave_for_microsoft(request, purpose=signin.LINK, next_url=reverse("accounts:account"))


@reaches_microsoft
@never_cache
@require_GET
def microsoft_callback(request: HttpRequest) -> HttpResponse:
    """Where Microsoft sends the browser back: the flow, the code, the id token, the account."""
    _enabled()
    if address_locked(request):
        return sign_in_locked_out(request)
    answer = request.GET.dict()
    try:
        pending = signin.take_flow(request, answer.get("state", ""))
    except signin.FlowProblem as problem:
        count_failed_sign_in(request, microsoft_username())
        return _failure(request, problem.code)
    try:
        verified = complete_sign_in(signin.sign_in_app(), pending.flow, answer)
    except SignInFailed as exc:
        if exc.code not in NOT_COUNTED:
            count_failed_sign_in(request, microsoft_username(exc.details.get("tenant_id", "")))
        return _failure(request, exc.code, exc.details)
    except UnknownCloud:
        return _failure(request, "misconfigured")
    if pending.purpose == signin.LINK:
        return _finish_link(request, pending, verified)
    return _finish_sign_in(request, pending, verified)


def _finish_sign_in(
    request: HttpRequest, pending: signin.PendingFlow, verified: VerifiedIdentity
) -> HttpResponse:
    try:
        user = user_for_identity(verified)
    except SignInRefused as refused:
        name = refused.details.get("username") or microsoft_username(
            verified.tenant_id, verified.object_id
        )
        count_failed_sign_in(request, name)
        if refused.code == "unknown_identity":
            context = {"verified": verified, "password_sign_in": signin.password_enabled()}
            return render(request, "accounts/microsoft_unknown.html", context, status=403)
        return _failure(request, refused.code)
    if not sign_in_allowed(request, user.get_username()):
        return sign_in_locked_out(request)
    login(request, user, backend=MODEL_BACKEND)  # a new session key, as for a password
    note_microsoft_sign_in(verified)
    return redirect(pending.next_url or resolve_url(settings.LOGIN_REDIRECT_URL))


def _finish_link(
    request: HttpRequest, pending: signin.PendingFlow, verified: VerifiedIdentity
) -> HttpResponse:
    if not request.user.is_authenticated or request.user.pk != pending.user_id:
        return _failure(request, "link_other_user")
    try:
        link_microsoft_identity(actor=request.user, verified=verified)
    except SignInRefused as refused:
        return _failure(request, refused.code)
    shown = verified.username or verified.name or verified.object_id
    messages.success(request, f"Microsoft account {shown} linked: you can sign in with it now.")
    return redirect("accounts:account")


@login_required
@require_GET
def account(request: HttpRequest) -> HttpResponse:
    """The signed-in person's account: how they sign in, their linked Microsoft accounts."""
    context = {
        "identities": request.user.microsoft_identities.all(),  # type: ignore[union-attr]
        "microsoft_sign_in": signin.microsoft_enabled(),
        "password_sign_in": signin.password_enabled(),
    }
    return render(request, "accounts/account.html", context)


@login_required
@require_POST
def microsoft_unlink(request: HttpRequest, pk: int) -> HttpResponse:
    identity = request.user.microsoft_identities.filter(pk=pk).first()  # type: ignore[union-attr]
    if identity is None:
        raise Http404("No such Microsoft account of yours.")
    try:
        unlink_microsoft_identity(actor=request.user, identity=identity)  # type: ignore[arg-type]
    except Refused as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Microsoft account {identity.username} unlinked.")
    return redirect("accounts:account")


@never_cache
@require_http_methods(["GET", "POST"])
def break_glass(request: HttpRequest, uidb64: str, token: str) -> HttpResponse:
    """A single-use sign-in link from ``tenantatlas break_glass``: GET asks, POST signs in (so a
    link preview cannot spend it)."""
    user = user_for_break_glass(uidb64, token)
    if user is None:
        return render(request, "accounts/break_glass.html", {"invalid": True}, status=400)
    if request.method == "GET":
        return render(request, "accounts/break_glass.html", {"account": user})
    login(request, user, backend=MODEL_BACKEND)  # updates last_login: the link is spent
    record_break_glass_sign_in(user)
    log.warning("Break-glass sign-in as %r", user.get_username())
    return redirect(settings.LOGIN_REDIRECT_URL)
