"""Text the database, the logs and the letters can carry.

Two rules, used by every request schema and path (service/api/schemas.py, parsing.py):

- `text_problem(value, free_text=...)`: why a string may not be stored, or None. NUL
  (PostgreSQL cannot store it) and lone UTF-16 surrogates (no UTF-8 encoding: every
  e-mail would fail) are refused everywhere; other C0 control characters and DEL are
  refused too, except tab, line feed and carriage return in free text (descriptions,
  notes), where a CR LF pair is a line break like LF.
- `letter_line(value)`: a value fit to print inside one line of a letter or a subject:
  bidirectional embedding, override and isolate controls (U+202A-U+202E,
  U+2066-U+2069; the "Trojan Source" characters that reorder what a reader sees)
  removed, line breaks (CR, LF, NEL, U+2028, U+2029, VT, FF) turned into one space,
  and any lone surrogate stored before these checks existed shown as U+FFFD (so the
  letter can still be encoded and sent).
"""

from __future__ import annotations

import re

# C0 controls and DEL, except TAB (09), LF (0A), CR (0D): never in free text.
_FREE_TEXT_FORBIDDEN = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# Every C0 control and DEL: never in a single-line value (names, codes, ids).
_LINE_FORBIDDEN = re.compile(r"[\x00-\x1f\x7f]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")
BIDI_CONTROLS = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
_BIDI = re.compile(f"[{BIDI_CONTROLS}]")
_LINE_BREAKS = re.compile(r"[\r\n\x0b\x0c\x85\u2028\u2029]+")


# One pass to find out whether there is anything to say at all (the common case: no).
_ANY_FREE_TEXT_PROBLEM = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")
_ANY_LINE_PROBLEM = re.compile(r"[\x00-\x1f\x7f\ud800-\udfff]")


def text_problem(value: str, *, free_text: bool = False) -> str | None:
    """The reason `value` cannot be accepted, as a sentence for a 422; None when it can."""
    if (_ANY_FREE_TEXT_PROBLEM if free_text else _ANY_LINE_PROBLEM).search(value) is None:
        return None
    if "\x00" in value:
        return "Must not contain the NUL character (U+0000)."
    if _SURROGATE.search(value):
        return "Must not contain a lone UTF-16 surrogate (U+D800-U+DFFF); send valid Unicode."
    forbidden = _FREE_TEXT_FORBIDDEN if free_text else _LINE_FORBIDDEN
    found = forbidden.search(value)
    if found:
        allowed = "; only tab and line breaks are allowed" if free_text else ""
        return f"Must not contain the control character U+{ord(found.group()):04X}{allowed}."
    return None


def letter_line(value: object) -> object:
    """`value` with bidi controls removed and line breaks flattened, if it is a string.

    Anything else comes back as it is (numbers, dates, Decimals print themselves)."""
    if not isinstance(value, str):
        return value
    return _SURROGATE.sub("\ufffd", _LINE_BREAKS.sub(" ", _BIDI.sub("", value)))
