"""The providers app's alert events: a connection's health turning bad or recovering (raised in
the transaction that records it), and credentials nearing expiry (a scan on the reaper's tick).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.urls import reverse

from tenantatlas.alerts.models import AlertEvent, EventKind, Severity
from tenantatlas.alerts.services import NewEvent, listening, raise_event
from tenantatlas.lib.reasons import get_reason
from tenantatlas.providers.models import (
    ConnectionStatus,
    Health,
    PartnerApp,
    ProviderConnection,
    ProviderCredential,
)

TROUBLED = {Health.UNHEALTHY: Severity.CRITICAL, Health.DEGRADED: Severity.WARNING}
#: Days before expiry at which a credential is announced, the most urgent last; 0 = expired.
EXPIRY_THRESHOLDS = (60, 30, 7, 1, 0)
EXPIRY_SEVERITY = {
    60: Severity.INFO,
    30: Severity.WARNING,
    7: Severity.WARNING,
    1: Severity.CRITICAL,
    0: Severity.CRITICAL,
}


def _connection_page(connection: ProviderConnection) -> str:
    return reverse(
        "providers:detail", kwargs={"slug": connection.workspace.slug, "pk": connection.pk}
    )


def _partner_app_page(partner_app: PartnerApp | ProviderConnection) -> str:
    """The partner app page (onboarding's, named by URL as lower apps name upper pages)."""
    return reverse("onboarding:partner_app", kwargs={"slug": partner_app.workspace.slug})


def health_changed(connection: ProviderConnection, previous: str) -> None:
    """Degraded or unhealthy now (from anything else), or healthy again after either. A
    recovery is as important as the trouble it ends: it carries that trouble's severity."""
    now = connection.health
    if now in TROUBLED:
        severity, state = TROUBLED[Health(now)], "troubled"
        reason = (
            get_reason(connection.health_reason_code) if connection.health_reason_code else None
        )
        title = f"Connection {Health(now).label.lower()}: {connection.display_name}"
        body = (
            f"{reason.title}: {reason.message} What to do: {reason.remediation}"
            if reason
            else connection.health_message or "See the connection's last check."
        )
    elif now == Health.HEALTHY and previous in TROUBLED:
        severity, state = TROUBLED[Health(previous)], "recovered"
        title = f"Connection recovered: {connection.display_name}"
        body = f"The connection is healthy again (it was {Health(previous).label.lower()})."
    else:
        return
    checked = connection.health_checked_at
    raise_event(
        NewEvent(
            workspace_id=connection.workspace_id,
            kind=EventKind.CONNECTION_HEALTH,
            severity=severity,
            key=f"health:{connection.pk}:{checked.isoformat() if checked else now}",
            title=title,
            body=body,
            path=_connection_page(connection),
            connection_id=connection.pk,
            occurred_at=checked,
            facts={
                "state": state,
                "from": previous,
                "to": now,
                "reason_code": connection.health_reason_code,
            },
        )
    )


def expiry_threshold(expires_at: dt.datetime, now: dt.datetime) -> int | None:
    """The most urgent threshold the credential has reached (0: expired), or None."""
    reached = [days for days in EXPIRY_THRESHOLDS if expires_at - now <= dt.timedelta(days=days)]
    return reached[-1] if reached else None


def _expiry_event(
    credential: ProviderCredential, owner: Any, days: int, key: str, now: dt.datetime
) -> NewEvent:
    """The event of a credential (of a connection or of a partner app) reaching ``days``."""
    assert credential.expires_at is not None
    connection = credential.connection
    expires = credential.expires_at.strftime("%Y-%m-%d %H:%M UTC")
    name = owner.display_name
    kind = credential.get_kind_display().lower()
    if days == 0:
        title = f"Credential expired: {name}"
        body = f"Its {kind} expired on {expires}. Runs fail until it is rotated."
    else:
        title = f"Credential expires within {days} day{'s' if days > 1 else ''}: {name}"
        body = f"Its {kind} expires on {expires}. Rotate it before then."
    if connection is None:
        body += " Every connection of the partner app signs in with it."
    return NewEvent(
        workspace_id=owner.workspace_id,
        kind=EventKind.CREDENTIAL_EXPIRY,
        severity=EXPIRY_SEVERITY[days],
        key=key,
        title=title,
        body=body,
        path=_connection_page(connection) if connection else _partner_app_page(owner),
        connection_id=connection.pk if connection else None,
        occurred_at=now,
        facts={
            "credential_id": credential.pk,
            "expires_at": credential.expires_at.isoformat(),
            "days_left": days,
        },
    )


def scan_credential_expiry(now: dt.datetime) -> int:
    """Announce each current credential of a live, enabled connection or of a partner app once
    per threshold it reaches (a credential found at 5 days left is announced at 7, then at 1 and
    when expired; never at 60 or 30 after the fact). A rotated credential is a new one."""
    horizon = now + dt.timedelta(days=EXPIRY_THRESHOLDS[0])
    credentials = (
        ProviderCredential.objects.current()
        .filter(expires_at__isnull=False, expires_at__lte=horizon)
        .filter(
            Q(connection__deleted_at__isnull=True, connection__status=ConnectionStatus.ENABLED)
            | Q(partner_app__isnull=False)
        )
        .select_related("connection__workspace", "partner_app__workspace")
        .order_by("pk")
    )
    wanted: dict[int, bool] = {}
    raised = 0
    for credential in credentials.iterator(chunk_size=500):
        connection = credential.connection
        owner = connection or credential.partner_app
        assert owner is not None  # every credential has exactly one owner
        workspace_id = owner.workspace_id
        if workspace_id not in wanted:
            wanted[workspace_id] = listening(workspace_id, EventKind.CREDENTIAL_EXPIRY)
        if not wanted[workspace_id]:
            continue
        assert credential.expires_at is not None
        days = expiry_threshold(credential.expires_at, now)
        if days is None:
            continue
        key = f"credential:{credential.pk}:{days}d"
        if AlertEvent.objects.filter(workspace_id=workspace_id, key=key).exists():
            continue
        with transaction.atomic():
            event = raise_event(_expiry_event(credential, owner, days, key, now))
        raised += event is not None
    return raised
