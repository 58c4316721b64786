"""The overview's cross-tenant trend chart, drawn once per distinct set of figures.

The chart is a pure function of the workspace's trend days (inventory/charts.py), and those
change a few times a day while the page is read far more often; drawing 90 days costs about
as much as all of the page's queries. So the drawing is kept per process, keyed by every field
of every day it draws: the days are read on each request, and a day rewritten by a snapshot is
a new key, never an old picture.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from django.utils.safestring import SafeString

from tenantatlas.inventory.charts import compliance_trend_svg
from tenantatlas.inventory.models import ComplianceTrendDay

TITLE = "Compliance across all tenants"
KEPT = 32  # drawings per process: a workspace's current one and the ones just replaced
_COLUMNS = tuple(f.attname for f in ComplianceTrendDay._meta.concrete_fields)


@dataclass(frozen=True)
class _Days:
    """The days to draw, equal (and hashed) by their field values."""

    figures: tuple[tuple[Any, ...], ...]
    days: Sequence[ComplianceTrendDay] = field(compare=False, hash=False)


def trend_svg(days: Sequence[ComplianceTrendDay]) -> SafeString:
    """The chart of `days` as an inline SVG element."""
    figures = tuple(tuple(getattr(day, column) for column in _COLUMNS) for day in days)
    return _drawn(_Days(figures, days))


@functools.lru_cache(maxsize=KEPT)
def _drawn(days: _Days) -> SafeString:
    return compliance_trend_svg(days.days, title=TITLE)
