"""Rotating a credential with overlap (services/rotation.py): the rotate form, "Verify now" and
"Discard" for the new credential while it waits, and the panel that shows where it stands on
the connection page and the partner app page."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from tenantatlas.lib.errors import Refused
from tenantatlas.lib.reasons import get_reason
from tenantatlas.providers.forms import RotateCredentialForm
from tenantatlas.providers.models import (
    ConnectionStatus,
    CredentialState,
    PartnerApp,
    ProviderConnection,
)
from tenantatlas.providers.services.rotation import (
    Owner,
    discard_pending,
    history_of,
    rotate_credential,
    verify_now,
)
from tenantatlas.workspaces.access import get_object_for_member, workspace_view
from tenantatlas.workspaces.capabilities import PROVIDER_MANAGE
from tenantatlas.workspaces.requests import WorkspaceRequest

# Reasons a new credential was set aside that say nothing against it.
_QUIET_REASONS = {"rotation.superseded", "rotation.withdrawn"}


def _panel_urls(owner: Owner) -> tuple[str, str]:
    """Where the panel's Verify now and Discard post: the connection's, or the partner app's."""
    slug = owner.workspace.slug
    if isinstance(owner, PartnerApp):
        return (
            reverse("onboarding:partner_app_verify", args=[slug]),
            reverse("onboarding:partner_app_discard", args=[slug]),
        )
    return (
        reverse("providers:rotate_verify", args=[slug, owner.pk]),
        reverse("providers:rotate_discard", args=[slug, owner.pk]),
    )


def rotation_panel(owner: Owner) -> dict[str, Any]:
    """The new credential waiting for its check (with that check), or the newest one that did
    not pass (with the reason), for ``providers/_credential_rotation.html``."""
    verify_url, discard_url = _panel_urls(owner)
    newest = history_of(owner).select_related("verification_run").first()
    current = owner.current_credential
    panel: dict[str, Any] = {
        "pending": None,
        "rejected": None,
        "rejected_reason": None,
        "verify_url": verify_url,
        "discard_url": discard_url,
    }
    if newest is None or (current is not None and newest.version <= current.version):
        return panel
    if newest.state == CredentialState.PENDING:
        panel["pending"] = newest
    elif newest.state == CredentialState.REJECTED and newest.rejected_reason_code not in (
        _QUIET_REASONS
    ):
        panel["rejected"] = newest
        panel["rejected_reason"] = get_reason(newest.rejected_reason_code)
    return panel


def _connection(request: WorkspaceRequest, pk: int) -> ProviderConnection:
    connections = ProviderConnection.objects.for_workspace(request.workspace)
    return get_object_for_member(connections, request.member, pk=pk)


def _to_detail(connection: ProviderConnection) -> HttpResponse:
    return redirect("providers:detail", slug=connection.workspace.slug, pk=connection.pk)


@workspace_view(PROVIDER_MANAGE)
def credential_rotate(request: WorkspaceRequest, pk: int) -> HttpResponse:
    connection = _connection(request, pk)
    form = RotateCredentialForm(
        request.POST if request.method == "POST" else None,
        request.FILES or None,
        connection=connection,
    )
    if request.method == "POST" and form.is_valid():
        credential = form.credential_input()
        assert credential is not None
        try:
            proposal = rotate_credential(
                actor=request.user, connection=connection, credential=credential
            )
        except Refused as exc:  # a partner app's connection: its credential is the app's
            form.add_error(None, exc.message)
        else:
            messages.success(request, proposal.message)
            return _to_detail(connection)
    context = {
        "form": form,
        "connection": connection,
        "verified_first": connection.status == ConnectionStatus.ENABLED,
    }
    return render(request, "providers/rotate.html", context)


def verify_pending(request: WorkspaceRequest, owner: Owner) -> None:
    """Start the waiting credential's check by hand and say how that went."""
    try:
        proposal = verify_now(owner, actor=request.user)
    except Refused as exc:
        messages.error(request, exc.message)
        return
    messages.success(request, proposal.message)


def discard(request: WorkspaceRequest, owner: Owner) -> None:
    try:
        discard_pending(owner, actor=request.user)
    except Refused as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, "New credential discarded; the current one stays in use.")


@workspace_view(PROVIDER_MANAGE)
@require_POST
def credential_verify(request: WorkspaceRequest, pk: int) -> HttpResponse:
    connection = _connection(request, pk)
    verify_pending(request, connection)
    return _to_detail(connection)


@workspace_view(PROVIDER_MANAGE)
@require_POST
def credential_discard(request: WorkspaceRequest, pk: int) -> HttpResponse:
    connection = _connection(request, pk)
    discard(request, connection)
    return _to_detail(connection)
