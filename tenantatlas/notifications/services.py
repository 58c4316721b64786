"""Notifications: create one for a person, mark them read.

`notify` is called by the OperationRunCompleted listener (after commit), never by jobs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db import transaction
from django.utils import timezone

from tenantatlas.lib.actors import Actor, is_user
from tenantatlas.lib.sanitize import sanitize
from tenantatlas.notifications.models import Notification
from tenantatlas.workspaces.models import Workspace

if TYPE_CHECKING:
    from django.contrib.auth.models import User

TITLE_LIMIT = Notification._meta.get_field("title").max_length or 200
BODY_LIMIT = Notification._meta.get_field("body").max_length or 1000
URL_LIMIT = Notification._meta.get_field("url").max_length or 300


def _local_url(url: str) -> str:
    """Only same-site paths: a notification link never points off-site or at a script."""
    url = (url or "").strip()
    if not url.startswith("/") or url.startswith("//") or "\\" in url or len(url) > URL_LIMIT:
        return ""
    return url


def notify(
    *,
    user: User | None,
    workspace: Workspace,
    kind: str,
    title: str,
    body: str = "",
    url: str = "",
) -> Notification:
    """Create an unread notification for `user` in `workspace` (title/body sanitized).

    ``user`` admits None only because the run-completion listener passes the nullable
    ``run.requested_by`` (it returns before when nobody requested the run).
    """
    if user is None:
        raise ValueError("A notification is for a person, not for nobody.")
    return Notification.objects.create(
        user=user,
        workspace=workspace,
        kind=kind[:40],
        title=sanitize(title, limit=TITLE_LIMIT),
        body=sanitize(body, limit=BODY_LIMIT),
        url=_local_url(url),
    )


@transaction.atomic
def mark_read(*, actor: Actor, notification: Notification) -> bool:
    """Mark one of the actor's own notifications read; True when it was unread."""
    if not is_user(actor):
        return False  # notifications are for people: the system has none
    updated = Notification.objects.filter(
        pk=notification.pk, user=actor, read_at__isnull=True
    ).update(read_at=timezone.now())
    return updated == 1


@transaction.atomic
def mark_all_read(*, actor: Actor, workspace: Workspace) -> int:
    """Mark all of the actor's unread notifications in the workspace read; returns how many."""
    if not is_user(actor):
        return 0
    return (
        Notification.objects.for_workspace(workspace)
        .filter(user=actor, read_at__isnull=True)
        .update(read_at=timezone.now())
    )


def unread_count(*, user: User, workspace: Workspace) -> int:
    return (
        Notification.objects.for_workspace(workspace)
        .filter(user=user, read_at__isnull=True)
        .count()
    )
