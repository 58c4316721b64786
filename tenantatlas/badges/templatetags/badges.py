"""`{% badge "health" connection.health %}` renders a catalog badge."""

from __future__ import annotations

from django import template
from django.utils.html import format_html
from django.utils.safestring import SafeString

from tenantatlas.badges.catalog import CATALOG, badge_for

register = template.Library()


@register.simple_tag
def badge(domain: str, value: object, title: str = "", brief: bool = False) -> SafeString:
    """``brief``: without the catalog's description as its title (a long list, whose page
    explains its badges once with ``badge_legend``); a ``title`` given is always kept."""
    found = badge_for(domain, value)
    title = title or ("" if brief else found.description)
    if not title:
        return format_html(
            '<span class="badge badge-{}" data-badge="{}:{}">{}</span>',
            found.tone,
            domain,
            value,
            found.label,
        )
    return format_html(
        '<span class="badge badge-{}" data-badge="{}:{}" title="{}">{}</span>',
        found.tone,
        domain,
        value,
        title,
        found.label,
    )


@register.inclusion_tag("badges/_legend.html")
def badge_legend(*domains: str) -> dict[str, object]:
    """What each value of these domains means, once for a page of brief badges."""
    return {
        "entries": [
            (domain, value, entry)
            for domain in domains
            for value, entry in CATALOG.get(domain, {}).items()
        ]
    }


@register.simple_tag
def credential_expiry_badge(credential: object, brief: bool = False) -> SafeString:
    """Expiry badge for a ProviderCredential (or None: 'No credential'); its title is the
    expiry date, else (not brief) the catalog's description."""
    from tenantatlas.badges.catalog import credential_expiry_state

    expires_at = getattr(credential, "expires_at", None)
    state = credential_expiry_state(expires_at, has_credential=credential is not None)
    title = f"Expires {expires_at:%Y-%m-%d}" if expires_at else ""
    return badge("credential_expiry", state, title, brief)


@register.simple_tag
def reason(code: str) -> object:
    """The catalog entry (title, message, remediation) for a reason code."""
    from tenantatlas.lib.reasons import get_reason

    return get_reason(code)
