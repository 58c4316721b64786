"""Cursor pages for API lists, on the same keyset orderings (and indexes) as the pages."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone

from tenantatlas.api.schemas import MAX_ID
from tenantatlas.lib.errors import InvalidInput
from tenantatlas.lib.keyset import Keyset, decode_datetime, decode_str

NEWEST_FIRST = Keyset("created_at", descending=True, decode=decode_datetime)
BY_NAME = Keyset("display_name", decode=decode_str)
LATEST_SNAPSHOT_FIRST = Keyset("taken_at", descending=True, decode=decode_datetime)


def _checked(cursor: tuple[Any, int] | None) -> tuple[Any, int]:
    """A cursor the database can compare with: id in range, datetimes aware and in range."""
    if cursor is None:
        raise InvalidInput(
            "This cursor is not valid: pass a next_cursor as returned.", field="cursor"
        )
    value, pk = cursor
    if not 0 <= pk <= MAX_ID:
        return _checked(None)
    if isinstance(value, dt.datetime):
        try:
            if timezone.is_naive(value):
                value = timezone.make_aware(value, dt.UTC)
            value = value.astimezone(dt.UTC)
        except (OverflowError, ValueError):
            return _checked(None)
    if isinstance(value, str) and "\x00" in value:
        return _checked(None)
    return value, pk


def cursor_page(
    queryset: QuerySet[Any], keyset: Keyset, cursor: str | None, limit: int
) -> dict[str, Any]:
    """``{"items": [...], "next_cursor": ...}``: `limit` rows past `cursor` in keyset order."""
    if cursor:
        queryset = keyset.beyond(queryset, _checked(keyset.decode_cursor(cursor)), reverse=False)
    rows = list(queryset.order_by(*keyset.order())[: limit + 1])
    items = rows[:limit]
    next_cursor = keyset.encode_cursor(items[-1]) if len(rows) > limit else None
    return {"items": items, "next_cursor": next_cursor}
