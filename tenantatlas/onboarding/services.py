"""Onboarding by admin consent: start a link, renew or cancel it, and complete it from Microsoft's
redirect (microsoft-graph-facts §8.3). Every outcome writes its audit event.

The link's ``state`` is an HMAC of the workspace and a random nonce under the install's secret
key; the row keeps the nonce (to show the link again) and the SHA-256 of the state (to find the
onboarding from the callback). A renewed link gets a new nonce, so the old state finds nothing.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import logging
import re
import secrets
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.crypto import salted_hmac

from tenantatlas.audit.services import record_event
from tenantatlas.graph.clouds import get_cloud
from tenantatlas.lib.actors import Actor, SystemActor, user_or_none
from tenantatlas.lib.errors import InvalidInput, Refused
from tenantatlas.lib.reasons import Reason
from tenantatlas.lib.sanitize import sanitize
from tenantatlas.onboarding.models import Onboarding, OnboardingStatus
from tenantatlas.onboarding.reasons import REASONS, reason_of_error
from tenantatlas.operations.models import OperationRun, Trigger
from tenantatlas.operations.services import start_operation
from tenantatlas.providers.models import PartnerApp, ProviderConnection
from tenantatlas.providers.services.connections import create_connection
from tenantatlas.workspaces.models import Workspace

logger = logging.getLogger(__name__)

# Whoever comes back from Microsoft is the customer's administrator, not a TenantAtlas user.
CONSENT_CALLBACK = SystemActor("consent callback")
HEALTH_CHECK = "provider.health_check"
DEFAULT_LINK_DAYS = 7
_DOMAIN = re.compile(r"^(?=.{4,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")


def link_lifetime() -> dt.timedelta:
    return dt.timedelta(days=getattr(settings, "ONBOARDING_LINK_DAYS", DEFAULT_LINK_DAYS))


def redirect_uri() -> str:
    """The one callback address of the install (registered on the partner app in Entra)."""
    return settings.SITE_URL.rstrip("/") + reverse("onboarding_callback")


def _state_of(workspace_id: int, nonce: str) -> str:
    return salted_hmac(
        "tenantatlas.onboarding.state", f"{workspace_id}:{nonce}", algorithm="sha256"
    ).hexdigest()


def _hash(state: str) -> str:
    return hashlib.sha256(state.encode()).hexdigest()


def consent_url(onboarding: Onboarding) -> str:
    """Microsoft's admin-consent address for the customer: their tenant's, or `organizations`."""
    partner_app = onboarding.partner_app
    cloud = get_cloud(partner_app.cloud)
    tenant = onboarding.tenant_hint or "organizations"
    query = urlencode(
        {
            "client_id": str(partner_app.client_id),
            "scope": cloud.scope,
            "redirect_uri": redirect_uri(),
            "state": _state_of(onboarding.workspace_id, onboarding.state_nonce),
        }
    )
    return f"{cloud.authority_host.rstrip('/')}/{tenant}/v2.0/adminconsent?{query}"


def clean_tenant_hint(value: str) -> str:
    """A tenant id (GUID) or a verified domain, lower case; "" when none is given."""
    text = value.strip().lower()
    if not text:
        return ""
    try:
        return str(uuid.UUID(text))
    except ValueError:
        pass
    if _DOMAIN.match(text):
        return text
    raise InvalidInput(
        "Enter the customer's tenant id (a GUID) or a verified domain such as contoso.com.",
        code="invalid_tenant",
        field="tenant_hint",
    )


def _new_link(onboarding: Onboarding) -> None:
    onboarding.state_nonce = secrets.token_urlsafe(24)
    onboarding.state_hash = _hash(_state_of(onboarding.workspace_id, onboarding.state_nonce))
    onboarding.expires_at = timezone.now() + link_lifetime()


def _facts(onboarding: Onboarding, **extra: Any) -> dict[str, Any]:
    facts = {
        "customer_name": onboarding.customer_name,
        "tenant_hint": onboarding.tenant_hint,
        "status": onboarding.status,
        **extra,
    }
    if onboarding.reason_code:
        facts["reason_code"] = onboarding.reason_code
    return facts


@transaction.atomic
def start_onboarding(
    *, actor: Actor, workspace: Workspace, customer_name: str, tenant_hint: str = ""
) -> Onboarding:
    partner_app = PartnerApp.objects.filter(workspace=workspace).first()
    if partner_app is None:
        raise Refused(
            "Set up the workspace's partner app first: consent links are for its app.",
            code="partner_app_missing",
        )
    onboarding = Onboarding(
        workspace=workspace,
        partner_app=partner_app,
        customer_name=customer_name,
        tenant_hint=clean_tenant_hint(tenant_hint),
        created_by=user_or_none(actor),
    )
    _new_link(onboarding)
    onboarding.save()
    record_event(
        workspace=workspace,
        actor=actor,
        action="onboarding.started",
        target=onboarding,
        metadata=_facts(onboarding, expires_at=onboarding.expires_at.isoformat()),
    )
    return onboarding


def _open_for_change(onboarding: Onboarding, verb: str) -> Onboarding:
    row = Onboarding.objects.select_for_update().get(pk=onboarding.pk)
    if not row.is_open:
        raise Refused(
            f"This onboarding is {row.get_status_display().lower()}: there is no link to {verb}.",
            code="onboarding_closed",
        )
    return row


@transaction.atomic
def renew_onboarding_link(*, actor: Actor, onboarding: Onboarding) -> Onboarding:
    """A new link (new state, new expiry); the old link stops working. A declined, failed or
    expired onboarding is pending again."""
    row = _open_for_change(onboarding, "renew")
    previous = row.status
    _new_link(row)
    row.status = OnboardingStatus.PENDING
    row.reason_code = row.reason_message = ""
    row.finished_at = None
    row.save()
    record_event(
        workspace=row.workspace,
        actor=actor,
        action="onboarding.link_renewed",
        target=row,
        metadata=_facts(row, previous_status=previous, expires_at=row.expires_at.isoformat()),
    )
    return row


@transaction.atomic
def cancel_onboarding(*, actor: Actor, onboarding: Onboarding) -> Onboarding:
    row = _open_for_change(onboarding, "cancel")
    previous = row.status
    row.status = OnboardingStatus.CANCELLED
    row.finished_at = timezone.now()
    row.save()
    record_event(
        workspace=row.workspace,
        actor=actor,
        action="onboarding.cancelled",
        target=row,
        metadata=_facts(row, previous_status=previous),
    )
    return row


# -- the callback ----------------------------------------------------------------------------


@dataclass(frozen=True)
class ConsentAnswer:
    """What Microsoft's redirect carried (query parameters, untrusted)."""

    state: str = ""
    tenant: str = ""
    admin_consent: str = ""
    error: str = ""
    error_description: str = ""


@dataclass(frozen=True)
class CallbackOutcome:
    """How a callback ended: a reason code ("" for a new connection) and what it produced."""

    reason_code: str = ""
    onboarding: Onboarding | None = None
    connection: ProviderConnection | None = None
    run: OperationRun | None = None
    start_problem: str = ""  # the connection check could not be queued (and why)
    detail: str = ""  # Microsoft's own words, sanitized

    @property
    def succeeded(self) -> bool:
        return not self.reason_code

    @property
    def reason(self) -> Reason | None:
        return REASONS.get(self.reason_code) if self.reason_code else None


_REFUSED_FOR_STATUS = {
    OnboardingStatus.COMPLETED: "consent.link_used",
    OnboardingStatus.DECLINED: "consent.link_used",
    OnboardingStatus.FAILED: "consent.link_used",
    OnboardingStatus.CANCELLED: "consent.link_cancelled",
    OnboardingStatus.EXPIRED: "consent.link_expired",
}


def _refuse(onboarding: Onboarding, code: str) -> CallbackOutcome:
    """A callback that changes nothing (audited: someone used a dead or forged link)."""
    record_event(
        workspace=onboarding.workspace,
        actor=CONSENT_CALLBACK,
        action="onboarding.callback_refused",
        target=onboarding,
        metadata=_facts(onboarding, refused=code),
    )
    return CallbackOutcome(code, onboarding)


def _finish(
    onboarding: Onboarding,
    status: str,
    code: str = "",
    detail: str = "",
    **values: Any,
) -> bool:
    """Move the pending onboarding to ``status`` (False: another request got there first)."""
    now = timezone.now()
    changed = Onboarding.objects.filter(pk=onboarding.pk, status=OnboardingStatus.PENDING).update(
        status=status, reason_code=code, reason_message=detail, finished_at=now, **values
    )
    if changed:
        onboarding.refresh_from_db()
    return bool(changed)


def _first_line(text: str) -> str:
    return sanitize(text.splitlines()[0] if text else "", limit=500)


@transaction.atomic
def _complete(answer: ConsentAnswer) -> CallbackOutcome:
    presented = answer.state
    onboarding = (
        Onboarding.objects.select_for_update()
        .select_related("workspace", "partner_app")
        .filter(state_hash=_hash(presented))
        .first()
        if presented
        else None
    )
    if onboarding is None:
        logger.warning("Consent callback with an unknown state")
        return CallbackOutcome("consent.link_invalid")
    expected = _state_of(onboarding.workspace_id, onboarding.state_nonce)
    if not hmac.compare_digest(expected, presented):
        return _refuse(onboarding, "consent.link_invalid")  # not bound to this workspace
    if onboarding.status != OnboardingStatus.PENDING:
        return _refuse(onboarding, _REFUSED_FOR_STATUS[OnboardingStatus(onboarding.status)])
    if onboarding.expires_at <= timezone.now():
        return _end(onboarding, OnboardingStatus.EXPIRED, "consent.link_expired")
    if answer.error:
        code, aadsts = reason_of_error(answer.error, answer.error_description)
        status = (
            OnboardingStatus.DECLINED if code == "consent.declined" else OnboardingStatus.FAILED
        )
        detail = _first_line(answer.error_description) or sanitize(answer.error, limit=100)
        return _end(onboarding, status, code, detail, error=answer.error[:60], aadsts=aadsts)
    tenant_id = _tenant_id(answer.tenant)
    if answer.admin_consent.lower() != "true" or tenant_id is None:
        return _end(onboarding, OnboardingStatus.FAILED, "consent.invalid_response")
    if _is_guid(onboarding.tenant_hint) and onboarding.tenant_hint != tenant_id:
        return _end(
            onboarding, OnboardingStatus.FAILED, "consent.wrong_tenant", entra_tenant_id=tenant_id
        )
    return _connect(onboarding, tenant_id)


def _end(
    onboarding: Onboarding, status: str, code: str, detail: str = "", **facts: Any
) -> CallbackOutcome:
    values = {"entra_tenant_id": facts.pop("entra_tenant_id")} if "entra_tenant_id" in facts else {}
    if not _finish(onboarding, status, code, detail, **values):
        return _refuse(onboarding, "consent.link_used")
    record_event(
        workspace=onboarding.workspace,
        actor=CONSENT_CALLBACK,
        action=f"onboarding.{status}",
        target=onboarding,
        metadata=_facts(onboarding, **values, **facts),
    )
    return CallbackOutcome(code, onboarding, detail=detail)


def _connect(onboarding: Onboarding, tenant_id: str) -> CallbackOutcome:
    try:
        connection = create_connection(
            actor=CONSENT_CALLBACK,
            workspace=onboarding.workspace,
            display_name=onboarding.customer_name,
            entra_tenant_id=tenant_id,
            partner_app=onboarding.partner_app,
        )
    except InvalidInput as exc:
        if exc.code != "duplicate_tenant":
            raise
        return _end(
            onboarding,
            OnboardingStatus.FAILED,
            "consent.tenant_already_connected",
            entra_tenant_id=tenant_id,
        )
    if not _finish(
        onboarding, OnboardingStatus.COMPLETED, entra_tenant_id=tenant_id, connection=connection
    ):
        transaction.set_rollback(True)  # another callback completed it: keep no second connection
        return CallbackOutcome("consent.link_used", onboarding)
    record_event(
        workspace=onboarding.workspace,
        actor=CONSENT_CALLBACK,
        action="onboarding.completed",
        target=onboarding,
        metadata=_facts(onboarding, entra_tenant_id=tenant_id, connection_id=connection.pk),
    )
    return CallbackOutcome("", onboarding, connection)


def _is_guid(value: str) -> bool:
    return _tenant_id(value) is not None


def _tenant_id(value: str) -> str | None:
    try:
        return str(uuid.UUID(value.strip()))
    except (ValueError, AttributeError):
        return None


def complete_onboarding(answer: ConsentAnswer) -> CallbackOutcome:
    """Complete the onboarding Microsoft's redirect names (by its state); on a new connection,
    queue its connection check at once (deduplicated like any start)."""
    outcome = _complete(answer)
    if outcome.connection is None:
        return outcome
    try:
        started = start_operation(
            actor=CONSENT_CALLBACK,
            connection=outcome.connection,
            operation_type=HEALTH_CHECK,
            trigger=Trigger.UI,
        )
    except Refused as refusal:
        return CallbackOutcome(
            "", outcome.onboarding, outcome.connection, start_problem=refusal.message
        )
    return CallbackOutcome("", outcome.onboarding, outcome.connection, started.run)
