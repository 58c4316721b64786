"""CSV downloads that stream: spreadsheet-safe cells, rows written as they are read.

A cell starting with `=`, `+`, `-`, `@`, a tab or a carriage return would be taken for a formula
by a spreadsheet (CSV injection): it is prefixed with a single quote. Dicts and lists are written
as JSON. `csv_response` streams the header and the rows in blocks, so memory stays flat however
many rows there are (the rows should come from a chunked or keyset read).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from django.http import StreamingHttpResponse

FORMULA_STARTS = frozenset({"=", "+", "-", "@", "\t", "\r"})
ROWS_PER_BLOCK = 500


def csv_cell(value: Any) -> str:
    """The text of one cell, with formulas neutralised."""
    if isinstance(value, dict | list):
        text = json.dumps(value, sort_keys=True, default=str)
    else:
        text = "" if value is None else str(value)
    return "'" + text if text[:1] in FORMULA_STARTS else text


def csv_lines(
    header: Sequence[str], rows: Iterable[Sequence[Any]], *, block: int = ROWS_PER_BLOCK
) -> Iterator[str]:
    """The CSV text of `header` and `rows`, in blocks of `block` rows."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([csv_cell(name) for name in header])
    for count, row in enumerate(rows, start=1):
        writer.writerow([csv_cell(value) for value in row])
        if count % block == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    if text := buffer.getvalue():
        yield text


def csv_response(
    header: Sequence[str], rows: Iterable[Sequence[Any]], *, filename: str
) -> StreamingHttpResponse:
    """A streaming `text/csv` attachment named `filename` (ASCII letters, digits, `-_.`)."""
    response = StreamingHttpResponse(
        csv_lines(header, rows), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
