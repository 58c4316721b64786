"""Connection health: can we authenticate, with which permissions, against the right tenant?"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.utils import timezone

from tenantatlas.graph.contracts import required_permissions
from tenantatlas.lib.reasons import ProviderError, get_reason
from tenantatlas.operations.handlers import PARTIALLY_SUCCEEDED, SUCCEEDED, RunContext, RunOutcome
from tenantatlas.providers.gateway import ProviderGateway
from tenantatlas.providers.models import Health


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


def _expiry_problem(expires_at: dt.datetime | None) -> tuple[str, str] | None:
    if expires_at is None:
        return None
    now = timezone.now()
    if expires_at <= now:
        return "unhealthy", f"The credential expired on {expires_at:%Y-%m-%d}."
    if expires_at - now <= dt.timedelta(days=settings.CREDENTIAL_EXPIRY_WARNING_DAYS):
        return "degraded", f"The credential expires on {expires_at:%Y-%m-%d}."
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


def _record_organization(gateway: ProviderGateway, client: Any, result: dict[str, Any]) -> None:
    """The tenant's name and default domain, once /organization proved it is the right tenant
    (another tenant's name is never recorded on this connection)."""
    try:
        org = gateway.verify_tenant(client)
    except ProviderError as exc:
        exc.details = {
            **exc.details,
            "health": {**result, "health": Health.UNHEALTHY, "reason_code": exc.reason_code},
        }
        raise
    result.update(tenant_name=str(org.get("displayName", "")), default_domain=_default_domain(org))


def health_check(ctx: RunContext) -> RunOutcome:
    gateway = ProviderGateway(
        ctx.run.connection, redactor=ctx.redactor, purpose="provider.health_check"
    )
    credential = gateway.current_credential()
    tokens = gateway.token_provider(credential)
    token = tokens.get_token()
    ctx.check_stop()
    result: dict[str, Any] = {
        "granted": sorted(token.roles or []),
        "checked_at": timezone.now().isoformat(),
    }
    if token.roles is None:
        missing, _ = permission_gaps([])
        result.update(
            health=Health.UNHEALTHY, reason_code="auth.consent_missing", missing=missing, extra=[]
        )
        raise ProviderError(
            "auth.consent_missing",
            get_reason("auth.consent_missing").message,
            details={"health": result},
        )
    missing, extra = permission_gaps(token.roles)
    result.update(missing=missing, extra=extra)

    _record_organization(gateway, gateway.graph_client(tokens), result)

    health, reason_code, message = Health.HEALTHY, "", ""
    if missing:
        health, reason_code = Health.DEGRADED, "graph.permission_denied"
        message = "Missing application permissions: " + ", ".join(missing)
    intune = _probe_intune(gateway.graph_client(tokens, max_attempts=1), token.roles)
    result.update(intune)
    if intune.get("intune") == "unlicensed" and health == Health.HEALTHY:
        health, reason_code = Health.DEGRADED, "graph.license_missing"
        message = "Microsoft Intune is not licensed in this tenant: device data cannot be read."
    expiry = _expiry_problem(credential.expires_at)
    if expiry is not None:
        level, expiry_message = expiry
        if level == "unhealthy":
            code = (
                "auth.client_secret_expired"
                if credential.kind == "client_secret"
                else "auth.certificate_invalid"
            )
            result.update(health=Health.UNHEALTHY, reason_code=code, message=expiry_message)
            raise ProviderError(code, expiry_message, details={"health": result})
        if health == Health.HEALTHY:
            health, reason_code, message = Health.DEGRADED, "credential.expiring", expiry_message
    result.update(health=health, reason_code=reason_code, message=message)
    return RunOutcome(
        status=SUCCEEDED if health == Health.HEALTHY else PARTIALLY_SUCCEEDED,
        summary_counts={"granted": len(token.roles), "missing": len(missing), "extra": len(extra)},
        context={"health": result, "graph": gateway.recorder.summary()},
        reason_code=reason_code,
        message=message,
    )
