"""Addresses every page's layout repeats, reversed once per process.

The layout links the same views on every request (the navigation of each workspace, the bell,
the switcher's form); reversing them is a resolver walk each time. The address depends only on
the URLconf, the script prefix and the arguments, which are all part of the key, and a change
of ROOT_URLCONF (tests) empties the cache. Bounded: the least recently used go first.
"""

from __future__ import annotations

import functools
from typing import Any

from django.conf import settings
from django.core.signals import setting_changed
from django.urls import get_script_prefix, get_urlconf, reverse


@functools.lru_cache(maxsize=4096)
def _reversed(urlconf: str, prefix: str, viewname: str, args: tuple[Any, ...]) -> str:
    return reverse(viewname, urlconf=urlconf, args=args or None)


def layout_url(viewname: str, *args: Any) -> str:
    """reverse(viewname, args=args), remembered per URLconf and script prefix."""
    urlconf = get_urlconf() or settings.ROOT_URLCONF
    return _reversed(urlconf, get_script_prefix(), viewname, tuple(str(arg) for arg in args))


def _forget(*, setting: str, **_: Any) -> None:
    if setting == "ROOT_URLCONF":
        _reversed.cache_clear()


setting_changed.connect(_forget, dispatch_uid="tenantatlas.lib.links")
