"""Alerting: what happened (AlertEvent, the outbox), who wants to hear of it (AlertRule), where
it goes (AlertChannel), and each hand-over to a channel (AlertDelivery).

An event is written in the same transaction as the change that caused it (a run's terminal
move, a connection's health, a snapshot, a sync's changes) and fanned out at once to the rules
that match: one ``Alert`` per (rule, event), one ``AlertDelivery`` per (rule, event, channel),
or per (rule, digest window, channel) for a digest rule. Workers deliver; a delivery's ``key``
is stable across retries, so a receiver that dedupes on it never shows one twice.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from tenantatlas.workspaces.models import Workspace, WorkspaceScopedQuerySet


class EventKind(models.TextChoices):
    RUN_FAILED = "run.failed", "Run failed or partially succeeded"
    CONNECTION_HEALTH = "connection.health", "Connection health changed"
    CREDENTIAL_EXPIRY = "credential.expiry", "Credential expiring or expired"
    DATA_STALE = "data.stale", "No successful sync or snapshot"
    COMPLIANCE = "compliance.noncompliant", "Non-compliant devices"
    CHANGES = "inventory.changes", "Inventory changes detected"


class Severity(models.IntegerChoices):
    INFO = 10, "Info"
    WARNING = 20, "Warning"
    CRITICAL = 30, "Critical"


class Digest(models.TextChoices):
    IMMEDIATE = "immediate", "Immediately"
    HOURLY = "hourly", "Hourly digest"
    DAILY = "daily", "Daily digest"


class ChannelKind(models.TextChoices):
    IN_APP = "in_app", "In-app notification"
    EMAIL = "email", "E-mail"
    WEBHOOK = "webhook", "Webhook"
    TEAMS = "teams", "Microsoft Teams"


class ChannelState(models.TextChoices):
    OK = "ok", "Delivering"
    FAILING = "failing", "Failing"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SENDING = "sending", "Sending"
    DELIVERED = "delivered", "Delivered"
    FAILED = "failed", "Failed"


class AlertChannel(models.Model):
    """Where alerts go: members in-app or by e-mail, extra addresses, a webhook, a Teams chat.

    ``secret_ciphertext`` holds what must never be shown again (a webhook's signing secret, a
    Teams workflow URL, which carries its own signature), sealed like provider credentials.
    """

    workspace = models.ForeignKey(
        Workspace, on_delete=models.CASCADE, related_name="alert_channels"
    )
    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=20, choices=ChannelKind.choices)
    to_members = models.BooleanField(
        default=True, help_text="In-app and e-mail: the members in the rule's roles."
    )
    addresses = models.JSONField(default=list, blank=True)  # e-mail: extra recipients
    url = models.CharField(max_length=2000, blank=True)  # webhook: the receiver (not secret)
    url_display = models.CharField(max_length=300, blank=True)  # scheme://host/… for pages
    secret_ciphertext = models.TextField(blank=True)
    secret_set_at = models.DateTimeField(null=True, blank=True)
    is_enabled = models.BooleanField(default=True)
    state = models.CharField(max_length=20, choices=ChannelState.choices, default=ChannelState.OK)
    consecutive_failures = models.PositiveIntegerField(default=0)
    failing_since = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = WorkspaceScopedQuerySet.as_manager()

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["workspace", "name"], name="alert_channel_unique_name")
        ]

    def __str__(self) -> str:
        return self.name


class AlertRule(models.Model):
    """Which events, on which connections, from which severity, to which channels, how often.

    ``params`` holds the kind's conditions: ``hours`` (data.stale), ``share_above`` and
    ``points_up`` (compliance.noncompliant), ``kinds`` (inventory.changes).
    """

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="alert_rules")
    name = models.CharField(max_length=100)
    event_kind = models.CharField(max_length=40, choices=EventKind.choices)
    all_connections = models.BooleanField(default=True)
    connections = models.ManyToManyField(
        "providers.ProviderConnection", blank=True, related_name="+"
    )
    min_severity = models.IntegerField(choices=Severity.choices, default=Severity.WARNING)
    digest = models.CharField(max_length=20, choices=Digest.choices, default=Digest.IMMEDIATE)
    recipient_roles = models.JSONField(default=list, blank=True)
    params = models.JSONField(default=dict, blank=True)
    channels = models.ManyToManyField(AlertChannel, blank=True, related_name="rules")
    is_enabled = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = WorkspaceScopedQuerySet.as_manager()

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["workspace", "name"], name="alert_rule_unique_name")
        ]

    def __str__(self) -> str:
        return self.name


class AlertEvent(models.Model):
    """Something worth telling people, written with its cause (the outbox).

    ``key`` makes an event happen once (``run:42``, ``credential:7:30d``): raising it again is a
    no-op. ``rule`` is set for events that exist only because of one rule's condition (no
    successful sync for that rule's N hours).
    """

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=40, choices=EventKind.choices)
    severity = models.IntegerField(choices=Severity.choices)
    key = models.CharField(max_length=200)
    connection = models.ForeignKey(
        "providers.ProviderConnection", null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )  # fmt: skip
    rule = models.ForeignKey(
        AlertRule, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    title = models.CharField(max_length=200)
    body = models.CharField(max_length=1000, blank=True)
    path = models.CharField(max_length=300, blank=True)  # the product page behind it
    facts = models.JSONField(default=dict, blank=True)
    occurred_at = models.DateTimeField()

    objects = WorkspaceScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-occurred_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["workspace", "key"], name="alert_event_once")
        ]

    def __str__(self) -> str:
        return self.title


class Alert(models.Model):
    """One event matched by one rule. A digest rule's alerts wait for their window to end."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    rule = models.ForeignKey(AlertRule, on_delete=models.CASCADE, related_name="alerts")
    event = models.ForeignKey(AlertEvent, on_delete=models.CASCADE, related_name="alerts")
    # Digest rules only: when its digest goes out; cleared once the digest's deliveries exist.
    window_end = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = WorkspaceScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["rule", "event"], name="alert_once_per_rule")
        ]
        indexes = [
            models.Index(
                fields=["window_end"],
                name="alert_digest_due",
                condition=Q(window_end__isnull=False),
            )
        ]

    def __str__(self) -> str:
        return f"rule {self.rule_id}, event {self.event_id}"


class AlertDelivery(models.Model):
    """One hand-over of one or more alerts (a digest) to one channel.

    ``key`` identifies the delivery to receivers (webhook ``id`` and header, e-mail Message-ID)
    and never changes across attempts: at-least-once delivery, exactly-once after dedupe on it.
    A worker claims it (pending → sending, ``lease_until``); one killed mid-send leaves it
    sending until the lease ends, then the sweeper hands it out again.
    """

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    channel = models.ForeignKey(AlertChannel, on_delete=models.CASCADE, related_name="deliveries")
    rule = models.ForeignKey(AlertRule, null=True, on_delete=models.SET_NULL, related_name="+")
    alerts = models.ManyToManyField(Alert, related_name="deliveries")
    key = models.CharField(max_length=120, unique=True)
    is_test = models.BooleanField(default=False)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )  # who pressed "send test"
    status = models.CharField(
        max_length=20, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    objects = WorkspaceScopedQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["channel", "-created_at"], name="delivery_channel_log"),
            models.Index(
                fields=["status", "next_attempt_at"],
                name="delivery_open",
                condition=Q(status__in=["pending", "sending"]),
            ),
        ]

    def __str__(self) -> str:
        return self.key
