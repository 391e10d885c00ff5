"""Formula-safe CSV (service/csv_export.py), read back as a spreadsheet would."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import pytest

from service.csv_export import csv_writer

pytestmark = pytest.mark.unit

DANGEROUS = ["=1+1", "+1+1", "-1+1", "@SUM(A1)", "\t=1", "\r=1", '=HYPERLINK("http://x","y")']


def spreadsheet_would_run(cell: str) -> bool:
    return cell[:1] in ("=", "+", "-", "@", "\t", "\r")


def write(rows) -> str:
    buffer = io.StringIO(newline="")
    writer = csv_writer(buffer)
    writer.writerows(rows)
    return buffer.getvalue()


def test_text_cells_that_start_like_a_formula_get_a_quote_mark():
    text = write([DANGEROUS])
    [row] = list(csv.reader(io.StringIO(text, newline="")))
    assert row == ["'" + cell for cell in DANGEROUS]
    assert not any(spreadsheet_would_run(cell) for cell in row)


def test_numbers_stay_numbers_even_negative():
    [row] = list(csv.reader(io.StringIO(write([[Decimal("-12.50"), 3, "x"]]), newline="")))
    assert row == ["-12.50", "3", "x"]


def test_a_cr_or_lf_inside_a_field_is_quoted_and_rows_stay_whole():
    text = write([["a\rb", "c\nd", "e\r\nf"], ["next", "row", "here"]])
    assert '"a\rb"' in text and '"c\nd"' in text
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert rows == [["a\rb", "c\nd", "e\r\nf"], ["next", "row", "here"]]
    assert text.endswith("\r\n")
