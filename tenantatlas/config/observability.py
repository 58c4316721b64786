"""Metrics and logs settings: the scrapers' networks, ``LOGGING`` (docs/operations.md)."""

from __future__ import annotations

import ipaddress
from typing import Any

from django.core.exceptions import ImproperlyConfigured


def check_metrics_networks(networks: list[str]) -> None:
    """Each of TENANTATLAS_METRICS_ALLOWED_NETWORKS is an address or a network (CIDR)."""
    for network in networks:
        try:
            ipaddress.ip_network(network, strict=False)
        except ValueError:
            raise ImproperlyConfigured(
                f"TENANTATLAS_METRICS_ALLOWED_NETWORKS: {network!r} is not an address or network"
            ) from None


def logging_config(level: str, log_format: str) -> dict[str, Any]:
    """One line per record on stderr, plain or JSON; every handler sanitizes (lib/sanitize.py)."""
    if log_format not in {"plain", "json"}:
        raise ImproperlyConfigured(f"TENANTATLAS_LOG_FORMAT={log_format!r}: use plain or json")
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"sanitize": {"()": "tenantatlas.lib.sanitize.SanitizingFilter"}},
        "formatters": {
            "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
            "json": {"()": "tenantatlas.observability.logs.SanitizedJsonFormatter"},
        },
        "handlers": {
            "console": {
                "class": "logging.StreamHandler",
                "formatter": log_format,
                "filters": ["sanitize"],
            }
        },
        "root": {"handlers": ["console"], "level": level},
        "loggers": {
            "django.db.backends": {"level": "INFO"},
            # accounts.lockout logs each failed sign-in and lockout; axes' own lines mask both.
            "axes": {"level": "ERROR"},
            # MSAL's debug events show a sign-in's authorization code and PKCE verifier in clear.
            "msal.token_cache": {"level": "INFO"},
        },
    }
