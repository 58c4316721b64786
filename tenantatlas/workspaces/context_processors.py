"""Navigation context: the user's workspaces for the switcher and the current one's capabilities."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest

from tenantatlas.workspaces.access import memberships_of


def workspace_nav(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    workspace = getattr(request, "workspace", None)
    # A workspace page has read them already (access.get_membership_for_page); elsewhere the
    # query runs only if the template shows the switcher.
    memberships = getattr(request, "memberships", None)
    return {
        "current_workspace": workspace,
        "can": getattr(request, "can", None),
        "my_memberships": memberships_of(user) if memberships is None else memberships,
        "encryption_key_file": settings.ENCRYPTION_KEYS_FILE,
    }
