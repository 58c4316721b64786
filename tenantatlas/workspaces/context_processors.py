"""Navigation context: the user's workspaces for the switcher and the current one's capabilities."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest

from tenantatlas.workspaces.models import Membership


def workspace_nav(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    workspace = getattr(request, "workspace", None)
    return {
        "current_workspace": workspace,
        "can": getattr(request, "can", None),
        "my_memberships": Membership.objects.filter(user=user).select_related("workspace"),
        "encryption_key_file": settings.ENCRYPTION_KEYS_FILE,
    }
