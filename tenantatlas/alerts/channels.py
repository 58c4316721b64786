"""Sending one delivery through its channel: in-app, e-mail (SMTP), webhook, Microsoft Teams.

Each sender answers with a ``SendResult``; none raises for a receiver's failure. Secrets (the
webhook's signing secret, the Teams URL, which carries a signature) are opened here only, and
registered with the redactor so no error message, log line or delivery log can show them.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import smtplib
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.core.mail import EmailMultiAlternatives
from django.utils import timezone

from tenantatlas.alerts import payloads
from tenantatlas.alerts.addresses import OutboundError, OutboundPolicy, OutboundRefused, redact_url
from tenantatlas.alerts.models import AlertChannel, AlertDelivery, ChannelKind
from tenantatlas.alerts.outbound import post
from tenantatlas.alerts.secrets import SecretUnreadable, open_secret
from tenantatlas.lib.sanitize import current_redactor
from tenantatlas.notifications.services import notify
from tenantatlas.workspaces.models import Membership, Role

SIGNATURE_HEADER = "X-TenantAtlas-Signature"
DELIVERY_HEADER = "X-TenantAtlas-Delivery"
TIMESTAMP_HEADER = "X-TenantAtlas-Timestamp"
EVENT_HEADER = "X-TenantAtlas-Schema"


def send(delivery: AlertDelivery) -> SendResult:
    """Send through the delivery's channel (inside the caller's redaction scope)."""
    return SENDERS[delivery.channel.kind](delivery)


@dataclass(frozen=True)
class SendResult:
    """What one attempt came to. ``retry_after``: the receiver's own wait, in seconds."""

    ok: bool
    status_code: int | None = None
    error: str = ""
    retryable: bool = True
    retry_after: float | None = None


def notify_in_app(delivery: AlertDelivery) -> None:
    """The in-app notifications of a delivery. The caller writes them in the transaction that
    records the delivery's outcome (delivery.deliver): exactly once."""
    items = payloads.items_of(delivery)
    for user in recipients(delivery):
        for item in items or [None]:  # type: ignore[list-item]
            notify(
                user=user,
                workspace=delivery.workspace,
                kind="alert",
                title=item.event.title if item else payloads.headline(delivery, []),
                body=item.event.body if item else "A test of the in-app channel.",
                url=item.event.path if item else payloads.delivery_page(delivery),
            )


def recipients(delivery: AlertDelivery) -> list[Any]:
    """The people an in-app or e-mail delivery reaches: the tester of a test; otherwise the
    members in the rule's roles (when the channel goes to members), without the person who
    started the run it is about (their own notice told them already)."""
    users = get_user_model()._default_manager
    if delivery.is_test:
        return list(users.filter(pk=delivery.requested_by_id)) if delivery.requested_by_id else []
    channel, rule = delivery.channel, delivery.rule
    if not channel.to_members or rule is None or not rule.recipient_roles:
        return []
    member_ids = Membership.objects.filter(
        workspace_id=delivery.workspace_id, role__in=rule.recipient_roles
    ).values("user_id")
    items = payloads.items_of(delivery)
    skip = {items[0].event.facts.get("requested_by")} if len(items) == 1 else set()
    return [
        u
        for u in users.filter(pk__in=member_ids, is_active=True).order_by("pk")
        if u.pk not in skip
    ]


def _in_app_placeholder(delivery: AlertDelivery) -> SendResult:
    raise RuntimeError(
        "In-app deliveries are recorded with their notifications (delivery.deliver)."
    )


def send_email(delivery: AlertDelivery) -> SendResult:
    items = payloads.items_of(delivery)
    to = [u.email for u in recipients(delivery) if getattr(u, "email", "")]
    to += [a for a in delivery.channel.addresses if a not in to]
    if not to:
        return SendResult(
            ok=False, retryable=False, error="No recipient: no member in the rule's roles has an "
            "e-mail address, and the channel lists none."
        )  # fmt: skip
    subject, text, html = payloads.email_parts(delivery, items)
    message = EmailMultiAlternatives(
        subject=subject,
        body=text,
        to=to,
        headers={
            "Message-ID": f"<{delivery.key}@tenantatlas>",
            "X-TenantAtlas-Delivery": delivery.key,
        },
    )
    message.attach_alternative(html, "text/html")
    try:
        message.send()
    except smtplib.SMTPRecipientsRefused as exc:
        return SendResult(
            ok=False,
            retryable=False,
            error=f"Every recipient was refused: {_smtp_codes(exc.recipients)}.",
        )
    except smtplib.SMTPResponseException as exc:
        permanent = 500 <= exc.smtp_code < 600
        return SendResult(
            ok=False,
            status_code=exc.smtp_code,
            retryable=not permanent,
            error=f"The mail server answered {exc.smtp_code}: {_text(exc.smtp_error)}",
        )
    except (smtplib.SMTPException, OSError, ssl.SSLError) as exc:
        return SendResult(
            ok=False, error=f"The mail server could not be reached ({type(exc).__name__}: {exc})."
        )
    return SendResult(ok=True, status_code=250)


def _smtp_codes(refused: dict[str, tuple[int, bytes]]) -> str:
    return ", ".join(f"{address} ({code})" for address, (code, _msg) in refused.items())


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """HMAC-SHA256 over ``"<timestamp>." + body`` with the channel's secret, hex."""
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def send_webhook(delivery: AlertDelivery) -> SendResult:
    channel = delivery.channel
    try:
        secret = open_secret(channel.secret_ciphertext)
    except SecretUnreadable as exc:
        return SendResult(ok=False, retryable=False, error=str(exc))
    current_redactor().register(secret, channel.url)
    now = timezone.now()
    body = payloads.webhook_body(delivery, payloads.items_of(delivery), now)
    timestamp = int(now.timestamp())
    headers = {
        "Content-Type": "application/json",
        DELIVERY_HEADER: delivery.key,
        TIMESTAMP_HEADER: str(timestamp),
        EVENT_HEADER: payloads.SCHEMA,
    }
    if secret:
        headers[SIGNATURE_HEADER] = f"t={timestamp},v1={sign(secret, timestamp, body)}"
    return _post(channel.url, body, headers)


def send_teams(delivery: AlertDelivery) -> SendResult:
    try:
        url = open_secret(delivery.channel.secret_ciphertext)
    except SecretUnreadable as exc:
        return SendResult(ok=False, retryable=False, error=str(exc))
    current_redactor().register(url)
    message = payloads.teams_message(delivery, payloads.items_of(delivery))
    body = json.dumps(message, separators=(",", ":")).encode()
    return _post(url, body, {"Content-Type": "application/json"})


def _post(url: str, body: bytes, headers: dict[str, str]) -> SendResult:
    where = redact_url(url)
    try:
        response = post(url, body, headers, OutboundPolicy.from_settings())
    except OutboundRefused as exc:
        return SendResult(ok=False, retryable=False, error=f"{exc.message} ({exc.code})")
    except OutboundError as exc:
        return SendResult(ok=False, error=f"{exc.message} ({exc.code})")
    status = response.status
    if 200 <= status < 300:
        return SendResult(ok=True, status_code=status)
    retryable = status in (408, 425, 429) or status >= 500
    error = f"{where} answered {status}"
    if 300 <= status < 400:
        error += " (a redirect; redirects are not followed)"
    # The answer's body is never shown: from a receiver on a private network it could carry
    # internal content into a page every member sees.
    return SendResult(
        ok=False,
        status_code=status,
        retryable=retryable,
        error=error,
        retry_after=response.retry_after if retryable else None,
    )


SENDERS: dict[str, Callable[[AlertDelivery], SendResult]] = {
    ChannelKind.IN_APP: _in_app_placeholder,
    ChannelKind.EMAIL: send_email,
    ChannelKind.WEBHOOK: send_webhook,
    ChannelKind.TEAMS: send_teams,
}


def tell_owners_channel_failing(channel: AlertChannel) -> None:
    """In-app, to every owner: the channel has failed too often and is marked failing."""
    owners = Membership.objects.filter(workspace_id=channel.workspace_id, role=Role.OWNER)
    for membership in owners.select_related("user", "workspace"):
        notify(
            user=membership.user,
            workspace=membership.workspace,
            kind="alert.channel_failing",
            title=f"Alert channel “{channel.name}” is failing",
            body=(
                f"{channel.consecutive_failures} deliveries in a row failed. Last error: "
                f"{channel.last_error or 'none recorded'} Check the channel and send a test."
            ),
            url=f"/w/{membership.workspace.slug}/alerts/channels/{channel.pk}/",
        )
