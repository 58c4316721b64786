"""In-app notifications for people (e.g. a run they started has finished)."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from tenantatlas.workspaces.models import Workspace, WorkspaceScopedQuerySet


class Notification(models.Model):
    """A message for one user in one workspace."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications"
    )
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=40)
    title = models.CharField(max_length=200)
    body = models.CharField(max_length=1000, blank=True)
    url = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    read_at = models.DateTimeField(null=True, blank=True)

    objects = WorkspaceScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["user", "workspace", "read_at"], name="notif_user_ws_read"),
            models.Index(fields=["created_at"], name="notif_created"),  # retention
        ]

    def __str__(self) -> str:
        return self.title
