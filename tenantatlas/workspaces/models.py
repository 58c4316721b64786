"""Workspaces (our customers) and who belongs to them."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone


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
    # When the user last opened a page of this workspace (to a minute): where sign-in lands.
    last_used_at = models.DateTimeField(null=True, blank=True)

    objects = WorkspaceScopedQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["workspace", "user"], name="membership_unique_user")
        ]
        ordering = ["workspace", "user__username"]

    def __str__(self) -> str:
        return f"{self.user} in {self.workspace} as {self.role}"


class InvitationStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    ACCEPTED = "accepted", "Accepted"
    DECLINED = "declined", "Declined"
    REVOKED = "revoked", "Revoked"
    EXPIRED = "expired", "Expired"


class InvitationQuerySet(WorkspaceScopedQuerySet):
    def pending(self) -> InvitationQuerySet:
        """Still open right now: neither answered, revoked nor past its expiry."""
        return self.filter(status=InvitationStatus.PENDING, expires_at__gt=timezone.now())

    def addressed_to(self, user: Any) -> InvitationQuerySet:
        """Invitations naming the user's username or e-mail address (stored lower-case)."""
        names = {user.username.lower()} | ({user.email.lower()} if user.email else set())
        return self.filter(identifier__in=names)


class Invitation(models.Model):
    """An offer to join a workspace with a role: nothing changes until the invitee accepts."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="invitations")
    # The username or e-mail address as the inviter typed it, lower-cased; no account is looked
    # up when inviting, so the answer cannot tell whether one exists.
    identifier = models.CharField(max_length=254)
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.READONLY)
    # SHA-256 of the single-use link's secret, hex: the secret itself is shown once.
    token_hash = models.CharField(max_length=64, unique=True)
    status = models.CharField(
        max_length=20, choices=InvitationStatus.choices, default=InvitationStatus.PENDING
    )
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    closed_at = models.DateTimeField(null=True, blank=True)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    objects = InvitationQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "identifier"],
                condition=models.Q(status="pending"),
                name="invitation_one_pending_per_identifier",
            )
        ]
        indexes = [models.Index(fields=["identifier", "status"], name="invitation_identifier")]

    def __str__(self) -> str:
        return f"Invitation of {self.identifier} to {self.workspace} as {self.role}"

    @property
    def is_expired(self) -> bool:
        return self.expires_at <= timezone.now()

    @property
    def state(self) -> str:
        """The status as the invitee sees it: a pending invitation past its expiry is expired."""
        if self.status == InvitationStatus.PENDING and self.is_expired:
            return InvitationStatus.EXPIRED
        return self.status
