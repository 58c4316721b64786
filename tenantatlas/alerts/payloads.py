"""What each channel receives: the webhook's JSON (schema ``tenantatlas.alert.v1``), the Teams
Adaptive Card, the e-mail's subject, text and HTML. One delivery carries one alert, or a digest's
several, in the order they happened.

Only product words and ids go out: titles and bodies were sanitized when the event was raised,
and no channel's secret, URL or token is ever part of a payload.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.template.loader import render_to_string

from tenantatlas.alerts.models import AlertDelivery, AlertEvent, Severity

SCHEMA = "tenantatlas.alert.v1"
TEAMS_CARD_VERSION = "1.4"


@dataclass(frozen=True)
class Item:
    """One alert as channels show it."""

    event: AlertEvent
    connection_name: str
    tenant_id: str

    @property
    def link(self) -> str:
        return absolute(self.event.path)


def absolute(path: str) -> str:
    return f"{settings.SITE_URL.rstrip('/')}{path}" if path else settings.SITE_URL


def items_of(delivery: AlertDelivery) -> list[Item]:
    events = (
        AlertEvent.objects.filter(alerts__deliveries=delivery)
        .select_related("connection")
        .order_by("occurred_at", "id")
    )
    return [
        Item(
            event,
            event.connection.display_name if event.connection else "",
            str(event.connection.entra_tenant_id) if event.connection else "",
        )
        for event in events
    ]


def _severity(value: int) -> str:
    try:
        return Severity(value).name.lower()
    except ValueError:
        return "unknown"


def _time(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def headline(delivery: AlertDelivery, items: list[Item]) -> str:
    if delivery.is_test:
        return "Test alert from TenantAtlas"
    if len(items) == 1:
        return items[0].event.title
    name = delivery.rule.name if delivery.rule else "Alerts"
    return f"{name}: {len(items)} alerts"


def webhook_document(
    delivery: AlertDelivery, items: list[Item], sent_at: dt.datetime
) -> dict[str, Any]:
    """The versioned JSON body (docs/alerts.md, "Webhook payload")."""
    rule = delivery.rule
    return {
        "schema": SCHEMA,
        "id": delivery.key,
        "test": delivery.is_test,
        "sent_at": _time(sent_at),
        "workspace": {"slug": delivery.workspace.slug, "name": delivery.workspace.name},
        "rule": {"id": rule.pk, "name": rule.name, "digest": rule.digest} if rule else None,
        "alerts": [
            {
                "event_id": item.event.pk,
                "kind": item.event.kind,
                "severity": _severity(item.event.severity),
                "title": item.event.title,
                "body": item.event.body,
                "occurred_at": _time(item.event.occurred_at),
                "url": item.link,
                "connection": (
                    {
                        "id": item.event.connection_id,
                        "name": item.connection_name,
                        "tenant_id": item.tenant_id,
                    }
                    if item.event.connection_id
                    else None
                ),
                "facts": item.event.facts,
            }
            for item in items
        ],
    }


def webhook_body(delivery: AlertDelivery, items: list[Item], sent_at: dt.datetime) -> bytes:
    document = webhook_document(delivery, items, sent_at)
    return json.dumps(document, separators=(",", ":"), sort_keys=True).encode()


_CARD_COLOUR = {
    Severity.CRITICAL: "Attention",
    Severity.WARNING: "Warning",
    Severity.INFO: "Default",
}


#: Teams refuses a message above 28 KB as Teams counts it, which is more than its JSON's
#: length (docs/microsoft-facts.md); cards are kept below this many bytes of compact JSON.
TEAMS_CARD_BYTES = 20_000


def teams_message(delivery: AlertDelivery, items: list[Item]) -> dict[str, Any]:
    """A Teams Workflows message: one Adaptive Card attachment (docs/microsoft-facts.md), as
    many of the alerts as fit in ``TEAMS_CARD_BYTES`` (at most 20), then "… and N more"."""
    shown = min(len(items), 20)
    while True:
        message = _teams_message(delivery, items, shown)
        if len(json.dumps(message, separators=(",", ":")).encode()) <= TEAMS_CARD_BYTES:
            return message
        if shown <= 1:
            return _teams_message(delivery, items, shown, body_limit=500)
        shown -= 1


def _teams_message(
    delivery: AlertDelivery, items: list[Item], shown: int, body_limit: int | None = None
) -> dict[str, Any]:
    body: list[dict[str, Any]] = [
        {
            "type": "TextBlock",
            "size": "Large",
            "weight": "Bolder",
            "wrap": True,
            "text": headline(delivery, items),
        },
        {
            "type": "TextBlock",
            "isSubtle": True,
            "wrap": True,
            "spacing": "None",
            "text": f"TenantAtlas · {delivery.workspace.name}",
        },
    ]
    for item in items[:shown]:
        facts = [{"title": "Severity", "value": Severity(item.event.severity).label}]
        if item.connection_name:
            facts.append({"title": "Connection", "value": item.connection_name})
        facts.append({"title": "When", "value": _time(item.event.occurred_at)})
        body.append(
            {
                "type": "TextBlock",
                "weight": "Bolder",
                "wrap": True,
                "separator": True,
                "color": _CARD_COLOUR.get(Severity(item.event.severity), "Default"),
                "text": item.event.title,
            }
        )
        if item.event.body:
            text = item.event.body if body_limit is None else item.event.body[:body_limit]
            body.append({"type": "TextBlock", "wrap": True, "text": text})
        body.append({"type": "FactSet", "facts": facts})
    if len(items) > shown:
        more = len(items) - shown
        body.append({"type": "TextBlock", "wrap": True, "text": f"… and {more} more."})
    link = items[0].link if len(items) == 1 else absolute(delivery_page(delivery))
    card = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": TEAMS_CARD_VERSION,
        "msteams": {"width": "Full"},
        "body": body,
        "actions": [{"type": "Action.OpenUrl", "title": "Open in TenantAtlas", "url": link}],
    }
    return {
        "type": "message",
        "attachments": [
            {
                "contentType": "application/vnd.microsoft.card.adaptive",
                "contentUrl": None,
                "content": card,
            }
        ],
    }


def delivery_page(delivery: AlertDelivery) -> str:
    """The page behind a digest or a test: the channel's delivery log."""
    return f"/w/{delivery.workspace.slug}/alerts/channels/{delivery.channel_id}/"


def email_parts(delivery: AlertDelivery, items: list[Item]) -> tuple[str, str, str]:
    """(subject, plain text, HTML) of the e-mail."""
    subject = f"[TenantAtlas] {headline(delivery, items)}"[:200]
    context = {
        "delivery": delivery,
        "items": items,
        "headline": headline(delivery, items),
        "workspace": delivery.workspace,
        "alerts_url": absolute(delivery_page(delivery)),
    }
    text = render_to_string("alerts/email.txt", context)
    html = render_to_string("alerts/email.html", context)
    return subject, text, html
