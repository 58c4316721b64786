"""Keyset ("seek") pagination over an indexed (field, id) ordering.

Offset pagination needs a COUNT(*) and gets slower the deeper you page; a keyset page is one
indexed range scan wherever it is. The cursor is the (field, id) of the row at a page edge,
opaque to the browser (base64 JSON). Anyone can send any string, so decoding checks the whole
structure and refuses anything the product could not have written with one error,
`InvalidCursor`: pages answer it with a 400 page linking to the first page, the API with its
error envelope.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NoReturn

from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import render

from tenantatlas.lib import dates
from tenantatlas.lib.errors import InvalidInput

AFTER = "after"
BEFORE = "before"
# A cursor at the longest stored name (300 characters of 4 UTF-8 bytes) is about 1,650.
MAX_CURSOR_CHARS = 2048
MAX_ID = 2**63 - 1  # a 64-bit signed id, what every database stores
MAX_TEXT_CHARS = 500


class InvalidCursor(InvalidInput):
    """A page cursor the product did not write (garbled, crafted or from an older version)."""

    def __init__(self) -> None:
        super().__init__(
            "This page link is invalid or out of date: start again from the first page "
            "(pass a next_cursor exactly as returned).",
            field="cursor",
        )


def _refuse_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not a cursor value")


def _parse(token: str) -> tuple[Any, int]:
    """The JSON ``[value, id]`` inside the base64; ValueError/TypeError on any other shape."""
    if len(token) > MAX_CURSOR_CHARS:
        raise ValueError("too long")
    raw = base64.b64decode(token + "=" * (-len(token) % 4), altchars=b"-_", validate=True)
    decoded = json.loads(raw, parse_constant=_refuse_constant)
    if not isinstance(decoded, list) or len(decoded) != 2:
        raise ValueError("a cursor is a pair")
    value, pk = decoded
    if type(pk) is not int or not 1 <= pk <= MAX_ID:
        raise ValueError("the id is not a row id")
    return value, pk


def _identity(value: Any) -> Any:
    return value


@dataclass(frozen=True)
class Keyset:
    """An ordering on `field` then `id`, both ascending or both descending.

    `decode` turns the cursor's JSON value back into a value of `field`, raising ValueError or
    TypeError for anything that is not one.
    """

    field: str
    descending: bool = False
    decode: Callable[[Any], Any] = _identity

    def encode_cursor(self, row: Any) -> str:
        value = getattr(row, self.field)
        if isinstance(value, datetime):
            value = value.isoformat()
        payload = json.dumps([value, row.pk], separators=(",", ":"), ensure_ascii=False).encode()
        return base64.urlsafe_b64encode(payload).decode().rstrip("=")

    def decode_cursor(self, token: str | None) -> tuple[Any, int] | None:
        """None for no cursor; `InvalidCursor` for one the product could not have written."""
        if not token:
            return None
        try:
            value, pk = _parse(token)
            return self.decode(value), pk
        except (binascii.Error, ValueError, TypeError, OverflowError, RecursionError):
            raise InvalidCursor() from None

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
    """An aware datetime within the product's date range, in UTC."""
    if not isinstance(value, str):
        raise TypeError("cursor value must be a date-time string")
    return dates.in_range(datetime.fromisoformat(value))


def decode_str(value: Any) -> str:
    """Text every database can compare: bounded, no NUL, no lone surrogates."""
    if not isinstance(value, str):
        raise TypeError("cursor value must be a string")
    if len(value) > MAX_TEXT_CHARS or "\x00" in value:
        raise ValueError("cursor value is not a stored name")
    value.encode("utf-8")  # UnicodeEncodeError (a ValueError) for lone surrogates
    return value


def invalid_cursor_page(request: HttpRequest) -> HttpResponse:
    """The 400 page for `InvalidCursor`: what happened and a link to the list's first page."""
    query = request.GET.copy()
    query.pop(AFTER, None)
    query.pop(BEFORE, None)
    first_page = request.path + ("?" + query.urlencode() if query else "")
    return render(
        request, "invalid_cursor.html", {"first_page": first_page}, status=InvalidCursor.status
    )


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
    """The page named by `after`/`before` in `query` (the first without); `InvalidCursor`."""
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
