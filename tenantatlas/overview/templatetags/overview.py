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
from tenantatlas.lib.dates import safe_localtime
from tenantatlas.lib.reasons import get_reason
from tenantatlas.lib.templatetags.local_dates import local_date
from tenantatlas.overview.tenants import TenantRow
from tenantatlas.providers.models import ProviderConnection

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


NEVER = format_html(
    '<span class="badge badge-warning" title="{}">Never</span>',
    "No sync or snapshot has produced data yet",
)
OUT_OF_DATE = format_html(
    ' <span class="badge badge-warning" title="{}">Out of date</span>',
    "Older than its schedule, or than a day when it has none",
)


def freshness(
    when: dt.datetime | None,
    overdue: bool,
    now: dt.datetime | None = None,
    day_label: Callable[[dt.date], str] = local_date,
) -> SafeString:
    """When data last arrived ("3 hours ago", titled with its local day), flagged when older
    than its schedule allows."""
    if when is None:
        return NEVER
    return format_html(
        '<time datetime="{}" title="{}">{} ago</time>{}',
        when.isoformat(),
        day_label(safe_localtime(when).date()),  # DATE_FORMAT shows the day, not the time
        timesince(when, now),
        OUT_OF_DATE if overdue else "",
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
OVERDUE = mark_safe(' class="overdue"')
# The table's row, as the template wrote it: the connection (and its status), health, compliant
# share, not compliant, stale, failed (24 h), devices, last sync, last snapshot, credential. A
# value used twice is escaped once.
_ROW = """
      <tr id="tenant-{pk}">
        <td><a href="{connections}{pk}/">{name}</a>{status}</td>
        <td>{health}</td>
        <td>{share}</td>
        <td>{noncompliant}</td>
        <td>{stale}</td>
        <td><a href="{runs}?status=problems&amp;finished=24h&amp;connection={pk}">{problems}</a></td>
        <td>{devices}</td>
        <td{sync_class}>{sync}</td>
        <td{snapshot_class}>{snapshot}</td>
        <td>{credential}</td>
      </tr>"""


class _Kept(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return f"{{{key}}}"


def _row_with(**cells: str) -> str:
    """_ROW with these cells written in and the others left to fill."""
    return _ROW.format_map(_Kept(cells))


SUMMARISED_ROW = _row_with(
    noncompliant='<a href="{list}{pk}&amp;compliance_state=noncompliant">{noncompliant}</a>',
    stale='<a href="{list}{pk}&amp;stale=1">{stale}</a>',
    devices='<a href="{list}{pk}">{devices}</a>',
)
UNSUMMARISED_ROW = _row_with(
    **dict.fromkeys(("share", "noncompliant", "stale", "devices"), NO_FIGURE),
    **dict.fromkeys(("sync_class", "snapshot_class"), OVERDUE),
    **dict.fromkeys(("sync", "snapshot"), NEVER),
)


@register.simple_tag
def tenant_rows(rows: Sequence[TenantRow], urls: Mapping[str, str]) -> SafeString:
    """The tenant table's rows, each figure a link to the list behind it.

    Built here in one pass rather than cell by cell in the template: fifty rows of ten cells
    through the template engine cost more than all of the page's queries (B6,
    docs/performance.md). Every value is escaped by format_html.
    """
    # A page shows a handful of distinct badges and days, many times.
    badges, days = functools.cache(badge), functools.cache(local_date)
    now = timezone.now()
    return format_html_join(
        "", "{}", ((_tenant_row(row, urls, badges, days, now),) for row in rows)
    )


def _tenant_row(
    row: TenantRow,
    urls: Mapping[str, str],
    badges: Callable[..., SafeString],
    days: Callable[[dt.date], str],
    now: dt.datetime,
) -> SafeString:
    conn, summary = row.connection, row.summary
    cells = {
        "pk": conn.pk,
        "connections": urls["connections"],
        "name": conn.display_name,
        "status": (
            "" if conn.is_enabled else format_html(" {}", badges("connection_status", conn.status))
        ),
        "health": badges("health", conn.health),
        "runs": urls["runs"],
        "problems": row.problems,
        "credential": badges("credential_expiry", row.credential_state),
    }
    if summary is None:
        return format_html(UNSUMMARISED_ROW, **cells)
    return format_html(
        SUMMARISED_ROW,
        **cells,
        share=NO_FIGURE
        if row.share is None
        else format_html(
            '<a href="{}{}&amp;compliance_state=compliant">{}</a>',
            urls["devices"],
            conn.pk,
            percent(row.share),
        ),
        list=urls["devices"],
        noncompliant=summary.noncompliant,
        stale=row.stale,
        devices=summary.total,
        sync_class=OVERDUE if row.sync_overdue else "",
        sync=freshness(summary.last_sync_at, row.sync_overdue, now, days),
        snapshot_class=OVERDUE if row.snapshot_overdue else "",
        snapshot=freshness(summary.last_snapshot_at, row.snapshot_overdue, now, days),
    )


TROUBLED_ROW = """
      <tr>
        <td><a href="{connections}{pk}/">{name}</a></td>
        <td>{health}</td>
        <td><strong>{title}</strong> <small class="mono">{code}</small></td>
        <td><small>{remediation}</small> <a href="{connections}{pk}/" class="small">Open connection</a></td>
      </tr>"""
UNEXPLAINED_ROW = """
      <tr>
        <td><a href="{connections}{pk}/">{name}</a></td>
        <td>{health}</td>
        <td>{message}</td>
        <td><a href="{connections}{pk}/" class="small">Open connection</a></td>
      </tr>"""


@register.simple_tag
def troubled_rows(connections: Sequence[ProviderConnection], urls: Mapping[str, str]) -> SafeString:
    """The rows of the connections that need attention: the reason of their health (its title
    and remedy), or their health message when they have no reason code."""
    badges = functools.cache(badge)
    return format_html_join(
        "", "{}", ((_troubled_row(conn, urls, badges),) for conn in connections)
    )


def _troubled_row(
    conn: ProviderConnection, urls: Mapping[str, str], badges: Callable[..., SafeString]
) -> SafeString:
    cells = {
        "connections": urls["connections"],
        "pk": conn.pk,
        "name": conn.display_name,
        "health": badges("health", conn.health),
    }
    if not conn.health_reason_code:
        message = conn.health_message or "See the connection's last check."
        return format_html(UNEXPLAINED_ROW, **cells, message=message)
    found = get_reason(conn.health_reason_code)
    return format_html(
        TROUBLED_ROW,
        **cells,
        title=found.title,
        code=conn.health_reason_code,
        remediation=found.remediation,
    )
