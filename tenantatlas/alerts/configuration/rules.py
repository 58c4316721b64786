"""Alert rules: create, change, delete (audited)."""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction

from tenantatlas.alerts.configuration.inputs import (
    RuleInput,
    check_channels,
    check_connections,
    check_rule,
    duplicate_name,
)
from tenantatlas.alerts.models import AlertChannel, AlertRule
from tenantatlas.audit.services import record_event
from tenantatlas.lib.actors import Actor, user_or_none
from tenantatlas.workspaces.models import Workspace


def _save_rule(rule: AlertRule, connections: list[Any], channels: list[AlertChannel]) -> None:
    try:
        with transaction.atomic():
            rule.save()
    except IntegrityError:  # a rule of that name was saved meanwhile
        raise duplicate_name(AlertRule, rule.name) from None
    rule.connections.set(connections)
    rule.channels.set(channels)


def _describe_rule(rule: AlertRule) -> dict[str, Any]:
    return {
        "event_kind": rule.event_kind,
        "all_connections": rule.all_connections,
        "connection_ids": sorted(c.pk for c in rule.connections.all()),
        "min_severity": rule.min_severity,
        "digest": rule.digest,
        "recipient_roles": list(rule.recipient_roles),
        "params": dict(rule.params),
        "channel_ids": sorted(c.pk for c in rule.channels.all()),
        "is_enabled": rule.is_enabled,
    }


@transaction.atomic
def create_rule(*, actor: Actor, workspace: Workspace, data: RuleInput) -> AlertRule:
    fields = check_rule(workspace, data, None)
    connections = check_connections(workspace, data)
    channels = check_channels(workspace, data.channel_ids)
    rule = AlertRule(workspace=workspace, created_by=user_or_none(actor), **fields)
    _save_rule(rule, connections, channels)
    record_event(
        workspace=workspace,
        actor=actor,
        action="alert_rule.created",
        target=rule,
        metadata=_describe_rule(rule),
    )
    return rule


@transaction.atomic
def update_rule(*, actor: Actor, rule: AlertRule, data: RuleInput) -> AlertRule:
    fields = check_rule(rule.workspace, data, rule.pk)
    connections = check_connections(rule.workspace, data)
    channels = check_channels(rule.workspace, data.channel_ids)
    before = {"name": rule.name, **_describe_rule(rule)}
    for name, value in fields.items():
        setattr(rule, name, value)
    _save_rule(rule, connections, channels)
    after = {"name": rule.name, **_describe_rule(rule)}
    changes = {k: {"from": before[k], "to": after[k]} for k in after if before[k] != after[k]}
    if changes:
        record_event(
            workspace=rule.workspace,
            actor=actor,
            action="alert_rule.updated",
            target=rule,
            metadata={"changes": changes},
        )
    return rule


@transaction.atomic
def delete_rule(*, actor: Actor, rule: AlertRule) -> None:
    """Its alerts go with it; deliveries already made stay in their channels' logs."""
    record_event(
        workspace=rule.workspace,
        actor=actor,
        action="alert_rule.deleted",
        target=rule,
        metadata={"event_kind": rule.event_kind},
    )
    rule.delete()
