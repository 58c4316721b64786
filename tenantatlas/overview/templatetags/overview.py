"""`{% load overview %}`: figures of the overview pages."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from django import template
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.http import urlencode
from django.utils.safestring import SafeString, mark_safe
from django.utils.timesince import timesince

from tenantatlas.badges.templatetags.badges import badge
from tenantatlas.lib.templatetags.local_dates import local_date
from tenantatlas.overview.tenants import TenantRow

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


def freshness(
    when: dt.datetime | None, overdue: bool, now: dt.datetime | None = None
) -> SafeString:
    """When data last arrived ("3 hours ago"), flagged when older than its schedule allows."""
    if when is None:
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
        timesince(when, now),
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


NO_FIGURE = mark_safe('<small class="muted">—</small>')
NEVER = freshness(None, overdue=True)
OVERDUE = mark_safe(' class="overdue"')
# A row's cells: connection (and its status), health, compliant share, not compliant, stale,
# failed (24 h), devices, last sync, last snapshot, credential. Links are written out here, not
# built per cell, so each value is escaped once.
_ROW_START = (
    '\n      <tr id="tenant-{}">\n        <td><a href="{}">{}</a>{}</td>\n        <td>{}</td>'
)
_ROW_END = "\n        <td>{}</td>\n      </tr>"
_FAILED = (
    '\n        <td><a href="{}?status=problems&amp;finished=24h&amp;connection={}">{}</a></td>'
)
SUMMARISED_ROW = "".join(
    [
        _ROW_START,
        "\n        <td>{}</td>",  # the share: a link, or a dash when there are no devices
        '\n        <td><a href="{}{}&amp;compliance_state=noncompliant">{}</a></td>',
        '\n        <td><a href="{}{}&amp;stale=1">{}</a></td>',
        _FAILED,
        '\n        <td><a href="{}{}">{}</a></td>',
        "\n        <td{}>{}</td>" * 2,
        _ROW_END,
    ]
)
UNSUMMARISED_ROW = "".join(
    [
        _ROW_START,
        f"\n        <td>{NO_FIGURE}</td>" * 3,
        _FAILED,
        f"\n        <td>{NO_FIGURE}</td>",
        f"\n        <td{OVERDUE}>{NEVER}</td>" * 2,
        _ROW_END,
    ]
)


@register.simple_tag
def tenant_rows(rows: Sequence[TenantRow], urls: Mapping[str, str]) -> SafeString:
    """The tenant table's rows, each figure a link to the list behind it.

    Built here in one pass rather than cell by cell in the template: fifty rows of ten cells
    through the template engine cost more than all of the page's queries (B6,
    docs/performance.md). Every value is escaped by format_html.
    """
    badges = functools.cache(badge)  # a page shows a handful of distinct badges, many times
    now = timezone.now()
    return format_html_join("", "{}", ((_tenant_row(row, urls, badges, now),) for row in rows))


def _tenant_row(
    row: TenantRow, urls: Mapping[str, str], badges: Callable[..., SafeString], now: dt.datetime
) -> SafeString:
    conn, summary = row.connection, row.summary
    pk = conn.pk
    start = (
        pk,
        f"{urls['connections']}{pk}/",
        conn.display_name,
        "" if conn.is_enabled else format_html(" {}", badges("connection_status", conn.status)),
        badges("health", conn.health),
    )
    failed = (urls["runs"], pk, row.problems)
    credential = badges("credential_expiry", row.credential_state)
    if summary is None:
        return format_html(UNSUMMARISED_ROW, *start, *failed, credential)
    devices = urls["devices"]
    share = (
        NO_FIGURE
        if row.share is None
        else format_html(
            '<a href="{}{}&amp;compliance_state=compliant">{}</a>', devices, pk, percent(row.share)
        )
    )
    return format_html(
        SUMMARISED_ROW,
        *start,
        share,
        devices,
        pk,
        summary.noncompliant,
        devices,
        pk,
        row.stale,
        *failed,
        devices,
        pk,
        summary.total,
        OVERDUE if row.sync_overdue else "",
        freshness(summary.last_sync_at, row.sync_overdue, now),
        OVERDUE if row.snapshot_overdue else "",
        freshness(summary.last_snapshot_at, row.snapshot_overdue, now),
        credential,
    )
