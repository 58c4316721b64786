"""Sign-in settings' checks: the lockout's limits, Sign in with Microsoft's credential."""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured


def check_lockout(failure_limits: dict[str, int], cool_off_minutes: int) -> None:
    """Either lockout limit and the cool-off are 1 or more."""
    if min(failure_limits.values()) < 1 or cool_off_minutes < 1:
        raise ImproperlyConfigured(
            "TENANTATLAS_SIGN_IN_FAILURES_PER_ACCOUNT, TENANTATLAS_SIGN_IN_FAILURES_PER_ADDRESS and "
            "TENANTATLAS_SIGN_IN_COOL_OFF_MINUTES must be 1 or more"
        )


def check_sign_in(
    *,
    microsoft: bool,
    password: bool,
    client_id: str,
    tenants: list[str],
    client_secret: str,
    certificate: str,
    private_key: str,
) -> None:
    """Sign in with Microsoft has an app, its tenants and one credential; someone can sign in."""
    if microsoft:
        if not client_id or not tenants:
            raise ImproperlyConfigured(
                "TENANTATLAS_MICROSOFT_SIGN_IN=true needs TENANTATLAS_MICROSOFT_SIGN_IN_CLIENT_ID "
                "and TENANTATLAS_MICROSOFT_SIGN_IN_TENANTS (tenant ids or verified domains)"
            )
        if bool(client_secret) == bool(certificate or private_key) or bool(certificate) != bool(
            private_key
        ):
            raise ImproperlyConfigured(
                "Sign in with Microsoft needs either TENANTATLAS_MICROSOFT_SIGN_IN_CLIENT_SECRET or "
                "both TENANTATLAS_MICROSOFT_SIGN_IN_CERTIFICATE and _PRIVATE_KEY (PEM)"
            )
    if not password and not microsoft:
        raise ImproperlyConfigured(
            "TENANTATLAS_PASSWORD_SIGN_IN=false needs TENANTATLAS_MICROSOFT_SIGN_IN=true: "
            "otherwise nobody could sign in"
        )
