"""The request as workspace views see it: `workspace_view` sets member, workspace and can."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.http import HttpRequest

if TYPE_CHECKING:
    from django.contrib.auth.models import User
    from django_htmx.middleware import HtmxDetails

    from tenantatlas.workspaces.capabilities import TemplateCapabilities
    from tenantatlas.workspaces.models import Membership, Workspace


class WorkspaceRequest(HttpRequest):
    user: User
    member: Membership
    workspace: Workspace
    can: TemplateCapabilities
    htmx: HtmxDetails
    request_id: str


class AuthenticatedRequest(HttpRequest):
    user: User
    htmx: HtmxDetails
