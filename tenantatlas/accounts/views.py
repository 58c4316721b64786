"""The sign-in page, its lockout answer, and the API token page (everyone manages their own
tokens; workspace.manage sees everyone's)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import AuthenticationForm
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from tenantatlas.accounts import services, signin
from tenantatlas.accounts.forms import ApiTokenForm
from tenantatlas.accounts.lockout import cool_off, cool_off_minutes
from tenantatlas.accounts.models import ApiToken
from tenantatlas.lib.errors import Refused
from tenantatlas.workspaces.access import get_object_for_member, workspace_view
from tenantatlas.workspaces.capabilities import PROVIDER_VIEW, WORKSPACE_MANAGE, can
from tenantatlas.workspaces.requests import WorkspaceRequest


def sign_in_options() -> dict[str, bool]:
    """Which ways of signing in the page offers (settings: PASSWORD_SIGN_IN, MICROSOFT_SIGN_IN)."""
    return {
        "password_sign_in": signin.password_enabled(),
        "microsoft_sign_in": signin.microsoft_enabled(),
    }


class SignInView(auth_views.LoginView):
    """Django's sign-in view; with passwords turned off the form is gone and a POST refused."""

    template_name = "accounts/login.html"
    redirect_authenticated_user = True

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not signin.password_enabled():
            context = {**sign_in_options(), "password_refused": True, "next": ""}
            return render(request, self.template_name, context, status=403)
        return super().post(request, *args, **kwargs)

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return {**super().get_context_data(**kwargs), **sign_in_options()}


def sign_in_locked_out(
    request: HttpRequest, original_response: HttpResponse | None = None, credentials: Any = None
) -> HttpResponse:
    """The sign-in page again, saying why the sign-in was refused and for how long (429).

    Axes answers with this (``AXES_LOCKOUT_CALLABLE``) whenever it locks or refuses a sign-in.
    """
    form = AuthenticationForm(request, initial={"username": request.POST.get("username", "")})
    context = {
        "form": form,
        "next": request.POST.get("next", ""),
        "locked_out_minutes": cool_off_minutes(request),
        **sign_in_options(),
    }
    response = render(request, "accounts/login.html", context, status=429)
    response["Retry-After"] = str(int(cool_off(request).total_seconds()))
    return response


def _visible_tokens(request: WorkspaceRequest) -> Any:
    tokens = ApiToken.objects.for_workspace(request.workspace).select_related("user")
    if can(request.member, WORKSPACE_MANAGE):
        return tokens
    return tokens.filter(user=request.user)


@workspace_view(PROVIDER_VIEW)
def token_list(request: WorkspaceRequest) -> HttpResponse:
    form = ApiTokenForm(request.POST if request.method == "POST" else None, member=request.member)
    created = plaintext = None
    if request.method == "POST" and form.is_valid():
        try:
            created, plaintext = services.create_api_token(
                actor=request.user,
                member=request.member,
                name=form.cleaned_data["name"],
                capabilities=form.cleaned_data["capabilities"],
                expires_at=form.expires_at(),
            )
        except Refused as exc:
            form.add_refusal(exc)
        else:
            form = ApiTokenForm(member=request.member)
    context = {
        "form": form,
        "tokens": _visible_tokens(request),
        "created": created,
        "plaintext": plaintext,
    }
    response = render(request, "accounts/tokens.html", context)
    if plaintext:
        response["Cache-Control"] = "no-store"  # the one page that shows the token
    return response


@workspace_view(PROVIDER_VIEW)
@require_POST
def token_revoke(request: WorkspaceRequest, pk: int) -> HttpResponse:
    token = get_object_for_member(_visible_tokens(request), request.member, pk=pk)
    services.revoke_api_token(actor=request.user, token=token)
    messages.success(request, f"Token “{token.name}” revoked: it no longer works.")
    return redirect("accounts:tokens", slug=request.workspace.slug)
