"""`{% load operations %}`: operation labels, run durations and summary tables in templates."""

from __future__ import annotations

from typing import Any

from django import template
from django.utils import timezone

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
