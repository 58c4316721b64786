"""`{% load overview %}`: figures of the overview pages."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import template
from django.utils.html import format_html
from django.utils.http import urlencode
from django.utils.safestring import SafeString
from django.utils.timesince import timesince

from tenantatlas.lib.templatetags.local_dates import local_date

register = template.Library()


@register.simple_tag
def figure(mapping: Any, key: Any, default: Any = 0) -> Any:
    """`mapping[key]`, or the default when the key is missing."""
    return mapping.get(key, default) if hasattr(mapping, "get") else default


@register.filter
def get(mapping: Any, key: Any) -> Any:
    return mapping.get(key) if hasattr(mapping, "get") else None


@register.filter
def percent(share: float | None) -> str:
    """0.9734 → "97.3 %"; never rounds a share below 100 % up to 100 % (or above 0 down to 0)."""
    if share is None:
        return "—"
    value = round(share * 100, 1)
    if value == 100 and share < 1:
        value = 99.9
    if value == 0 and share > 0:
        value = 0.1
    return f"{value:g} %"


@register.simple_tag
def freshness(when: dt.datetime | None, overdue: bool) -> SafeString:
    """When data last arrived ("3 hours ago"), flagged when older than its schedule allows."""
    if not isinstance(when, dt.datetime):  # none yet (a missing summary renders as "")
        return format_html(
            '<span class="badge badge-warning" title="{}">Never</span>',
            "No sync or snapshot has produced data yet",
        )
    flag = (
        format_html(
            ' <span class="badge badge-warning" title="{}">Out of date</span>',
            "Older than its schedule, or than a day when it has none",
        )
        if overdue
        else ""
    )
    return format_html(
        '<time datetime="{}" title="{}">{} ago</time>{}',
        when.isoformat(),
        local_date(when),
        timesince(when),
        flag,
    )


@register.simple_tag(takes_context=True)
def sort_link(context: Any, key: str, label: str, current: str) -> SafeString:
    """A column heading that sorts by `key`, ascending first, reversing when already chosen."""
    query = context["request"].GET.copy()
    query.pop("page", None)
    descending = current == key
    query["sort"] = f"-{key}" if descending else key
    marker = {key: " ▲", f"-{key}": " ▼"}.get(current, "")
    aria = {key: "ascending", f"-{key}": "descending"}.get(current, "none")
    href = "?" + urlencode(sorted(query.lists()), doseq=True)
    return format_html('<a href="{}" aria-sort="{}">{}{}</a>', href, aria, label, marker)
