"""Keyset ("seek") pagination over an indexed (field, id) ordering.

Offset pagination needs a COUNT(*) and gets slower the deeper you page; a keyset page is one
indexed range scan wherever it is. The cursor is the (field, id) of the row at a page edge,
opaque to the browser (base64 JSON) and ignored when it does not parse.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import QuerySet
from django.http import QueryDict

AFTER = "after"
BEFORE = "before"


def _identity(value: Any) -> Any:
    return value


@dataclass(frozen=True)
class Keyset:
    """An ordering on `field` then `id`, both ascending or both descending."""

    field: str
    descending: bool = False
    decode: Callable[[Any], Any] = _identity

    def encode_cursor(self, row: Any) -> str:
        value = getattr(row, self.field)
        if isinstance(value, datetime):
            value = value.isoformat()
        payload = json.dumps([value, row.pk], separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(payload).decode().rstrip("=")

    def decode_cursor(self, token: str | None) -> tuple[Any, int] | None:
        if not token:
            return None
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
            value, pk = json.loads(raw)
            return self.decode(value), int(pk)
        except (binascii.Error, ValueError, TypeError):
            return None

    def order(self, *, reverse: bool = False) -> list[str]:
        prefix = "-" if self.descending != reverse else ""
        return [f"{prefix}{self.field}", f"{prefix}id"]

    def beyond(self, queryset: QuerySet[Any], cursor: tuple[Any, int], *, reverse: bool) -> Any:
        """Rows strictly past the cursor in the ordering (or before it when `reverse`).

        Written as `field <= v AND NOT (field = v AND id >= pk)` rather than an OR so the
        database can bound its index range scan on `field`.
        """
        value, pk = cursor
        downwards = self.descending != reverse
        if downwards:
            return queryset.filter(**{f"{self.field}__lte": value}).exclude(
                **{self.field: value, "id__gte": pk}
            )
        return queryset.filter(**{f"{self.field}__gte": value}).exclude(
            **{self.field: value, "id__lte": pk}
        )


def decode_datetime(value: Any) -> datetime:
    return datetime.fromisoformat(str(value))


def decode_str(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError("cursor value must be a string")
    return value


@dataclass
class KeysetPage:
    """One page of rows plus the cursors of the pages around it."""

    items: list[Any]
    previous_cursor: str | None
    next_cursor: str | None
    query: QueryDict

    @property
    def has_other_pages(self) -> bool:
        return bool(self.previous_cursor or self.next_cursor)

    def _link(self, key: str, cursor: str) -> str:
        query = self.query.copy()
        query.pop(AFTER, None)
        query.pop(BEFORE, None)
        query[key] = cursor
        return "?" + query.urlencode()

    @property
    def previous_url(self) -> str | None:
        return self._link(BEFORE, self.previous_cursor) if self.previous_cursor else None

    @property
    def next_url(self) -> str | None:
        return self._link(AFTER, self.next_cursor) if self.next_cursor else None


def paginate(
    queryset: QuerySet[Any], keyset: Keyset, query: QueryDict, *, per_page: int
) -> KeysetPage:
    """The page named by `after`/`before` in `query`; the first page without a valid cursor."""
    after = keyset.decode_cursor(query.get(AFTER))
    before = None if after else keyset.decode_cursor(query.get(BEFORE))
    if before is not None:
        rows = list(
            keyset.beyond(queryset, before, reverse=True).order_by(*keyset.order(reverse=True))[
                : per_page + 1
            ]
        )
        if len(rows) > per_page:
            items = rows[:per_page][::-1]
            return _page(keyset, items, query, has_previous=True, has_next=True)
        # Reached the start: show a full first page rather than a short one.
        after = None
    elif after is not None:
        queryset = keyset.beyond(queryset, after, reverse=False)
    rows = list(queryset.order_by(*keyset.order())[: per_page + 1])
    return _page(
        keyset,
        rows[:per_page],
        query,
        has_previous=after is not None,
        has_next=len(rows) > per_page,
    )


def _page(
    keyset: Keyset, items: list[Any], query: QueryDict, *, has_previous: bool, has_next: bool
) -> KeysetPage:
    return KeysetPage(
        items=items,
        previous_cursor=keyset.encode_cursor(items[0]) if has_previous and items else None,
        next_cursor=keyset.encode_cursor(items[-1]) if has_next and items else None,
        query=query,
    )
