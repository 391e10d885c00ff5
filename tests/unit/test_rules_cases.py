"""One generic test: every analyst case under rules/tests, through the real engine."""

from __future__ import annotations

from pathlib import Path

import pytest

from service.rules.engine import RulesEngine, load_ruleset
from service.rules.testing import load_cases, run_all, run_case

pytestmark = pytest.mark.unit
RULES = Path(__file__).resolve().parents[2] / "rules"
CASES, CASE_PROBLEMS = load_cases(RULES / "tests")


@pytest.fixture(scope="module")
def engine() -> RulesEngine:
    return RulesEngine(load_ruleset(RULES))


def test_case_files_are_readable() -> None:
    assert CASE_PROBLEMS == []
    assert len(CASES) >= 16


@pytest.mark.parametrize("case", CASES, ids=[f"{c.file}:{c.line}" for c in CASES])
def test_case(engine: RulesEngine, case: object) -> None:
    result = run_case(engine, case)  # type: ignore[arg-type]
    assert result.passed, "\n".join(result.failures)


def test_every_rule_fires_in_some_case(engine: RulesEngine) -> None:
    report = run_all(engine.ruleset, RULES / "tests", engine)
    assert report.uncovered == []


def test_cli_test_reports_pass_fail_and_coverage(tmp_path: Path) -> None:
    import shutil

    from click.testing import CliRunner

    from service.rules.cli import rules as rules_cli

    runner = CliRunner()
    ok = runner.invoke(rules_cli, ["test", str(RULES)])
    assert ok.exit_code == 0, ok.output
    assert "every rule fires in at least one case" in ok.output
    copy = tmp_path / "rules"
    shutil.copytree(RULES, copy)
    cases = copy / "tests" / "default_rules.yaml"
    cases.write_text(
        cases.read_text().replace(
            "expect: {outcome: escalated, reasons: [POLICY_NOT_FOUND], payable_amount: null}",
            "expect: {outcome: approved, reasons: [POLICY_NOT_FOUND]}",
        )
    )
    bad = runner.invoke(rules_cli, ["test", str(copy)])
    assert bad.exit_code == 1
    assert "FAIL tests/default_rules.yaml" in bad.output
    assert "outcome: expected approved, got escalated" in bad.output
