"""Cursor pages for API lists, on the same keyset orderings (and indexes) as the pages."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from tenantatlas.lib.keyset import Keyset, decode_datetime, decode_str

NEWEST_FIRST = Keyset("created_at", descending=True, decode=decode_datetime)
BY_NAME = Keyset("display_name", decode=decode_str)
LATEST_SNAPSHOT_FIRST = Keyset("taken_at", descending=True, decode=decode_datetime)


def cursor_page(
    queryset: QuerySet[Any], keyset: Keyset, cursor: str | None, limit: int
) -> dict[str, Any]:
    """``{"items": [...], "next_cursor": ...}``: `limit` rows past `cursor` in keyset order.

    A cursor the product did not write raises `InvalidCursor`, answered 400 with the envelope.
    """
    after = keyset.decode_cursor(cursor)
    if after is not None:
        queryset = keyset.beyond(queryset, after, reverse=False)
    rows = list(queryset.order_by(*keyset.order())[: limit + 1])
    items = rows[:limit]
    next_cursor = keyset.encode_cursor(items[-1]) if len(rows) > limit else None
    return {"items": items, "next_cursor": next_cursor}
