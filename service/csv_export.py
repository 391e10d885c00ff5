"""Every CSV the service writes goes through `csv_writer`: safe to open in a spreadsheet.

- A text cell that starts with `=`, `+`, `-`, `@`, tab or carriage return gets a leading
  `'` (OWASP, "CSV Injection"), so a spreadsheet shows it instead of running it as a
  formula: an external_ref `=HYPERLINK(...)` is written `'=HYPERLINK(...)`.
- Numbers written as numbers (Decimal, int) are left alone, so a money column stays
  numeric even when negative. Text is always neutralised, whatever it looks like: an
  amount formatted into a string is text. (The bordereau's amounts are never negative.)
- Control characters are removed from text cells before that check: C0 (U+0000-U+001F,
  except tab, LF and CR, which CSV quoting carries), DEL and C1 (U+0080-U+009F, such as
  NEL U+0085 or CSI U+009B, which some readers take as line breaks or terminal escapes).
  So `"\x85=1+1"` is written `'=1+1`.
- Lines end with CR LF (RFC 4180) and any field holding a CR or LF is quoted.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable
from typing import Any

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


CONTROLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def neutralise(value: Any) -> Any:
    """The cell as it may be written: control characters removed (C0 but tab, LF and
    CR; DEL; C1), then text that a spreadsheet would run gets a `'`."""
    if not isinstance(value, str):
        return value
    value = CONTROLS.sub("", value)
    if value.startswith(FORMULA_START):
        return "'" + value
    return value


class SafeWriter:
    """`csv.writer` with every cell neutralised."""

    def __init__(self, buffer: Any) -> None:
        # CR LF line ends: the csv module then quotes every field holding CR or LF.
        self._writer = csv.writer(buffer, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)

    def writerow(self, row: Iterable[Any]) -> Any:
        return self._writer.writerow([neutralise(cell) for cell in row])

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        for row in rows:
            self.writerow(row)


def csv_writer(buffer: Any) -> SafeWriter:
    return SafeWriter(buffer)
