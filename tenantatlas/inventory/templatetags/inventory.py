"""`{% load inventory %}`: the compliance trend chart as inline SVG."""

from __future__ import annotations

from typing import Any

from django import template
from django.utils.safestring import SafeString, mark_safe

from tenantatlas.inventory.charts import compliance_trend_svg
from tenantatlas.inventory.models import InventoryKind

register = template.Library()


@register.simple_tag
def compliance_chart(snapshots: Any, title: str = "Compliance trend") -> SafeString:
    # The chart escapes every piece of text it writes; its numbers come from integer columns.
    return mark_safe(compliance_trend_svg(list(snapshots), title=title))  # noqa: S308


@register.filter
def kind_label(kind: str) -> str:
    return dict(InventoryKind.choices).get(kind, kind)
