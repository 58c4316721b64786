"""Workspaces (our customers) and who belongs to them."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class WorkspaceScopedQuerySet(models.QuerySet):
    """Every workspace-owned model's manager: `.for_workspace(ws)` is the only way in."""

    def for_workspace(self, workspace: Workspace) -> WorkspaceScopedQuerySet:
        return self.filter(workspace=workspace)


class Workspace(models.Model):
    """A customer or business unit: the isolation boundary for everything else."""

    name = models.CharField(max_length=100)
    slug = models.SlugField(max_length=60, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Role(models.TextChoices):
    OWNER = "owner", "Owner"
    MANAGER = "manager", "Manager"
    OPERATOR = "operator", "Operator"
    READONLY = "readonly", "Read-only"


class Membership(models.Model):
    """A user's role in one workspace."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.READONLY)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = WorkspaceScopedQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["workspace", "user"], name="membership_unique_user")
        ]
        ordering = ["workspace", "user__username"]

    def __str__(self) -> str:
        return f"{self.user} in {self.workspace} as {self.role}"
