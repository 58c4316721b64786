"""The overview's cross-tenant trend chart, drawn once per distinct set of figures.

The chart is a pure function of the workspace's trend days (inventory/charts.py), and those
change a few times a day while the page is read far more often; drawing 90 days costs about
as much as all of the page's queries. So the drawing is kept per process, keyed by every column
of every day it draws: the days are read on each request, and a day rewritten by a snapshot is
a new key, never an old picture.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

from django.utils.safestring import SafeString

from tenantatlas.inventory.charts import compliance_trend_svg
from tenantatlas.inventory.models import ComplianceTrendDay
from tenantatlas.overview.queries import TREND_COLUMNS

TITLE = "Compliance across all tenants"
KEPT = 32  # drawings per process: a workspace's current one and the ones just replaced


def trend_svg(days: Sequence[tuple[Any, ...]]) -> SafeString:
    """The chart of `days` (rows of TREND_COLUMNS values) as an inline SVG element."""
    return _drawn(tuple(days))


@functools.lru_cache(maxsize=KEPT)
def _drawn(days: tuple[tuple[Any, ...], ...]) -> SafeString:
    return compliance_trend_svg(
        [ComplianceTrendDay(**dict(zip(TREND_COLUMNS, day, strict=True))) for day in days],
        title=TITLE,
    )
