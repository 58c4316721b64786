"""Provider connections (an Entra app registration in one Entra tenant), the workspace's partner
app (one multi-tenant app registration consented in many tenants) and their credentials."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import FilteredRelation, Prefetch, Q

from tenantatlas.workspaces.models import Workspace, WorkspaceScopedQuerySet


class Provider(models.TextChoices):
    MICROSOFT = "microsoft", "Microsoft"


class ConnectionStatus(models.TextChoices):
    ENABLED = "enabled", "Enabled"
    DISABLED = "disabled", "Disabled"


class Health(models.TextChoices):
    UNKNOWN = "unknown", "Unknown"
    HEALTHY = "healthy", "Healthy"
    DEGRADED = "degraded", "Degraded"
    UNHEALTHY = "unhealthy", "Unhealthy"


class CredentialKind(models.TextChoices):
    CLIENT_SECRET = "client_secret", "Client secret"
    CERTIFICATE = "certificate", "Certificate"


class CredentialState(models.TextChoices):
    """Where a credential stands. A new one replacing a working one waits as ``pending`` until a
    connection check signed in with it passes (rotation with overlap); the one before stays
    ``current`` meanwhile, and stays so if the check fails (the new one is then ``rejected``)."""

    CURRENT = "current", "In use"
    PENDING = "pending", "Being verified"
    RETIRED = "retired", "Retired"
    REJECTED = "rejected", "Not used"


# The credential a connection or partner app signs in with (for joins and filters).
CURRENT_CREDENTIAL = Q(state=CredentialState.CURRENT)


def current_credential_relations() -> dict[str, FilteredRelation]:
    """Joins of a connection's current credential for ``annotate()``: its own
    (``live_credential``) and its partner app's (``partner_credential``); at most one row each
    (``credential_one_current``, ``credential_one_current_of_partner_app``)."""
    return {
        "live_credential": FilteredRelation(
            "credentials", condition=Q(credentials__state=CredentialState.CURRENT)
        ),
        "partner_credential": FilteredRelation(
            "partner_app__credentials",
            condition=Q(partner_app__credentials__state=CredentialState.CURRENT),
        ),
    }


class ConnectionQuerySet(WorkspaceScopedQuerySet):
    def live(self) -> ConnectionQuerySet:
        return self.filter(deleted_at__isnull=True)

    def for_workspace(self, workspace: Workspace) -> ConnectionQuerySet:
        """Live connections of the workspace; deleted ones stay reachable through their runs."""
        return self.filter(workspace=workspace, deleted_at__isnull=True)

    def with_current_credential(self) -> ConnectionQuerySet:
        """Fetch every connection's current credential (its own, or its partner app's) in one
        query per kind (`current_credential`)."""
        return self.prefetch_related(
            Prefetch(
                "credentials",
                queryset=ProviderCredential.objects.current(),
                to_attr="fetched_current_credentials",
            ),
            Prefetch(
                "partner_app__credentials",
                queryset=ProviderCredential.objects.current(),
                to_attr="fetched_current_credentials",
            ),
        )


class PartnerApp(models.Model):
    """A workspace's multi-tenant app registration: one credential for every tenant that
    consented to it (at most one per workspace)."""

    workspace = models.OneToOneField(
        Workspace, on_delete=models.CASCADE, related_name="partner_app"
    )
    display_name = models.CharField(max_length=100)
    client_id = models.UUIDField()
    cloud = models.CharField(max_length=30, default="global")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = WorkspaceScopedQuerySet.as_manager()
    fetched_current_credentials: list[ProviderCredential]

    def __str__(self) -> str:
        return self.display_name

    @property
    def current_credential(self) -> ProviderCredential | None:
        fetched: list[ProviderCredential] | None = getattr(
            self, "fetched_current_credentials", None
        )
        if fetched is not None:
            return fetched[0] if fetched else None
        return self.credentials.current().first()


class ProviderConnection(models.Model):
    """One Entra tenant connected to a workspace through an app registration."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="connections")
    provider = models.CharField(max_length=20, choices=Provider.choices, default=Provider.MICROSOFT)
    cloud = models.CharField(max_length=30, default="global")
    display_name = models.CharField(max_length=100)
    entra_tenant_id = models.UUIDField()
    # Set for a tenant onboarded through the workspace's partner app: the connection then has no
    # credential of its own and authenticates with the partner app's.
    partner_app = models.ForeignKey(
        PartnerApp,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="connections",
    )
    is_default = models.BooleanField(default=False)
    status = models.CharField(
        max_length=20, choices=ConnectionStatus.choices, default=ConnectionStatus.ENABLED
    )
    health = models.CharField(max_length=20, choices=Health.choices, default=Health.UNKNOWN)
    health_reason_code = models.CharField(max_length=60, blank=True)
    health_message = models.CharField(max_length=500, blank=True)
    health_checked_at = models.DateTimeField(null=True, blank=True)
    granted_permissions = models.JSONField(default=list, blank=True)
    missing_permissions = models.JSONField(default=list, blank=True)
    extra_permissions = models.JSONField(default=list, blank=True)
    entra_tenant_name = models.CharField(max_length=200, blank=True)
    default_domain = models.CharField(max_length=255, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    deleted_at = models.DateTimeField(null=True, blank=True)

    objects = ConnectionQuerySet.as_manager()
    # Set by `with_current_credential()` (and by a rotation): the current credential, if any.
    fetched_current_credentials: list[ProviderCredential]

    class Meta:
        ordering = ["-is_default", "display_name"]
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "provider", "entra_tenant_id"],
                condition=Q(deleted_at__isnull=True),
                name="connection_unique_entra_tenant",
            ),
            models.UniqueConstraint(
                fields=["workspace"],
                condition=Q(is_default=True, deleted_at__isnull=True),
                name="connection_one_default",
            ),
        ]

    def __str__(self) -> str:
        return self.display_name

    @property
    def is_enabled(self) -> bool:
        return self.status == ConnectionStatus.ENABLED

    @property
    def current_credential(self) -> ProviderCredential | None:
        """The credential the connection signs in with: the partner app's when it has one."""
        if self.partner_app_id is not None:
            assert self.partner_app is not None
            return self.partner_app.current_credential
        fetched: list[ProviderCredential] | None = getattr(
            self, "fetched_current_credentials", None
        )
        if fetched is not None:
            return fetched[0] if fetched else None
        return self.credentials.current().first()


class CredentialQuerySet(models.QuerySet):
    def current(self) -> CredentialQuerySet:
        return self.filter(CURRENT_CREDENTIAL)

    def pending(self) -> CredentialQuerySet:
        return self.filter(state=CredentialState.PENDING)


class ProviderCredential(models.Model):
    """A client secret or certificate of one connection or of the partner app; the secret part
    exists only as Fernet ciphertext."""

    connection = models.ForeignKey(
        ProviderConnection,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="credentials",
    )
    partner_app = models.ForeignKey(
        PartnerApp, null=True, blank=True, on_delete=models.CASCADE, related_name="credentials"
    )
    version = models.PositiveIntegerField(default=1)
    kind = models.CharField(max_length=20, choices=CredentialKind.choices)
    client_id = models.UUIDField()
    ciphertext = models.TextField()
    key_id = models.CharField(max_length=16)
    fingerprint = models.CharField(max_length=200, blank=True)
    thumbprint_sha1 = models.CharField(max_length=40, blank=True)
    thumbprint_sha256 = models.CharField(max_length=64, blank=True)
    certificate_subject = models.CharField(max_length=300, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    state = models.CharField(
        max_length=20, choices=CredentialState.choices, default=CredentialState.CURRENT
    )
    # A pending credential's verifying check, and how it ended: "verified" when it passed (the
    # credential then became current), otherwise the reason it was not used.
    verification_run = models.ForeignKey(
        "operations.OperationRun",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    verified_at = models.DateTimeField(null=True, blank=True)
    rejected_reason_code = models.CharField(max_length=60, blank=True)
    rejected_message = models.CharField(max_length=500, blank=True)
    # When it stopped being current (retired) or was set aside unused (rejected).
    retired_at = models.DateTimeField(null=True, blank=True)

    objects = CredentialQuerySet.as_manager()

    class Meta:
        ordering = ["-version"]
        constraints = [
            models.UniqueConstraint(
                fields=["connection"],
                condition=Q(state=CredentialState.CURRENT),
                name="credential_one_current",
            ),
            models.UniqueConstraint(
                fields=["connection"],
                condition=Q(state=CredentialState.PENDING),
                name="credential_one_pending",
            ),
            models.UniqueConstraint(
                fields=["connection", "version"], name="credential_unique_version"
            ),
            models.UniqueConstraint(
                fields=["partner_app"],
                condition=Q(state=CredentialState.CURRENT),
                name="credential_one_current_of_partner_app",
            ),
            models.UniqueConstraint(
                fields=["partner_app"],
                condition=Q(state=CredentialState.PENDING),
                name="credential_one_pending_of_partner_app",
            ),
            models.UniqueConstraint(
                fields=["partner_app", "version"], name="credential_unique_partner_app_version"
            ),
            models.CheckConstraint(
                condition=Q(connection__isnull=False, partner_app__isnull=True)
                | Q(connection__isnull=True, partner_app__isnull=False),
                name="credential_has_one_owner",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} v{self.version} ({self.fingerprint})"

    def __repr__(self) -> str:
        # Never show ciphertext in debug output or tracebacks.
        return f"<ProviderCredential {self.pk} {self.kind} v{self.version}>"

    def describe(self) -> dict[str, Any]:
        """Non-secret facts for audit metadata and pages."""
        return {
            "credential_id": self.pk,
            "version": self.version,
            "kind": self.kind,
            "client_id": str(self.client_id),
            "fingerprint": self.fingerprint,
            "expires_at": self.expires_at.isoformat() if self.expires_at else None,
        }
