"""Spreadsheet-safe CSV cells and the blocks a streamed CSV is written in."""

from __future__ import annotations

import csv
import io

import pytest

from tenantatlas.lib.csv_export import csv_cell, csv_lines, csv_response


@pytest.mark.parametrize("text", ["=1+1", "+cmd", "-2", "@SUM(A1)", "\tx", "\rx"])
def test_it_neutralises_cells_a_spreadsheet_would_run_as_formulas(text: str) -> None:
    assert csv_cell(text) == "'" + text


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ("LAPTOP-1", "LAPTOP-1"),
        ("a=b", "a=b"),
        (None, ""),
        (3, "3"),
        ({"b": 1, "a": [2]}, '{"a": [2], "b": 1}'),
    ],
)
def test_it_writes_other_values_as_text(value: object, cell: str) -> None:
    assert csv_cell(value) == cell


def test_it_streams_the_header_and_rows_in_blocks() -> None:
    rows = [(f"PC-{i}", "=HYPERLINK(x)" if i == 3 else "") for i in range(7)]

    blocks = list(csv_lines(["Device", "Note"], rows, block=3))

    assert len(blocks) == 3  # header + rows 0-2, rows 3-5, row 6
    parsed = list(csv.reader(io.StringIO("".join(blocks))))
    assert parsed[0] == ["Device", "Note"]
    assert parsed[1:] == [[f"PC-{i}", "'=HYPERLINK(x)" if i == 3 else ""] for i in range(7)]


def test_it_answers_a_streaming_attachment() -> None:
    response = csv_response(["A"], iter([("x",)]), filename="inventory-acme.csv")

    assert response.streaming
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="inventory-acme.csv"'
    assert response.getvalue() == b"A\r\nx\r\n"
