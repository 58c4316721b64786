"""`{% load changes %}`: the change history in pages — diff values, summaries, short lists.

Values of a diff are rendered readably: text as it is, an absent setting (None) as "(not set)",
an empty text as "—", numbers and booleans in JSON spelling, lists and objects as compact JSON in
`<code>`; a long value shows its start and opens to the whole of it. Everything is escaped.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from django import template
from django.http import QueryDict
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe

from tenantatlas.inventory.change_forms import item_history_page, summarised
from tenantatlas.inventory.models import ItemChange

register = template.Library()

LONG_VALUE = 240  # characters shown before a value folds into a <details>
RECENT = 5


def value_text(value: Any) -> str:
    """A diff value as plain text (the CSV's cells, tooltips): JSON for anything but text."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(", ", ": "))


@register.filter
def change_value(value: Any) -> SafeString:
    """The HTML of one side of a changed setting."""
    if value is None:
        return mark_safe('<span class="change-unset">(not set)</span>')
    if value == "":
        return mark_safe('<span class="change-unset" title="Empty text">—</span>')
    text = value_text(value)
    compound = isinstance(value, list | dict)
    if len(text) <= LONG_VALUE:
        if compound:
            return format_html('<code class="change-json">{}</code>', text)
        return format_html('<span class="change-text">{}</span>', text)
    tag = "code" if compound else "span"
    return format_html(
        '<details class="change-long"><summary>{}… <small>({} characters)</small></summary>'
        '<{} class="change-{}">{}</{}></details>',
        text[:LONG_VALUE],
        f"{len(text):,}",
        tag,
        "json" if compound else "text",
        text,
        tag,
    )


@register.filter
def paths_summary(change: Any) -> str:
    """ "passwordMinimumLength, roleScopeTagIds[4] +1 more" for a summarised "changed" row."""
    count = getattr(change, "settings_count", None) or 0
    paths = [
        p for p in (getattr(change, "first_path", None), getattr(change, "second_path", None)) if p
    ]
    text = ", ".join(paths)
    if count > len(paths):
        text += f" +{count - len(paths)} more"
    return text


@register.filter
def settings_label(count: Any) -> str:
    count = int(count or 0)
    return f"{count} setting" if count == 1 else f"{count:,} settings"


@register.simple_tag
def recent_changes(connection: Any, limit: int = RECENT) -> list[ItemChange]:
    """The connection's latest changes (one indexed query, without the diffs)."""
    rows = ItemChange.objects.filter(connection_id=connection.pk).order_by("-detected_at", "-id")
    return list(summarised(rows)[:limit])


@register.filter
def changes_found(summary_counts: Any) -> int:
    """The changes an inventory sync recorded: the sum of `summary_counts[kind]["changes"]`."""
    if not isinstance(summary_counts, Mapping):
        return 0
    total = 0
    for counts in summary_counts.values():
        if isinstance(counts, Mapping) and isinstance(counts.get("changes"), int):
            total += counts["changes"]
    return total


@register.simple_tag
def item_history(item: Any) -> Any:
    """The first page of an item's history (the item page); later pages have their own URL."""
    return item_history_page(item, QueryDict())
