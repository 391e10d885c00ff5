"""The YAML loader keeps positions and reports syntax errors with them."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from service.rules.loader import LDict, LList, Problem, rule_files
from service.rules.reader import parse_yaml

pytestmark = pytest.mark.unit

TEXT = """\
rules:
  - id: A_RULE
    when:
      claim.amount: {gt: 10}
    valid_from: 2026-01-01
"""


def test_positions_of_keys_and_values_are_kept() -> None:
    problems: list[Problem] = []
    doc = parse_yaml(TEXT, "f.yaml", problems)
    assert problems == []
    assert isinstance(doc, LDict)
    rules = doc["rules"]
    assert isinstance(rules, LList)
    rule = rules[0]
    assert (rules.item_pos[0].line, rules.item_pos[0].column) == (2, 5)
    assert (rule.key_pos["when"].line, rule.key_pos["when"].column) == (3, 5)
    when = rule["when"]
    assert when.key_pos["claim.amount"].line == 4
    assert when["claim.amount"].key_pos["gt"].column == 22
    assert rule["valid_from"] == date(2026, 1, 1)


def test_syntax_error_has_a_position() -> None:
    problems: list[Problem] = []
    assert parse_yaml("rules:\n  - id: [oops\n", "bad.yaml", problems) is None
    assert len(problems) == 1
    assert problems[0].file == "bad.yaml"
    assert problems[0].line == 3
    assert "YAML syntax error" in problems[0].message


def test_duplicate_keys_are_reported() -> None:
    problems: list[Problem] = []
    parse_yaml("a: 1\nb: 2\na: 3\n", "d.yaml", problems)
    assert [str(p) for p in problems] == ["d.yaml:3:1: duplicate key 'a'"]


def test_problem_formats_as_file_line_column() -> None:
    assert str(Problem("x.yaml", 3, 7, "boom")) == "x.yaml:3:7: boom"
    assert str(Problem("x.yaml", 3, 7, "hm", "warning")) == "x.yaml:3:7: warning: hm"


def test_rule_files_skip_tests_and_schema(tmp_path: Path) -> None:
    for rel in ("b.yaml", "a.yml", "sub/c.yaml", "tests/t.yaml", "schema/s.yaml", "notes.md"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("rules: []\n")
    found = [p.relative_to(tmp_path).as_posix() for p in rule_files(tmp_path)]
    assert found == ["a.yml", "b.yaml", "sub/c.yaml"]
