"""`{% load operations %}`: operation labels, run durations, progress, summary tables and the
rows of Monitoring's run table."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Mapping, Sequence
from typing import Any

from django import template
from django.urls import reverse
from django.utils import timezone
from django.utils.html import conditional_escape, format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe
from django.utils.timesince import timesince

from tenantatlas.badges.templatetags.badges import badge
from tenantatlas.lib.dates import safe_localtime
from tenantatlas.operations import display

register = template.Library()


@register.filter
def operation_label(key: str) -> str:
    return display.operation_label(key)


@register.filter
def duration(run: Any) -> str:
    return display.run_duration(run.started_at, run.finished_at, timezone.now())


@register.simple_tag
def summary_table(counts: Any) -> dict[str, Any]:
    columns, rows = display.summary_table(counts if isinstance(counts, dict) else None)
    return {"columns": columns, "rows": rows}


@register.simple_tag
def context_items(context: Any) -> list[tuple[str, str, Any]]:
    return display.context_items(context if isinstance(context, dict) else None)


SELECTED = mark_safe(" selected")


@register.simple_tag
def choice_select(field: Any) -> SafeString:
    """A bound choice field as its Select widget writes it, from the plain choices: the widget's
    template per option costs more than the run table's rows."""
    chosen = str(field.value() or "")
    field_id = field.field.widget.attrs.get("id") or field.auto_id  # as the widget would
    options = format_html_join(
        "",
        '<option value="{}"{}>{}</option>',
        (
            (value, SELECTED if str(value) == chosen else "", label)
            for value, label in field.field.choices
        ),
    )
    invalid = (
        format_html(' aria-invalid="true" aria-describedby="{}_error"', field.auto_id)
        if field.errors
        else ""
    )
    return format_html(
        '<select name="{}"{} id="{}">{}</select>', field.html_name, invalid, field_id, options
    )


NO_PROGRESS = mark_safe("<small>—</small>")


@register.simple_tag
def run_progress(run: Any) -> SafeString:
    """A bar when the run knows its total; an indeterminate one while active; else the count."""
    done, total = run.progress_done, run.progress_total
    if total:
        return format_html(
            '<progress value="{0}" max="{1}" title="{0} of {1}">{0} of {1}</progress>'
            "<small>{0}/{1}</small>",
            done,
            total,
        )
    if run.is_active:
        counted = format_html("<small>{}</small>", done) if done else ""
        return format_html('<progress title="In progress">In progress</progress>{}', counted)
    if done:
        return format_html("<small>{} done</small>", done)
    return NO_PROGRESS


def connection_link(connection: Any, connections_url: str) -> SafeString:
    """The connection's name, a link to its page while it exists."""
    if connection.deleted_at:
        return format_html("{} <small>(deleted)</small>", connection.display_name)
    return format_html(
        '<a href="{}{}/">{}</a>', connections_url, connection.pk, connection.display_name
    )


@register.simple_tag(takes_context=True)
def run_connection_link(context: Any, connection: Any) -> SafeString:
    """`connection_link` for one connection of the current workspace."""
    slug = context["current_workspace"].slug
    return connection_link(connection, reverse("providers:list", args=[slug]))


# Monitoring's row, as the template wrote it: operation (and run number), connection, status,
# progress, requested by, started, finished, duration, reason. No whitespace between cells.
RUN_ROW = (
    '<tr id="run-{pk}"><td><a href="{runs}{pk}/">{operation}</a> <small class="muted">#{pk}</small>'
    "</td><td>{connection}</td><td>{status}</td><td>{progress}</td><td>{requested_by}</td>"
    "<td>{started}</td><td>{finished}</td><td>{duration}</td><td>{reason}</td></tr>\n"
)
TIME = '<time datetime="{}" title="{} {}">{}</time>'
NO_RUNS = mark_safe('<tr><td colspan="9">No runs match.</td></tr>')


@register.simple_tag
def run_rows(runs: Sequence[Any], urls: Mapping[str, str]) -> SafeString:
    """The rows of Monitoring's run table (`urls`: the runs and connections list addresses).

    Built here in one pass rather than cell by cell in the template, as the overview's tenant
    rows are: fifty rows of nine cells through the template engine cost more than the page's
    queries (B1, docs/performance.md). Every value is escaped by format_html; what a page
    repeats (operations, connections, badges, people, reasons) is escaped once.
    """
    if not runs:
        return NO_RUNS
    cells = _RepeatedCells(urls["connections"])
    now, zone = timezone.now(), timezone.get_current_timezone()
    return format_html_join(
        "", "{}", ((_run_row(run, urls["runs"], cells, now, zone),) for run in runs)
    )


class _RepeatedCells:
    """The cells a page shows many times, each escaped once."""

    def __init__(self, connections_url: str) -> None:
        self.badge = functools.cache(badge)
        self.connection = functools.cache(lambda conn: connection_link(conn, connections_url))
        self.text = functools.cache(conditional_escape)
        self.reason = functools.cache(
            lambda code, message: format_html('<code title="{}">{}</code>', message, code)
        )


def _run_row(
    run: Any, runs_url: str, cells: _RepeatedCells, now: dt.datetime, zone: dt.tzinfo
) -> SafeString:
    started = _local(run.started_at, zone)
    finished = _local(run.finished_at, zone)
    return format_html(
        RUN_ROW,
        pk=run.pk,
        runs=runs_url,
        operation=cells.text(display.operation_label(run.operation_type)),
        connection=cells.connection(run.connection),
        status=cells.badge("run_status", run.status),
        progress=NO_PROGRESS if run.progress_done == 0 and not run.is_active else run_progress(run),
        requested_by=cells.text(run.requested_by_label or run.get_trigger_display()),
        started=_time(started, started[:16].replace("T", " "))
        if started
        else format_html("<small>Queued {} ago</small>", timesince(run.created_at, now)),
        # The day only when the run did not finish on the day it started.
        finished=_time(finished, finished[11:16] if finished[:10] == started[:10] else None)
        if finished
        else "",
        duration=display.run_duration(run.started_at, run.finished_at, now),
        reason=cells.reason(run.reason_code, run.failure_message) if run.reason_code else "",
    )


def _local(value: dt.datetime | None, zone: dt.tzinfo) -> str:
    """The local time to the second, ISO 8601 ("2026-12-01T16:27:45+01:00"), or ""."""
    return safe_localtime(value, zone).isoformat(timespec="seconds") if value else ""


def _time(iso: str, shown: str | None) -> SafeString:
    """A `<time>` of a local ISO time: to the minute (or `shown`), to the second in its title."""
    day, clock = iso[:10], iso[11:19]
    return format_html(TIME, iso, day, clock, shown or f"{day} {clock[:5]}")
