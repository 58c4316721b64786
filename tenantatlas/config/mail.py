"""``MAILERS`` from TENANTATLAS_SMTP_URL (docs/alerts.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from django.core.exceptions import ImproperlyConfigured

_SMTP = "django.core.mail.backends.smtp.EmailBackend"


def mailers(smtp_url: str, *, production: bool, mail_dir: Path, timeout: int) -> dict[str, Any]:
    """SMTP at the URL (smtp: STARTTLS, smtps: TLS, smtp+plain: none); without one, the local
    mail server in production and files in ``mail_dir`` in the embedded product."""
    if smtp_url:
        smtp = urlsplit(smtp_url)
        if smtp.scheme not in ("smtp", "smtps", "smtp+plain") or not smtp.hostname:
            raise ImproperlyConfigured(
                "TENANTATLAS_SMTP_URL: use smtp://host:587 (STARTTLS), smtps://host:465 (TLS) or "
                "smtp+plain://host:25 (no encryption, a trusted relay only)"
            )
        options = {
            "host": smtp.hostname,
            "port": smtp.port or {"smtps": 465, "smtp": 587}.get(smtp.scheme, 25),
            "username": unquote(smtp.username or ""),
            "password": unquote(smtp.password or ""),
            "use_ssl": smtp.scheme == "smtps",
            "use_tls": smtp.scheme == "smtp",
            "timeout": timeout,
        }
        return {"default": {"BACKEND": _SMTP, "OPTIONS": options}}
    if production:
        # No URL in production: the machine's own mail server (a local MTA), as Django always did.
        options = {"host": "localhost", "port": 25, "timeout": timeout}
        return {"default": {"BACKEND": _SMTP, "OPTIONS": options}}
    return {
        "default": {
            "BACKEND": "django.core.mail.backends.filebased.EmailBackend",
            "OPTIONS": {"file_path": str(mail_dir)},
        }
    }
