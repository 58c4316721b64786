"""Partner app and onboarding pages, and the consent callback Microsoft redirects to.

Everyone in the workspace sees the partner app and the onboardings; provider.manage changes
them (and sees the consent links). The callback is public: the customer's administrator who
comes back from Microsoft has no account here, so the link's state alone says which onboarding
it is.
"""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from tenantatlas.lib.errors import Refused
from tenantatlas.onboarding.forms import PartnerAppForm, StartOnboardingForm
from tenantatlas.onboarding.models import Onboarding
from tenantatlas.onboarding.reasons import DEAD_LINK_REASONS, REASONS
from tenantatlas.onboarding.services import (
    ConsentAnswer,
    cancel_onboarding,
    complete_onboarding,
    consent_url,
    redirect_uri,
    renew_onboarding_link,
    start_onboarding,
)
from tenantatlas.providers.credential_views import discard, rotation_panel, verify_pending
from tenantatlas.providers.models import PartnerApp
from tenantatlas.providers.permissions import manifest_snippet, needed_permissions
from tenantatlas.providers.services.partner_apps import create_partner_app, update_partner_app
from tenantatlas.providers.services.rotation import last_rotation_message
from tenantatlas.workspaces.access import get_object_for_member, workspace_view
from tenantatlas.workspaces.capabilities import PROVIDER_MANAGE, PROVIDER_VIEW
from tenantatlas.workspaces.requests import WorkspaceRequest


def _partner_app(request: WorkspaceRequest) -> PartnerApp | None:
    return PartnerApp.objects.for_workspace(request.workspace).first()


def _to_list(request: WorkspaceRequest) -> HttpResponse:
    return redirect("onboarding:list", slug=request.workspace.slug)


@workspace_view(PROVIDER_VIEW)
def partner_app_detail(request: WorkspaceRequest) -> HttpResponse:
    partner_app = _partner_app(request)
    context = {
        "partner_app": partner_app,
        "credential": partner_app.current_credential if partner_app else None,
        "connection_count": partner_app.connections.filter(deleted_at=None).count()
        if partner_app
        else 0,
        "redirect_uri": redirect_uri(),
        "rotation": rotation_panel(partner_app) if partner_app else {},
        "graph_permissions": needed_permissions(),
        "manifest_snippet": manifest_snippet(),
    }
    return render(request, "onboarding/partner_app.html", context)


@workspace_view(PROVIDER_MANAGE)
def partner_app_edit(request: WorkspaceRequest) -> HttpResponse:
    """Create the partner app, or edit it (a new secret or certificate rotates it for all)."""
    partner_app = _partner_app(request)
    data = request.POST if request.method == "POST" else None
    form = PartnerAppForm(data, request.FILES or None, partner_app=partner_app)
    if request.method == "POST" and form.is_valid():
        fields = {
            "display_name": form.cleaned_data["display_name"],
            "client_id": str(form.cleaned_data["client_id"]),
            "cloud": form.cleaned_data["cloud"],
        }
        try:
            if partner_app is None:
                credential = form.credential_input()
                assert credential is not None  # required on create
                create_partner_app(
                    actor=request.user, workspace=request.workspace, credential=credential, **fields
                )
            else:
                update_partner_app(
                    actor=request.user,
                    partner_app=partner_app,
                    credential=form.credential_input(),
                    **fields,
                )
        except Refused as exc:
            form.add_error(getattr(exc, "field", None), exc.message)
        else:
            rotated = partner_app is not None and form.credential_input() is not None
            note = f" {last_rotation_message(partner_app)}" if rotated and partner_app else ""
            messages.success(request, f"Partner app saved.{note}")
            return redirect("onboarding:partner_app", slug=request.workspace.slug)
    context = {"form": form, "partner_app": partner_app}
    return render(request, "onboarding/partner_app_form.html", context)


def _existing_partner_app(request: WorkspaceRequest) -> PartnerApp:
    partner_app = _partner_app(request)
    if partner_app is None:
        raise Http404("This workspace has no partner app.")
    return partner_app


@workspace_view(PROVIDER_MANAGE)
@require_POST
def partner_app_verify(request: WorkspaceRequest) -> HttpResponse:
    """Start the partner app's new credential's check by hand (services/rotation.py)."""
    verify_pending(request, _existing_partner_app(request))
    return redirect("onboarding:partner_app", slug=request.workspace.slug)


@workspace_view(PROVIDER_MANAGE)
@require_POST
def partner_app_discard(request: WorkspaceRequest) -> HttpResponse:
    discard(request, _existing_partner_app(request))
    return redirect("onboarding:partner_app", slug=request.workspace.slug)


@workspace_view(PROVIDER_VIEW)
def onboarding_list(request: WorkspaceRequest) -> HttpResponse:
    onboardings = Onboarding.objects.for_workspace(request.workspace).select_related(
        "partner_app", "connection"
    )[:200]
    show_links = request.can.provider_manage
    rows = [
        (o, consent_url(o) if show_links and o.is_open else "", REASONS.get(o.reason_code))
        for o in onboardings
    ]
    context = {"rows": rows, "partner_app": _partner_app(request)}
    return render(request, "onboarding/list.html", context)


@workspace_view(PROVIDER_MANAGE)
def onboarding_start(request: WorkspaceRequest) -> HttpResponse:
    form = StartOnboardingForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            onboarding = start_onboarding(
                actor=request.user,
                workspace=request.workspace,
                customer_name=form.cleaned_data["customer_name"],
                tenant_hint=form.cleaned_data["tenant_hint"],
            )
        except Refused as exc:
            form.add_error(getattr(exc, "field", None), exc.message)
        else:
            messages.success(
                request, f"Consent link for “{onboarding.customer_name}” ready: copy it below."
            )
            return _to_list(request)
    context = {"form": form, "partner_app": _partner_app(request)}
    return render(request, "onboarding/start.html", context)


def _change(request: WorkspaceRequest, pk: int, verb: str) -> HttpResponse:
    onboarding = get_object_for_member(Onboarding.objects, request.member, pk=pk)
    try:
        if verb == "renew":
            renew_onboarding_link(actor=request.user, onboarding=onboarding)
            messages.success(
                request, f"New link for “{onboarding.customer_name}”: the old one no longer works."
            )
        else:
            cancel_onboarding(actor=request.user, onboarding=onboarding)
            messages.success(request, f"Onboarding of “{onboarding.customer_name}” cancelled.")
    except Refused as exc:
        messages.error(request, exc.message)
    return _to_list(request)


@workspace_view(PROVIDER_MANAGE)
@require_POST
def onboarding_renew(request: WorkspaceRequest, pk: int) -> HttpResponse:
    return _change(request, pk, "renew")


@workspace_view(PROVIDER_MANAGE)
@require_POST
def onboarding_cancel(request: WorkspaceRequest, pk: int) -> HttpResponse:
    return _change(request, pk, "cancel")


@require_GET
def consent_callback(request: HttpRequest) -> HttpResponse:
    """Microsoft's redirect after admin consent (or its refusal): complete the onboarding."""
    answer = ConsentAnswer(
        state=request.GET.get("state", "")[:200],
        tenant=request.GET.get("tenant", "")[:100],
        admin_consent=request.GET.get("admin_consent", "")[:10],
        error=request.GET.get("error", "")[:100],
        error_description=request.GET.get("error_description", "")[:2000],
    )
    outcome = complete_onboarding(answer)
    status = 400 if outcome.reason_code in DEAD_LINK_REASONS else 200
    return render(request, "onboarding/callback.html", {"outcome": outcome}, status=status)
