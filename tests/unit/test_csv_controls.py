"""CSV exports carry no control characters: C1 (U+0080-U+009F) goes like C0 and DEL,
before the formula check (service/csv_export.py)."""

from __future__ import annotations

import io

import pytest

from service.csv_export import csv_writer, neutralise

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("cell", "written"),
    [
        ("a\x85b", "ab"),  # NEL
        ("\x9b31mred", "31mred"),  # CSI
        ("x\x80\x9fy", "xy"),
        ("\x85=HYPERLINK(1)", "'=HYPERLINK(1)"),
        ("bell\x07del\x7f", "belldel"),
        ("tab\there", "tab\there"),
        ("line\r\nbreak", "line\r\nbreak"),
        ("Ærø \u00a0café", "Ærø \u00a0café"),  # U+00A0 and up are text
    ],
)
def test_control_characters_are_stripped(cell, written):
    assert neutralise(cell) == written


def test_a_written_row_holds_no_c1_character():
    out = io.StringIO()
    csv_writer(out).writerow(["EXT-\x85\x9b1", 5])
    assert out.getvalue() == "EXT-1,5\r\n"
