"""``{% layout_url "name" arg %}``: ``{% url %}`` for the links every page's layout repeats,
reversed once per process (tenantatlas/lib/links.py)."""

from __future__ import annotations

from typing import Any

from django import template

from tenantatlas.lib.links import layout_url as _layout_url

register = template.Library()


@register.simple_tag
def layout_url(viewname: str, *args: Any) -> str:
    return _layout_url(viewname, *args)
