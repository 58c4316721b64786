"""The one range of dates the product stores, and the expiry rule every form and the API share.

A datetime near ``datetime.min`` or ``datetime.max`` (0001-01-01, 9999-12-31) overflows when it is
converted to a zone such as Pacific/Kiritimati (UTC+14), America/Adak, or a historic local mean
time (up to about ±16 hours), so rendering it under some ``TIME_ZONE`` would fail. Every date that
enters from outside (forms, API, cursors, Graph payloads, certificates) is kept within 1970–9000,
far from both ends, and rendering goes through ``safe_localtime`` for rows stored before the bound.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo

from django.utils import timezone

EARLIEST = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
LATEST = dt.datetime(9000, 12, 31, 23, 59, 59, tzinfo=dt.UTC)
LATEST_DAY = LATEST.date()

EXPIRY_IN_PAST = "This expiry date is in the past: choose a later one."
EXPIRY_TOO_LATE = (
    f"This expiry date is too far ahead: choose one up to {LATEST_DAY:%Y-%m-%d}, "
    "or none for no expiry."
)
NO_TIME_ZONE = "This date has no time zone: add one, e.g. Z or +00:00."
OUT_OF_RANGE = (
    f"This date is out of range: use one between {EARLIEST:%Y-%m-%d} and {LATEST_DAY:%Y-%m-%d}."
)


def in_range(value: dt.datetime) -> dt.datetime:
    """`value` in UTC; ValueError (with `OUT_OF_RANGE`) when naive or outside 1970–9000."""
    if timezone.is_naive(value):
        raise ValueError(NO_TIME_ZONE)
    try:
        utc = value.astimezone(dt.UTC)
    except (OverflowError, ValueError):
        raise ValueError(OUT_OF_RANGE) from None
    if not EARLIEST <= utc <= LATEST:
        raise ValueError(OUT_OF_RANGE)
    return utc


def in_range_or_none(value: dt.datetime | None) -> dt.datetime | None:
    """For facts read from elsewhere (Graph, certificates): out of range means "no date".

    Graph writes 0001-01-01 for "never"; RFC 5280 writes 9999-12-31 for "no expiry".
    """
    if value is None:
        return None
    try:
        return in_range(value)
    except ValueError:
        return None


def clamp(value: dt.datetime) -> dt.datetime:
    """An aware datetime moved into the range: for an expiry, the same meaning near either end.

    A certificate valid until 9999-12-31 (RFC 5280's "no well-defined expiry") is stored as
    expiring at `LATEST`, one that expired before 1970 as expired at `EARLIEST`.
    """
    try:
        return in_range(value)
    except ValueError:
        return EARLIEST if value < EARLIEST else LATEST


def end_of_day(day: dt.date) -> dt.datetime:
    """An expiry date as the last second of that day in UTC (how forms store a chosen day)."""
    return dt.datetime.combine(day, dt.time(23, 59, 59), tzinfo=dt.UTC)


def expiry_problem(expires_at: dt.datetime, *, now: dt.datetime | None = None) -> str | None:
    """Why `expires_at` is not an acceptable expiry (secrets, API tokens), or None.

    An expiry lies after now and no later than `LATEST`; forms and the API both ask this.
    """
    try:
        utc = in_range(expires_at)
    except ValueError:
        return EXPIRY_IN_PAST if expires_at < EARLIEST else EXPIRY_TOO_LATE
    if utc <= (now or timezone.now()):
        return EXPIRY_IN_PAST
    return None


def safe_localtime(value: dt.datetime, zone: dt.tzinfo | None = None) -> dt.datetime:
    """`value` in the current time zone, or in UTC where that conversion would overflow."""
    try:
        return timezone.localtime(value, zone)
    except (OverflowError, ValueError, zoneinfo.ZoneInfoNotFoundError):
        return value.astimezone(dt.UTC) if timezone.is_aware(value) else value
