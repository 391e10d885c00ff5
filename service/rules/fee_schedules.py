"""Fee schedules and code lists: rules/fee_schedules/*.csv, read and checked.

One row per code (UTF-8, comma-separated, a header row first):

    code,description,maximum_allowed,covered,valid_from,valid_to
    99213,Office visit (established patient),100.00,yes,,
    80053,Metabolic panel,,no,2026-01-01,

- `code` (required): the service or procedure code a line item carries;
- `covered` (required): yes/no (also true/false, 1/0): does the cover pay for the code;
- `maximum_allowed`: the most allowed for one line with the code (a plain decimal, at
  most three decimals, not negative); empty = no maximum;
- `description`, `valid_from`, `valid_to` (YYYY-MM-DD, inclusive; empty = open) optional.

Every mistake is a Problem at file:line (unknown or missing columns, a duplicate code
whose validity overlaps another row's, a bad amount, date or yes/no). Reading is
bounded: the file's size by RULES_MAX_FILE_BYTES (read_folder), the rows of all
schedules together by RULES_MAX_FEE_ROWS, a cell by the csv module's field limit.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Mapping
from datetime import date
from decimal import Decimal, InvalidOperation

from service.domain.fee_schedule import FeeEntry, FeeSchedule
from service.rules.loader import Problem, suggest

COLUMNS = ("code", "description", "maximum_allowed", "covered", "valid_from", "valid_to")
REQUIRED = ("code", "covered")
YES = ("yes", "true", "1", "y")
NO = ("no", "false", "0", "n")
MAX_CELL = 1_000  # characters in one cell
_AMOUNT = re.compile(r"^\d{1,12}(\.\d{1,3})?$")
_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$")


def read_fee_schedules(
    files: Mapping[str, str], max_rows: int
) -> tuple[FeeSchedule, list[Problem]]:
    """Every fee schedule among `files` ({relative path: text}) merged into one
    schedule; a code in two files is a duplicate like a code twice in one file."""
    problems: list[Problem] = []
    entries: dict[str, list[FeeEntry]] = {}
    rows = 0
    for rel in sorted(files):
        rows = _read_one(rel, files[rel], entries, problems, rows, max_rows)
        if rows > max_rows:
            break
    schedule = FeeSchedule({code: tuple(found) for code, found in entries.items()})
    return schedule, problems


def _read_one(
    rel: str,
    text: str,
    entries: dict[str, list[FeeEntry]],
    problems: list[Problem],
    rows: int,
    max_rows: int,
) -> int:
    def err(line: int, message: str) -> None:
        problems.append(Problem(rel, line, 1, message))

    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader, None)
    except csv.Error as exc:
        err(1, f"cannot read the CSV header: {exc}")
        return rows
    if header is None:
        err(1, f"empty fee schedule: expected a header row ({', '.join(COLUMNS)})")
        return rows
    names = [h.strip().lower() for h in header]
    bad = False
    for name in names:
        if name not in COLUMNS:
            err(1, f"unknown column {name!r}{suggest(name, COLUMNS)}")
            bad = True
    for name in REQUIRED:
        if name not in names:
            err(1, f"missing required column {name!r}")
            bad = True
    if len(set(names)) != len(names):
        err(1, "a column appears twice in the header")
        bad = True
    if bad:
        return rows
    try:
        for record in reader:
            line = reader.line_num
            if not any(cell.strip() for cell in record):
                continue
            rows += 1
            if rows > max_rows:
                err(
                    line,
                    f"too many fee schedule rows; the limit is {max_rows:,} "
                    "(setting RULES_MAX_FEE_ROWS)",
                )
                return rows
            if len(record) != len(names):
                err(line, f"expected {len(names)} cells, found {len(record)}")
                continue
            if any(len(cell) > MAX_CELL for cell in record):
                err(line, f"a cell is longer than {MAX_CELL:,} characters")
                continue
            entry = _entry(
                dict(zip(names, (c.strip() for c in record), strict=True)), rel, line, err
            )
            if entry is None:
                continue
            for other in entries.get(entry.code, []):
                if other.overlaps(entry):
                    err(
                        line,
                        f"duplicate code {entry.code!r}: already at "
                        f"{other.file}:{other.line} for overlapping dates",
                    )
                    break
            else:
                entries.setdefault(entry.code, []).append(entry)
    except csv.Error as exc:
        err(reader.line_num, f"cannot read the CSV: {exc}")
    return rows


def _entry(
    cells: dict[str, str], rel: str, line: int, report: Callable[[int, str], None]
) -> FeeEntry | None:
    ok = True
    code = cells.get("code", "")
    if not _CODE.match(code):
        report(line, f"bad code {code[:40]!r}: letters, digits, '.', '_' or '-', at most 32")
        ok = False
    covered_text = cells.get("covered", "").lower()
    covered = covered_text in YES
    if covered_text not in YES + NO:
        report(line, f"covered must be yes or no, not {cells.get('covered', '')[:20]!r}")
        ok = False
    maximum: Decimal | None = None
    raw = cells.get("maximum_allowed", "")
    if raw:
        if not _AMOUNT.match(raw):
            report(
                line,
                f"bad amount {raw[:40]!r} for maximum_allowed: a plain decimal "
                "such as 120.00 (at most three decimals, not negative)",
            )
            ok = False
        else:
            try:
                maximum = Decimal(raw)
            except InvalidOperation:
                report(line, f"bad amount {raw[:40]!r} for maximum_allowed")
                ok = False
    dates: dict[str, date | None] = {}
    for name in ("valid_from", "valid_to"):
        value = cells.get(name, "")
        dates[name] = None
        if value:
            try:
                if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
                    raise ValueError
                dates[name] = date.fromisoformat(value)
            except ValueError:
                report(line, f"{name} must be a date written YYYY-MM-DD, not {value[:20]!r}")
                ok = False
    start, end = dates["valid_from"], dates["valid_to"]
    if start and end and start > end:
        report(line, f"valid_from {start} is after valid_to {end}")
        ok = False
    if not ok:
        return None
    return FeeEntry(code, cells.get("description", ""), maximum, covered, start, end, rel, line)
