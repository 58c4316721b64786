"""``{% product_version %}``: the installed TenantAtlas version, from the package metadata."""

from __future__ import annotations

import functools
import importlib.metadata

from django import template

register = template.Library()


@register.simple_tag
@functools.cache
def product_version() -> str:
    """The version of the installed package; empty when it is not installed (a bare checkout)."""
    try:
        return importlib.metadata.version("tenantatlas")
    except importlib.metadata.PackageNotFoundError:
        return ""
