"""Raising alert events and fanning them out to the rules that match, in the caller's transaction.

``raise_event`` is the outbox's only door: the domain that saw something happen calls it inside
the transaction that records it (a run's terminal move, a health change, a snapshot), so the
event exists exactly when its cause does. The rules are matched there too, and the deliveries
written; the workers hand them to channels after commit (``alerts/delivery.py``).
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from tenantatlas.alerts.delivery import enqueue_delivery
from tenantatlas.alerts.models import (
    Alert,
    AlertDelivery,
    AlertEvent,
    AlertRule,
    Digest,
    EventKind,
    Severity,
)
from tenantatlas.lib.sanitize import sanitize

logger = logging.getLogger(__name__)

TITLE_LIMIT = AlertEvent._meta.get_field("title").max_length or 200
BODY_LIMIT = AlertEvent._meta.get_field("body").max_length or 1000


@dataclass(frozen=True)
class NewEvent:
    """What a domain hands in: the facts and the words, already in product language."""

    workspace_id: int
    kind: str
    severity: int
    key: str
    title: str
    body: str = ""
    path: str = ""
    connection_id: int | None = None
    facts: dict[str, Any] = field(default_factory=dict)
    rule_id: int | None = None
    occurred_at: dt.datetime | None = None


def raise_event(new: NewEvent) -> AlertEvent | None:
    """Record the event and its alerts and deliveries (inside the caller's transaction).

    Returns None when an event with the same key exists already (it happened once) or no
    enabled rule of the workspace listens for its kind (nothing is stored). A failure
    here is logged and rolled back to a savepoint: the cause (a run ending) still commits.
    """
    if new.kind not in EventKind.values:
        raise ValueError(f"Unknown alert event kind {new.kind!r}.")
    if not listening(new.workspace_id, new.kind, new.rule_id):
        return None  # nobody would hear of it: a rule added later hears of later events
    try:
        with transaction.atomic():
            event = AlertEvent.objects.create(
                workspace_id=new.workspace_id,
                kind=new.kind,
                severity=new.severity,
                key=new.key[:200],
                connection_id=new.connection_id,
                rule_id=new.rule_id,
                title=sanitize(new.title, limit=TITLE_LIMIT),
                body=sanitize(new.body, limit=BODY_LIMIT),
                path=_local_path(new.path),
                facts=new.facts,
                occurred_at=new.occurred_at or timezone.now(),
            )
    except IntegrityError:
        return None  # raised before: the key makes an event happen once
    try:
        with transaction.atomic():
            fan_out(event)
    except Exception:
        logger.exception("Alert event %s (%s) could not be fanned out", event.pk, event.kind)
    return event


def listening(workspace_id: int, kind: str, rule_id: int | None = None) -> bool:
    """Whether an enabled rule of the workspace wants events of this kind."""
    rules = AlertRule.objects.filter(workspace_id=workspace_id, event_kind=kind, is_enabled=True)
    if rule_id is not None:
        rules = rules.filter(pk=rule_id)
    return rules.exists()


def _local_path(path: str) -> str:
    path = (path or "").strip()
    if not path.startswith("/") or path.startswith("//") or "\\" in path or len(path) > 300:
        return ""
    return path


def fan_out(event: AlertEvent) -> list[AlertDelivery]:
    """One Alert per matching rule; deliveries now for immediate rules, at the window's end
    for digests. Deliveries are handed to the workers once the transaction commits."""
    rules = AlertRule.objects.filter(
        workspace_id=event.workspace_id, event_kind=event.kind, is_enabled=True
    ).prefetch_related("connections", "channels")
    if event.rule_id is not None:
        rules = rules.filter(pk=event.rule_id)
    deliveries: list[AlertDelivery] = []
    for rule in rules:
        if not matches(rule, event):
            continue
        window_end = digest_window_end(rule.digest, event.occurred_at)
        alert = Alert.objects.create(
            workspace_id=event.workspace_id, rule=rule, event=event, window_end=window_end
        )
        if window_end is None:
            deliveries.extend(_deliveries(rule, [alert], f"r{rule.pk}-e{event.pk}"))
    return deliveries


def _deliveries(rule: AlertRule, alerts: list[Alert], stem: str) -> list[AlertDelivery]:
    """One delivery per enabled channel of the rule, each enqueued after commit."""
    made = []
    now = timezone.now()
    for channel in rule.channels.all():
        if not channel.is_enabled:
            continue
        delivery, created = AlertDelivery.objects.get_or_create(
            key=f"{stem}-c{channel.pk}",
            defaults={
                "workspace_id": rule.workspace_id,
                "channel": channel,
                "rule": rule,
                "next_attempt_at": now,
            },
        )
        if created:
            delivery.alerts.add(*alerts)
            transaction.on_commit(functools.partial(enqueue_delivery, delivery.pk))
            made.append(delivery)
    return made


def matches(rule: AlertRule, event: AlertEvent) -> bool:
    """Whether the rule wants this event: severity, scope, and the kind's own condition."""
    if event.severity < rule.min_severity:
        return False
    if not rule.all_connections:
        chosen = {c.pk for c in rule.connections.all()}
        if event.connection_id not in chosen:
            return False
    condition = CONDITIONS.get(event.kind)
    return condition is None or condition(rule.params or {}, event.facts or {})


def _compliance(params: dict[str, Any], facts: dict[str, Any]) -> bool:
    """Above the rule's share (and was not before), or up by its points since the last snapshot."""
    share, previous = facts.get("noncompliant_share"), facts.get("previous_noncompliant_share")
    if share is None:
        return False
    above = params.get("share_above")
    if above is not None and share > float(above) and (previous is None or previous <= above):
        return True
    up = params.get("points_up")
    return up is not None and previous is not None and share - previous >= float(up)


def _changes(params: dict[str, Any], facts: dict[str, Any]) -> bool:
    """Any change in one of the rule's kinds (every kind when it chose none)."""
    counts: dict[str, int] = facts.get("changes_by_kind", {})
    wanted = params.get("kinds") or list(counts)
    return any(counts.get(kind, 0) > 0 for kind in wanted)


CONDITIONS: dict[str, Callable[[dict[str, Any], dict[str, Any]], bool]] = {
    EventKind.COMPLIANCE: _compliance,
    EventKind.CHANGES: _changes,
}


def digest_window_end(digest: str, moment: dt.datetime) -> dt.datetime | None:
    """When the digest holding an event at ``moment`` is sent: the next full hour, or the next
    midnight UTC; None for immediate rules."""
    if digest == Digest.HOURLY:
        return moment.replace(minute=0, second=0, microsecond=0) + dt.timedelta(hours=1)
    if digest == Digest.DAILY:
        start = moment.astimezone(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        return start + dt.timedelta(days=1)
    return None


def send_due_digests(now: dt.datetime | None = None) -> int:
    """Deliveries for every digest window that has ended; its alerts then leave the waiting
    list (``window_end`` cleared), so the due query only ever reads what waits. Safe beside
    another tick doing the same (row locks, unique keys). Returns how many deliveries."""
    now = now or timezone.now()
    made = 0
    due = Alert.objects.filter(window_end__lte=now).values_list("rule_id", "window_end").distinct()
    for rule_id, window_end in list(due.order_by()):
        try:
            with transaction.atomic():
                waiting = Alert.objects.select_for_update().filter(
                    rule_id=rule_id, window_end=window_end
                )
                alerts = list(waiting)
                rule = AlertRule.objects.filter(pk=rule_id).prefetch_related("channels").first()
                if not alerts or rule is None or window_end is None:
                    continue
                stem = f"r{rule.pk}-d{window_end.astimezone(dt.UTC):%Y%m%dT%H%MZ}"
                made += len(_deliveries(rule, alerts, stem))
                Alert.objects.filter(pk__in=[a.pk for a in alerts]).update(window_end=None)
        except IntegrityError:
            continue  # another tick made this window's deliveries first
    return made


def severity_name(value: int) -> str:
    try:
        return str(Severity(value).label)
    except ValueError:
        return "Unknown"
