"""Onboarding a customer tenant through an admin-consent link for the workspace's partner app."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from tenantatlas.workspaces.models import WorkspaceScopedQuerySet


class OnboardingStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    COMPLETED = "completed", "Completed"
    DECLINED = "declined", "Declined"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"
    EXPIRED = "expired", "Expired"


# Statuses a link can be renewed from (back to pending) or cancelled from: nothing stays stuck.
OPEN_STATUSES = (
    OnboardingStatus.PENDING,
    OnboardingStatus.DECLINED,
    OnboardingStatus.FAILED,
    OnboardingStatus.EXPIRED,
)


class OnboardingQuerySet(WorkspaceScopedQuerySet):
    def open(self) -> OnboardingQuerySet:
        return self.filter(status__in=OPEN_STATUSES)


class Onboarding(models.Model):
    """One customer invited to consent to the partner app; its link's state is kept only hashed."""

    workspace = models.ForeignKey(
        "workspaces.Workspace", on_delete=models.CASCADE, related_name="onboardings"
    )
    partner_app = models.ForeignKey(
        "providers.PartnerApp", on_delete=models.PROTECT, related_name="onboardings"
    )
    customer_name = models.CharField(max_length=100)
    # Optional tenant id or verified domain: the link then goes to that tenant's sign-in.
    tenant_hint = models.CharField(max_length=255, blank=True)
    status = models.CharField(
        max_length=20, choices=OnboardingStatus.choices, default=OnboardingStatus.PENDING
    )
    reason_code = models.CharField(max_length=60, blank=True)
    reason_message = models.CharField(max_length=500, blank=True)
    # The link's `state` is derived from the nonce with the install's secret key (so the page
    # can show the link again); the database keeps only its SHA-256 to find the onboarding.
    state_nonce = models.CharField(max_length=64)
    state_hash = models.CharField(max_length=64, unique=True)
    expires_at = models.DateTimeField()
    entra_tenant_id = models.UUIDField(null=True, blank=True)
    connection = models.ForeignKey(
        "providers.ProviderConnection",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    objects = OnboardingQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [
            models.Index(fields=["workspace", "-created_at"], name="onboarding_by_workspace")
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=OnboardingStatus.values), name="onboarding_known_status"
            ),
        ]

    def __str__(self) -> str:
        return self.customer_name

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def shown_status(self) -> str:
        """A pending link past its expiry shows as expired before anyone used it."""
        if self.status == OnboardingStatus.PENDING and self.expires_at <= timezone.now():
            return OnboardingStatus.EXPIRED
        return self.status
