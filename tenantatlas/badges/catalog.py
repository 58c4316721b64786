"""Every status-like value is shown through this catalog. Unknown values get a neutral badge."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.conf import settings
from django.utils import timezone


@dataclass(frozen=True)
class Badge:
    label: str
    tone: str  # success, warning, danger, info, neutral
    description: str = ""


UNKNOWN = Badge("Unknown", "neutral", "This value is not recognised.")

CATALOG: dict[str, dict[str, Badge]] = {
    "connection_status": {
        "enabled": Badge("Enabled", "success", "Operations can run on this connection."),
        "disabled": Badge("Disabled", "neutral", "Operations are refused until it is enabled."),
    },
    "health": {
        "unknown": Badge("Not checked", "neutral", "No health check has completed yet."),
        "healthy": Badge("Healthy", "success", "Authentication, permissions and tenant check out."),
        "degraded": Badge(
            "Degraded",
            "warning",
            "Works, but permissions are missing or the credential expires soon.",
        ),
        "unhealthy": Badge(
            "Unhealthy", "danger", "Cannot authenticate or the tenant does not match."
        ),
    },
    "credential_expiry": {
        "valid": Badge("Valid", "success", "The credential is not close to expiring."),
        "expiring": Badge(
            "Expires soon", "warning", "The credential expires within the warning window."
        ),
        "expired": Badge("Expired", "danger", "The credential has expired: rotate it."),
        "none": Badge("No expiry set", "neutral", "No expiry date is known for this credential."),
        "missing": Badge("No credential", "danger", "The connection has no current credential."),
    },
    "credential_state": {
        "current": Badge("In use", "success", "Runs sign in with this credential."),
        "pending": Badge(
            "Being verified",
            "info",
            "A connection check signs in with it; until it passes the credential before it "
            "stays in use.",
        ),
        "retired": Badge("Retired", "neutral", "Replaced by a newer credential."),
        "rejected": Badge("Not used", "warning", "Its check did not pass, or it was discarded."),
    },
    "run_status": {
        "queued": Badge("Queued", "info", "Waiting for a worker."),
        "running": Badge("Running", "info", "A worker is processing this run."),
        "succeeded": Badge("Succeeded", "success", "Finished without errors."),
        "partially_succeeded": Badge(
            "Partially succeeded", "warning", "Finished; some parts failed."
        ),
        "failed": Badge("Failed", "danger", "Finished with an error."),
        "cancelled": Badge("Cancelled", "neutral", "Stopped before it finished."),
    },
    "compliance_state": {
        "compliant": Badge("Compliant", "success"),
        "noncompliant": Badge("Not compliant", "danger"),
        "inGracePeriod": Badge("In grace period", "warning"),
        "conflict": Badge("Conflict", "warning"),
        "error": Badge("Error", "danger"),
        "unknown": Badge("Unknown", "neutral"),
        "configManager": Badge("Config Manager", "info"),
    },
    "default": {
        "true": Badge("Default", "info", "Used when no connection is named."),
    },
    "change_type": {
        "created": Badge("Created", "success", "First seen by this sync."),
        "changed": Badge("Changed", "info", "Settings differ from the previous sync."),
        "removed": Badge("Removed", "warning", "No longer seen by a complete sync."),
    },
    "alert_delivery_status": {
        "pending": Badge("Pending", "info", "Waiting for a worker, or for its next attempt."),
        "sending": Badge("Sending", "info", "A worker is handing it to the channel."),
        "delivered": Badge("Delivered", "success", "The channel accepted it."),
        "failed": Badge("Failed", "danger", "Refused for good, or out of attempts."),
    },
    "alert_channel_state": {
        "ok": Badge("Delivering", "success", "Its last deliveries went through."),
        "failing": Badge(
            "Failing", "danger", "Several deliveries in a row failed: check it and send a test."
        ),
    },
    "alert_switch": {
        "on": Badge("On", "success"),
        "off": Badge("Off", "neutral", "Switched off: nothing is sent."),
    },
    "alert_severity": {
        "10": Badge("Info", "info"),
        "20": Badge("Warning", "warning"),
        "30": Badge("Critical", "danger"),
    },
    "onboarding_status": {
        "pending": Badge("Waiting for consent", "info", "The link is out; nobody has used it yet."),
        "completed": Badge("Connected", "success", "Consent given; the connection was created."),
        "declined": Badge("Declined", "warning", "The customer’s administrator said no."),
        "failed": Badge("Failed", "danger", "Consent or the connection did not go through."),
        "cancelled": Badge("Cancelled", "neutral", "Stopped here; its link no longer works."),
        "expired": Badge("Link expired", "warning", "Renew the link to send it again."),
    },
    "alert_test": {
        "true": Badge("Test", "neutral", "Sent with “Send test”, not by a rule."),
    },
}


def badge_for(domain: str, value: object) -> Badge:
    """The badge for a value of a domain; unknown domains or values render 'Unknown'."""
    return CATALOG.get(domain, {}).get(str(value), UNKNOWN)


def credential_expiry_state(
    expires_at: dt.datetime | None, *, has_credential: bool = True, now: dt.datetime | None = None
) -> str:
    if not has_credential:
        return "missing"
    if expires_at is None:
        return "none"
    now = now or timezone.now()
    if expires_at <= now:
        return "expired"
    if expires_at - now <= dt.timedelta(days=settings.CREDENTIAL_EXPIRY_WARNING_DAYS):
        return "expiring"
    return "valid"
