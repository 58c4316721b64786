"""Connection health: can we authenticate, with which permissions, against the right tenant?

The check builds one HealthResult step by step (token and permissions → the tenant →
Intune → the credential's expiry) and ends its run with it in the context; a finding that makes
the connection unhealthy ends the run failed, with the findings so far.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from django.conf import settings
from django.utils import timezone

from tenantatlas.graph.contracts import required_permissions
from tenantatlas.lib.reasons import ProviderError, RetryLater, get_reason
from tenantatlas.operations.handlers import (
    FAILED,
    PARTIALLY_SUCCEEDED,
    SUCCEEDED,
    RunContext,
    RunOutcome,
)
from tenantatlas.providers.gateway import ProviderGateway
from tenantatlas.providers.health_result import HealthResult
from tenantatlas.providers.models import CredentialKind, Health, ProviderCredential


def permission_gaps(roles: list[str]) -> tuple[list[str], list[str]]:
    """(missing, extra): the least-privileged permission of each contract no granted role covers,
    and granted roles that no contract needs."""
    granted = set(roles)
    needed: set[str] = set()
    missing: list[str] = []
    for acceptable in required_permissions().values():
        needed.update(acceptable)
        if not granted.intersection(acceptable) and acceptable[0] not in missing:
            missing.append(acceptable[0])
    return sorted(missing), sorted(granted - needed)


def _default_domain(org: dict[str, Any]) -> str:
    for domain in org.get("verifiedDomains") or []:
        if domain.get("isDefault"):
            return str(domain.get("name", ""))
    return ""


def _expiry(credential: ProviderCredential) -> tuple[str, str, str] | None:
    """(health, reason code, message) when the credential has expired or expires soon."""
    expires_at = credential.expires_at
    if expires_at is None:
        return None
    now = timezone.now()
    if expires_at <= now:
        code = (
            "auth.client_secret_expired"
            if credential.kind == CredentialKind.CLIENT_SECRET
            else "auth.certificate_invalid"
        )
        return Health.UNHEALTHY, code, f"The credential expired on {expires_at:%Y-%m-%d}."
    if expires_at - now <= dt.timedelta(days=settings.CREDENTIAL_EXPIRY_WARNING_DAYS):
        message = f"The credential expires on {expires_at:%Y-%m-%d}."
        return Health.DEGRADED, "credential.expiring", message
    return None


def _probe_intune(client: Any, roles: list[str]) -> dict[str, Any]:
    """One cheap Intune read tells whether Intune is licensed (and how many devices it manages)."""
    acceptable = required_permissions(["device_overview.get"])["device_overview.get"]
    if not set(roles).intersection(acceptable):
        return {"intune": "not_checked"}
    try:
        overview = client.get("device_overview.get")
    except ProviderError as exc:
        if exc.reason_code == "graph.license_missing":
            return {"intune": "unlicensed"}
        # Throttling or an outage is not a property of the connection: say it was not checked.
        return {"intune": "not_checked", "intune_error": exc.reason_code}
    return {"intune": "licensed", "enrolled_devices": overview.get("enrolledDeviceCount")}


class Unhealthy(Exception):
    """A finding that ends the check: the connection cannot work as it is."""

    def __init__(self, found: HealthResult, details: dict[str, Any] | None = None) -> None:
        super().__init__(found.reason_code)
        self.found = found
        self.details = details or {}


def _permissions(found: HealthResult, roles: list[str] | None) -> HealthResult:
    """What the token grants against what the Graph contracts need."""
    if roles is None:  # a token without roles: nobody granted admin consent
        missing, _ = permission_gaps([])
        found = dataclasses.replace(found, granted=(), missing=tuple(missing), extra=())
        code = "auth.consent_missing"
        raise Unhealthy(found.but(Health.UNHEALTHY, code, get_reason(code).message))
    missing, extra = permission_gaps(roles)
    found = dataclasses.replace(
        found, granted=tuple(sorted(roles)), missing=tuple(missing), extra=tuple(extra)
    )
    if missing:
        message = "Missing application permissions: " + ", ".join(missing)
        return found.but(Health.DEGRADED, "graph.permission_denied", message)
    return found


def _organization(gateway: ProviderGateway, client: Any, found: HealthResult) -> HealthResult:
    """The tenant's name and default domain, once /organization proved it is the right tenant
    (another tenant's name is never recorded on this connection)."""
    try:
        org = gateway.verify_tenant(client)
    except RetryLater:
        raise
    except ProviderError as exc:
        verdict = found.but(Health.UNHEALTHY, exc.reason_code, exc.message)
        raise Unhealthy(verdict, exc.details) from exc
    name, domain = str(org.get("displayName", "")), _default_domain(org)
    return dataclasses.replace(found, tenant_name=name, default_domain=domain)


def _intune(client: Any, found: HealthResult) -> HealthResult:
    probe = _probe_intune(client, list(found.granted or ()))
    found = dataclasses.replace(
        found,
        intune=probe["intune"],
        intune_error=probe.get("intune_error", ""),
        enrolled_devices=probe.get("enrolled_devices"),
    )
    if found.intune == "unlicensed" and found.health == Health.HEALTHY:
        message = "Microsoft Intune is not licensed in this tenant: device data cannot be read."
        return found.but(Health.DEGRADED, "graph.license_missing", message)
    return found


def _credential(credential: ProviderCredential, found: HealthResult) -> HealthResult:
    found = dataclasses.replace(found, credential_expires_at=credential.expires_at)
    expiry = _expiry(credential)
    if expiry is None:
        return found
    health, code, message = expiry
    if health == Health.UNHEALTHY:
        raise Unhealthy(found.but(health, code, message))
    return found.but(health, code, message) if found.health == Health.HEALTHY else found


def _examine(ctx: RunContext, gateway: ProviderGateway) -> HealthResult:
    # A check that verifies a new credential signs in with it (services/rotation.py).
    verifying = ctx.run.params.get("credential_id")
    credential = (
        gateway.pending_credential(verifying) if verifying else gateway.current_credential()
    )
    tokens = gateway.token_provider(credential)
    token = tokens.get_token()
    ctx.check_stop()
    found = HealthResult(health=Health.HEALTHY, checked_at=timezone.now())
    found = _permissions(found, token.roles)
    found = _organization(gateway, gateway.graph_client(tokens), found)
    found = _intune(gateway.graph_client(tokens, max_attempts=1), found)
    return _credential(credential, found)


def health_check(ctx: RunContext) -> RunOutcome:
    connection = ctx.run.connection
    gateway = ProviderGateway(connection, redactor=ctx.redactor, purpose="provider.health_check")
    try:
        found = _examine(ctx, gateway)
    except Unhealthy as exc:
        return RunOutcome(
            status=FAILED,
            context={"health": exc.found.to_json(), "failure_details": exc.details},
            reason_code=exc.found.reason_code,
            message=exc.found.message,
        )
    counts = {name: len(getattr(found, name) or ()) for name in ("granted", "missing", "extra")}
    return RunOutcome(
        status=SUCCEEDED if found.health == Health.HEALTHY else PARTIALLY_SUCCEEDED,
        summary_counts=counts,
        context={"health": found.to_json(), "graph": gateway.recorder.summary()},
        reason_code=found.reason_code,
        message=found.message,
    )
