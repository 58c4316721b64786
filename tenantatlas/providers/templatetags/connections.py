"""`{% load connections %}`: the rows of the Connections list, written in one pass.

Fifty rows of eight cells through the template engine cost more than the page's queries (B1,
docs/performance.md), as Monitoring's run rows did (operations/templatetags/operations.py).
Every value is escaped by format_html; what a page repeats (badges, operation labels) is
escaped once. A row's actions menu is its button only: the items (`_row_actions_items.html`,
as on the detail page) are fetched when it first opens (providers:actions) and replace its
list; without script it offers the connection's page, which has them all.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Sequence
from typing import Any

from django import template
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe
from django.utils.timesince import timesince

from tenantatlas.badges.templatetags.badges import badge, credential_expiry_badge
from tenantatlas.operations import display
from tenantatlas.operations.templatetags.operations import run_progress

register = template.Library()

ROW = (
    '<tr id="connection-{pk}" data-run="{run_status}"><td><a href="{url}">{name}</a>{default}</td>'
    "<td>{tenant}</td><td>{status}</td><td>{health}</td><td>{credential}</td>"
    '<td class="connection-run">{run}</td><td>{checked}</td><td class="actions">{actions}</td>'
    "</tr>\n"
)
MENU = (
    '<details class="dropdown actions-menu" hx-get="{0}actions/" hx-trigger="toggle once">'
    '<summary role="button" class="secondary outline small" aria-haspopup="menu">Actions'
    '<span class="visually-hidden"> for {1}</span></summary>'
    '<ul><li><a href="{0}">Open the connection</a></li></ul></details>'
)
NEVER = mark_safe("Never")


@register.simple_tag(takes_context=True)
def connection_rows(context: Any, rows: Sequence[tuple[Any, Any]]) -> SafeString:
    """The list's rows: (connection, its queued or running run or None) each."""
    can = context["can"]
    slug = context["current_workspace"].slug
    connections_url = reverse("providers:list", args=[slug])
    runs_url = reverse("operations:runs", args=[slug])
    may_manage, may_run = bool(can.provider_manage), bool(can.provider_run)
    cached_badge = functools.cache(badge)
    label = functools.cache(display.operation_label)
    now = timezone.now()
    return format_html_join(
        "",
        "{}",
        (
            (
                _row(
                    c, run, connections_url, runs_url, may_manage, may_run, cached_badge, label, now
                ),
            )
            for c, run in rows
        ),
    )


def _row(
    c: Any,
    run: Any,
    connections_url: str,
    runs_url: str,
    may_manage: bool,
    may_run: bool,
    cached_badge: Any,
    label: Any,
    now: dt.datetime,
) -> SafeString:
    url = f"{connections_url}{c.pk}/"
    tenant_id = str(c.entra_tenant_id)
    tenant = format_html('<small class="mono" title="{}">{}…</small>', tenant_id, tenant_id[:8])
    if c.entra_tenant_name:
        tenant = format_html("{} {}", c.entra_tenant_name, tenant)
    health = cached_badge("health", c.health, "", True)
    if c.health_reason_code:
        health = format_html('{}<br><small class="mono">{}</small>', health, c.health_reason_code)
    return format_html(
        ROW,
        pk=c.pk,
        run_status=run.status if run else "none",
        url=url,
        name=c.display_name,
        default=format_html(" {}", cached_badge("default", "true", "", True))
        if c.is_default
        else " ",
        tenant=tenant,
        status=cached_badge("connection_status", c.status, "", True),
        health=health,
        credential=credential_expiry_badge(c.current_credential, True),
        run=format_html(
            '<a href="{}{}/">{} <small>{}</small></a><br>{}',
            runs_url,
            run.pk,
            cached_badge("run_status", run.status),
            label(run.operation_type),
            run_progress(run),
        )
        if run
        else "",
        checked=format_html(
            '<time datetime="{}">{} ago</time>',
            timezone.localtime(c.health_checked_at).isoformat(),
            timesince(c.health_checked_at, now),
        )
        if c.health_checked_at
        else NEVER,
        actions=format_html(MENU, url, c.display_name)
        if may_manage or (may_run and c.is_enabled)
        else "",
    )
