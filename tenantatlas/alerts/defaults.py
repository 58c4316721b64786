"""What a new workspace starts with: owners and managers hear of failures, health changes and
expiring credentials, in-app and by e-mail.

Two channels ("In-app" and "E-mail to members", both to the rule's members) and three rules
(run failures, connection health, credential expiry; warning and above, immediately). Created
when a workspace is created (``post_save``), and by migration 0002 for workspaces that existed.
"""

from __future__ import annotations

from typing import Any

from tenantatlas.alerts.models import ChannelKind, Digest, EventKind, Severity
from tenantatlas.workspaces.models import Role

CHANNELS = (
    ("In-app", ChannelKind.IN_APP),
    ("E-mail to members", ChannelKind.EMAIL),
)
RULES = (
    ("Run failures", EventKind.RUN_FAILED),
    ("Connection health", EventKind.CONNECTION_HEALTH),
    ("Credential expiry", EventKind.CREDENTIAL_EXPIRY),
)
ROLES = [Role.OWNER.value, Role.MANAGER.value]


def create_defaults(workspace_id: int, channel_model: Any, rule_model: Any) -> None:
    """Create the default channels and rules (models passed in, so migrations can call it)."""
    channels = [
        channel_model.objects.get_or_create(
            workspace_id=workspace_id, name=name, defaults={"kind": kind, "to_members": True}
        )[0]
        for name, kind in CHANNELS
    ]
    for name, kind in RULES:
        rule, created = rule_model.objects.get_or_create(
            workspace_id=workspace_id,
            name=name,
            defaults={
                "event_kind": kind,
                "min_severity": Severity.WARNING,
                "digest": Digest.IMMEDIATE,
                "recipient_roles": ROLES,
            },
        )
        if created:
            rule.channels.set(channels)


def on_workspace_saved(
    sender: Any, instance: Any, created: bool, raw: bool = False, **kw: Any
) -> None:
    if created and not raw:
        from tenantatlas.alerts.models import AlertChannel, AlertRule

        create_defaults(instance.pk, AlertChannel, AlertRule)
