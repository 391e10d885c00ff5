"""Text the database and the letters can carry (service/domain/text.py)."""

from __future__ import annotations

import pytest

from service.domain.text import letter_line, text_problem

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("value", "free_text", "found"),
    [
        ("plain", False, None),
        ("Zoë 王 ✓", False, None),
        ("a\x00b", True, "NUL"),
        ("\udfff", True, "surrogate"),
        ("a\ud800", False, "surrogate"),
        ("a\x1bb", True, "U+001B"),
        ("a\x7fb", True, "U+007F"),
        ("a\tb\nc\r\nd", True, None),
        ("a\tb", False, "U+0009"),
        ("a\nb", False, "U+000A"),
        ("a\rb", False, "U+000D"),
    ],
)
def test_text_problem(value, free_text, found):
    problem = text_problem(value, free_text=free_text)
    if found is None:
        assert problem is None
    else:
        assert problem is not None and found in problem


def test_letter_line_flattens_breaks_and_drops_bidi_controls():
    assert letter_line("a\u202eb\u2069c\r\nd\u2028e\x85f") == "abc d e f"
    assert letter_line(12) == 12
    assert letter_line("old \udfff row") == "old \ufffd row"
