"""`{% notification_bell %}`: the unread count of the current workspace, one query."""

from __future__ import annotations

from typing import Any

from django import template

from tenantatlas.notifications.services import unread_count

register = template.Library()


@register.inclusion_tag("notifications/_bell.html", takes_context=True)
def notification_bell(context: template.Context) -> dict[str, Any]:
    workspace = context.get("current_workspace")
    request = context.get("request")
    user = getattr(request, "user", None)
    if workspace is None or user is None or not user.is_authenticated:
        return {"current_workspace": None}
    return {"current_workspace": workspace, "unread": unread_count(user=user, workspace=workspace)}
