"""API tokens: bearer credentials for one person in one workspace, stored only as a hash."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from tenantatlas.workspaces.models import Workspace, WorkspaceScopedQuerySet


class ApiTokenQuerySet(WorkspaceScopedQuerySet):
    def usable(self) -> ApiTokenQuerySet:
        """Neither revoked nor expired, right now."""
        now = timezone.now()
        return self.filter(revoked_at__isnull=True).filter(
            Q(expires_at__isnull=True) | Q(expires_at__gt=now)
        )


class ApiToken(models.Model):
    """A bearer token for the JSON API; the plaintext is shown once and never stored."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="api_tokens")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(max_length=100)
    # The public, random part of the token (ta_<prefix>_<secret>): shown to recognise it.
    prefix = models.CharField(max_length=8, unique=True)
    # SHA-256 of the whole plaintext token, hex.
    token_hash = models.CharField(max_length=64, unique=True)
    capabilities = models.JSONField(default=list)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["workspace", "user"], name="apitoken_ws_user")]

    def __str__(self) -> str:
        return f"{self.name} (ta_{self.prefix}_…)"

    def __repr__(self) -> str:
        return f"<ApiToken {self.pk} ta_{self.prefix}_…>"

    @property
    def display_prefix(self) -> str:
        return f"ta_{self.prefix}_…"

    @property
    def is_expired(self) -> bool:
        return self.expires_at is not None and self.expires_at <= timezone.now()

    @property
    def state(self) -> str:
        """active, expired or revoked (for the list's status text)."""
        if self.revoked_at is not None:
            return "revoked"
        if self.is_expired:
            return "expired"
        return "active"


class MicrosoftIdentity(models.Model):
    """A Microsoft Entra account (tenant id + object id) that signs in as a local account."""

    # SET_NULL, not CASCADE: a Microsoft account whose local account was removed is told so,
    # rather than "not linked"; linking it again reuses the row.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="microsoft_identities",
    )
    tenant_id = models.CharField(max_length=36)  # the id token's tid, lower case
    object_id = models.CharField(max_length=36)  # its oid: stable, unlike e-mail or UPN
    # Shown to recognise the account, refreshed at each sign-in; never used to match.
    display_name = models.CharField(max_length=200, blank=True)
    username = models.CharField(max_length=200, blank=True)
    linked_at = models.DateTimeField()
    last_sign_in_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["linked_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant_id", "object_id"], name="microsoft_identity_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.username or self.object_id} (Microsoft, tenant {self.tenant_id})"
