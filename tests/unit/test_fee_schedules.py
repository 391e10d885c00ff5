"""Fee schedules (rules/fee_schedules/*.csv): checked with file:line, bounded, merged."""

from __future__ import annotations

import shutil
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner

from service.rules.checker import check_directory, check_files
from service.rules.fee_schedules import read_fee_schedules
from service.rules.limits import Limits

pytestmark = pytest.mark.unit
ROOT = Path(__file__).resolve().parents[2]
HEADER = "code,description,maximum_allowed,covered,valid_from,valid_to\n"
RULE = (ROOT / "rules" / "lines.yaml").read_text()


def _problems(text: str, **limits: int) -> list[str]:
    result = check_files({"lines.yaml": RULE, "fee_schedules/a.csv": text}, Limits(**limits))
    return [str(p) for p in result.errors]


def test_the_shipped_schedule_reads() -> None:
    result = check_directory(ROOT / "rules")
    assert result.errors == []
    entry = result.fee_schedule.lookup("99213", date(2026, 6, 1))
    assert entry is not None and entry.maximum == Decimal("90.00") and entry.covered
    assert result.fee_schedule.lookup("NOPE", date(2026, 6, 1)) is None


def test_unknown_and_missing_columns_name_the_header_line() -> None:
    problems = _problems("code,descripton,maximum_allowed\n99213,x,1.00\n")
    assert (
        "fee_schedules/a.csv:1:1: unknown column 'descripton' (did you mean 'description'?)"
        in problems
    )
    assert "fee_schedules/a.csv:1:1: missing required column 'covered'" in problems


def test_duplicate_codes_bad_amounts_dates_and_yes_no_name_their_line() -> None:
    text = (
        HEADER
        + "99213,visit,90.00,yes,,\n"
        + "99213,visit again,80.00,yes,2026-01-01,\n"  # line 3: overlaps line 2
        + "85025,lab,12.345.6,yes,,\n"  # line 4
        + "85026,lab,-5,yes,,\n"  # line 5
        + "85027,lab,5.00,maybe,,\n"  # line 6
        + "85028,lab,5.00,yes,2026-02-30,\n"  # line 7
        + "85029,lab,5.00,yes\n"  # line 8: too few cells
    )
    problems = _problems(text)
    assert any(p.startswith("fee_schedules/a.csv:3:1: duplicate code '99213'") for p in problems)
    assert any(p.startswith("fee_schedules/a.csv:4:1: bad amount '12.345.6'") for p in problems)
    assert any(p.startswith("fee_schedules/a.csv:5:1: bad amount '-5'") for p in problems)
    assert any(p.startswith("fee_schedules/a.csv:6:1: covered must be yes or no") for p in problems)
    assert any(p.startswith("fee_schedules/a.csv:7:1: valid_from must be a date") for p in problems)
    assert any(p.startswith("fee_schedules/a.csv:8:1: expected 6 cells") for p in problems)


def test_the_same_code_for_dates_that_do_not_overlap_is_allowed() -> None:
    text = HEADER + "99213,old,80.00,yes,,2025-12-31\n99213,new,90.00,yes,2026-01-01,\n"
    schedule, problems = read_fee_schedules({"fee_schedules/a.csv": text}, 100)
    assert problems == []
    assert schedule.lookup("99213", date(2025, 6, 1)).maximum == Decimal("80.00")  # type: ignore[union-attr]
    assert schedule.lookup("99213", date(2026, 6, 1)).maximum == Decimal("90.00")  # type: ignore[union-attr]


def test_rows_are_bounded() -> None:
    text = HEADER + "".join(f"C{i},x,1.00,yes,,\n" for i in range(50))
    problems = _problems(text, max_fee_rows=10)
    assert problems == [
        "fee_schedules/a.csv:12:1: too many fee schedule rows; the limit is 10 "
        "(setting RULES_MAX_FEE_ROWS)"
    ]


def test_claims_rules_check_reports_a_broken_schedule(tmp_path: Path) -> None:
    from service.rules.cli import rules as rules_cli

    folder = tmp_path / "rules"
    shutil.copytree(ROOT / "rules", folder, ignore=shutil.ignore_patterns("tests", "schema"))
    (folder / "fee_schedules" / "extra.csv").write_text(HEADER + "99213,dup,1.00,yes,,\n")
    result = CliRunner().invoke(rules_cli, ["check", str(folder)])
    assert result.exit_code != 0
    assert "fee_schedules/medical.csv:3:1: duplicate code '99213': already at " in result.output
    assert "fee_schedules/extra.csv:2 " in result.output
