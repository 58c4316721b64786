"""`{% load inventory %}`: the compliance trend chart as inline SVG."""

from __future__ import annotations

from typing import Any

from django import template
from django.utils.safestring import SafeString

from tenantatlas.inventory.charts import compliance_trend_svg
from tenantatlas.inventory.models import InventoryKind

register = template.Library()


@register.simple_tag
def compliance_chart(snapshots: Any, title: str = "Compliance trend") -> SafeString:
    # Rendered from a template: every text in the chart is escaped there.
    return compliance_trend_svg(list(snapshots), title=title)


@register.filter
def kind_label(kind: str) -> str:
    return dict(InventoryKind.choices).get(kind, kind)
