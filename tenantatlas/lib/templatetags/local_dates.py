"""``local_date``: Django's ``date`` filter that cannot overflow.

Django converts a datetime to the current time zone before ``date`` formats it; near year 1 or
9999 that conversion overflows under zones such as Pacific/Kiritimati or Etc/GMT+12. The inputs
keep new dates within 1970–9000 (lib/dates.py); this shows a row stored before that in UTC.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import template
from django.template import defaultfilters
from django.utils import timezone

from tenantatlas.lib.dates import safe_localtime

register = template.Library()


@register.filter(expects_localtime=False, is_safe=False)
def local_date(value: Any, arg: str | None = None) -> str:
    if isinstance(value, dt.datetime) and timezone.is_aware(value):
        value = safe_localtime(value)
    return str(defaultfilters.date(value, arg))
