"""`{% badge "health" connection.health %}` renders a catalog badge."""

from __future__ import annotations

from django import template
from django.utils.html import format_html
from django.utils.safestring import SafeString

from tenantatlas.badges.catalog import badge_for

register = template.Library()


@register.simple_tag
def badge(domain: str, value: object, title: str = "") -> SafeString:
    found = badge_for(domain, value)
    return format_html(
        '<span class="badge badge-{}" data-badge="{}:{}" title="{}">{}</span>',
        found.tone,
        domain,
        value,
        title or found.description,
        found.label,
    )


@register.simple_tag
def credential_expiry_badge(credential: object) -> SafeString:
    """Expiry badge for a ProviderCredential (or None: 'No credential')."""
    from tenantatlas.badges.catalog import credential_expiry_state

    expires_at = getattr(credential, "expires_at", None)
    state = credential_expiry_state(expires_at, has_credential=credential is not None)
    title = f"Expires {expires_at:%Y-%m-%d}" if expires_at else ""
    return badge("credential_expiry", state, title)


@register.simple_tag
def reason(code: str) -> object:
    """The catalog entry (title, message, remediation) for a reason code."""
    from tenantatlas.lib.reasons import get_reason

    return get_reason(code)
