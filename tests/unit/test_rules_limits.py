"""Bounded rule loading (issue 13): what YAML may do, how big and deep a folder may be.

The hostile folders of the issue go through the real `claims rules check` in a child
that limits its own memory (tests/hostile_rules.py), so on code without these limits
the test fails there instead of taking the machine down.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from service.config import ConfigError, load
from service.rules.checker import check_directory, check_files
from service.rules.limits import Limits
from service.rules.loader import Problem
from service.rules.reader import parse_yaml
from tests.hostile_rules import (
    alias_bomb,
    bounded_claims,
    deep_all_not,
    deep_brackets,
    many_rules,
    write_folder,
)

pytestmark = pytest.mark.unit
RULE = """\
  - id: {id}
    description: A rule
    owner: team
    when: {when}
    then: {{action: reject, code: SOME_CODE, message: No.}}
"""


def rules_file(*whens: str) -> str:
    body = "".join(RULE.format(id=f"R_{i}", when=w) for i, w in enumerate(whens))
    return "rules:\n" + body


def read(text: str, limits: Limits | None = None) -> tuple[object, list[str]]:
    problems: list[Problem] = []
    doc = parse_yaml(text, "r.yaml", problems, limits)
    return doc, [str(p) for p in problems]


# --- the files, through the real CLI --------------------------------------------


def check_cli(folder: Path, env: dict[str, str] | None = None) -> list[str]:
    done = bounded_claims("rules", "check", str(folder), memory_mb=768, timeout=90, env=env)
    assert "Traceback" not in done.stderr + done.stdout, (done.stderr + done.stdout)[-1500:]
    assert done.returncode == 1, (done.returncode, done.stdout[-500:], done.stderr[-500:])
    lines = done.stdout.splitlines()
    assert lines and all(line.startswith(f"{folder}/") for line in lines), lines
    return lines


@pytest.mark.slow
def test_alias_bomb_is_refused_at_its_first_anchor(tmp_path: Path) -> None:
    text = alias_bomb(levels=10)
    assert len(text) < 1_000  # the 600-byte file, ten levels deep
    lines = check_cli(write_folder(tmp_path, text))
    assert lines == [
        f"{tmp_path}/hostile.yaml:8:11: anchor &a0 refused: anchors and aliases are not "
        "allowed in rule files; write each condition out in full"
    ]


@pytest.mark.slow
def test_20000_nested_brackets_name_the_depth_limit(tmp_path: Path) -> None:
    (line,) = check_cli(write_folder(tmp_path, deep_brackets(20_000)))
    assert line.startswith(f"{tmp_path}/hostile.yaml:1:")
    assert "nested too deep; the limit is 32 (setting RULES_MAX_DEPTH)" in line


@pytest.mark.slow
def test_400_nested_all_and_not_name_the_depth_limit(tmp_path: Path) -> None:
    (line,) = check_cli(write_folder(tmp_path, deep_all_not(400)))
    assert "nested too deep; the limit is 32 (setting RULES_MAX_DEPTH)" in line


@pytest.mark.slow
def test_100000_rules_are_refused_by_the_rules_cap(tmp_path: Path) -> None:
    write_folder(tmp_path, many_rules(100_000))
    raised = {"RULES_MAX_FILE_BYTES": str(64 << 20), "RULES_MAX_TOTAL_BYTES": str(64 << 20)}
    (line,) = check_cli(tmp_path, env=raised)
    assert line == (
        f"{tmp_path}/hostile.yaml:1002:5: too many rules in the ruleset (this is rule 1,001); "
        "the limit is 1,000 (setting RULES_MAX_RULES)"
    )
    (size,) = check_cli(tmp_path)  # with the default size limit it is the size that refuses
    assert "the limit is 524,288 (setting RULES_MAX_FILE_BYTES)" in size


@pytest.mark.slow
def test_a_rule_expanding_to_millions_of_alternatives_is_refused_before_it_is_built(
    tmp_path: Path,
) -> None:
    nine = "{any: [" + ", ".join(f"{{days_to_report: {i}}}" for i in range(9)) + "]}"
    when = "{all: [" + ", ".join([nine] * 8) + "]}"  # 9**8 = 43 million conjunctions
    write_folder(tmp_path, rules_file(when), "r.yaml")
    (line,) = check_cli(tmp_path)
    assert "rule R_0 expands to more than 256 alternatives (most 64)" in line


# --- YAML features analysts do not need ---------------------------------------------------


@pytest.mark.parametrize(
    ("text", "where", "words"),
    [
        ("a: &x 1\nb: 2\n", "1:4", "anchor &x refused"),
        ("a: [1]\nb: *x\n", "2:4", "alias *x refused"),
        ("a: {b: 1}\nc:\n  <<: {d: 2}\n", "3:3", "merge key << refused"),
        ("a: !!python/object:os.system x\n", "1:4", "tag tag:yaml.org,2002:python/object"),
        ("a: !custom 3\n", "1:4", "tag !custom refused"),
        ("a: 1\n---\nb: 2\n", "2:1", "one YAML document per file"),
        ("valid_from: 2026-02-30\n", "1:13", "cannot read the value '2026-02-30'"),
        ("a: x\x07\n", "1:5", "unreadable text: control characters are not allowed"),
    ],
)
def test_refused_yaml_says_where(text: str, where: str, words: str) -> None:
    doc, problems = read(text)
    assert doc is None
    assert len(problems) == 1 and problems[0].startswith(f"r.yaml:{where}: "), problems
    assert words in problems[0]


def test_plain_yaml_still_reads_with_positions() -> None:
    doc, problems = read("a: {b: [1, '<<', 2026-03-14]}\nc: =\n")
    assert problems == []
    assert doc == {"a": {"b": [1, "<<", date(2026, 3, 14)]}, "c": "="}


def test_depth_limit_is_the_setting() -> None:
    nested = "a: " + "[" * 9 + "]" * 9 + "\n"
    assert read(nested, Limits(max_depth=10))[1] == []
    (problem,) = read(nested, Limits(max_depth=9))[1]
    assert problem == (
        "r.yaml:1:12: lists and mappings nested too deep; the limit is 9 (setting RULES_MAX_DEPTH)"
    )


# --- what the money and time work added to rule files (issue 12) ----------------------

MONEY_AND_TIME = """\
rules:
  - id: LATE_BUT_PAYABLE
    description: Reported late, and more than the deductible
    owner: team
    when:
      report_delay: {gt: {months: 1}, lte: {years: 1}}
      claim.amount: {gt: {fact: coverage.deductible}}
      payable_amount: {gt: 999.125}
    then:
      action: escalate
      code: LATE_BUT_PAYABLE
      message: "{payable_amount} is payable; reported {report_delay} after the loss"
  - id: DUPLICATE_OF
    description: An exact duplicate
    owner: team
    when: {exact_duplicate: true}
    then:
      action: reject
      code: DUPLICATE
      carc: "18"
      message: This claim duplicates claim {duplicate_of}.
"""


def test_durations_fact_references_and_placeholders_are_plain_yaml() -> None:
    doc, problems = read(MONEY_AND_TIME)
    assert problems == []
    rule, duplicate = doc["rules"]  # type: ignore[index]
    assert rule["when"]["report_delay"] == {"gt": {"months": 1}, "lte": {"years": 1}}
    assert rule["then"]["message"].startswith("{payable_amount} is payable")
    assert duplicate["then"]["message"] == "This claim duplicates claim {duplicate_of}."
    # a duration or a fact reference is one comparison; tight caps still take the file
    assert check_files({"r.yaml": MONEY_AND_TIME}, Limits(max_conditions=4)).errors == []
    (over,) = check_files({"r.yaml": MONEY_AND_TIME}, Limits(max_conditions=3)).errors
    assert "rule LATE_BUT_PAYABLE has 4 conditions" in over.message


def test_the_sandbox_compiles_durations_and_placeholders() -> None:
    from service.rules import sandbox
    from service.rules.engine import build_ruleset

    assert sandbox.verify({"r.yaml": MONEY_AND_TIME}, Limits(), "candidate") == []
    ruleset = build_ruleset({"r.yaml": MONEY_AND_TIME})
    assert [r.id for r in ruleset.rules] == ["LATE_BUT_PAYABLE", "DUPLICATE_OF"]


# --- size, count and conditions -------------------------------------------------------


def test_file_size_files_and_total_size_limits(tmp_path: Path) -> None:
    limits = Limits(max_files=2, max_file_bytes=2_000, max_total_bytes=3_000)
    (tmp_path / "a.yaml").write_text(rules_file("{days_to_report: 1}") + "#" * 2_000)
    big = check_directory(tmp_path, limits)
    assert [str(p) for p in big.errors] == [
        "a.yaml:1:1: the file is 2,147 bytes; the limit is 2,000 (setting RULES_MAX_FILE_BYTES)"
    ]
    (tmp_path / "a.yaml").write_text(rules_file("{days_to_report: 1}") + "#" * 1_500)
    (tmp_path / "b.yaml").write_text("#" * 1_900)
    total = check_directory(tmp_path, limits)
    assert [p.message for p in total.errors] == [
        "the rule files are too large together; the limit is 3,000 (setting RULES_MAX_TOTAL_BYTES)"
    ]
    (tmp_path / "b.yaml").write_text("")
    (tmp_path / "c.yaml").write_text("")
    many = check_directory(tmp_path, limits)
    assert [p.message for p in many.errors] == [
        "too many rule files in the folder; the limit is 2 (setting RULES_MAX_FILES)"
    ]


def test_rules_are_counted_across_files() -> None:
    files = {"a.yaml": many_rules(3), "b.yaml": many_rules(3, start=3)}
    assert check_files(files, Limits(max_rules=6)).errors == []
    errors = [str(p) for p in check_files(files, Limits(max_rules=5)).errors]
    assert errors == [
        "b.yaml:4:5: too many rules in the ruleset (this is rule 6); "
        "the limit is 5 (setting RULES_MAX_RULES)"
    ]


def test_conditions_per_rule(tmp_path: Path) -> None:
    hundred = ", ".join(str(i) for i in range(100))
    limits = Limits(max_conditions=100)
    ok = check_files({"r.yaml": rules_file(f"{{days_to_report: {{not_in: [{hundred}]}}}}")}, limits)
    assert ok.errors == []
    over = rules_file(f"{{claim.amount: {{gt: 1}}, days_to_report: {{not_in: [{hundred}]}}}}")
    (problem,) = check_files({"r.yaml": over}, limits).errors
    assert str(problem) == (
        "r.yaml:5:11: rule R_0 has 101 conditions (each `in` value counts); "
        "the limit is 100 (setting RULES_MAX_CONDITIONS)"
    )


# --- settings -----------------------------------------------------------------------------


def test_limits_come_from_the_settings_and_stay_below_the_engine() -> None:
    assert Limits.from_config(load({})) == Limits()
    custom = Limits.from_config(load({"RULES_MAX_RULES": "50", "RULES_MAX_DEPTH": "12"}))
    assert (custom.max_rules, custom.max_depth) == (50, 12)
    with pytest.raises(ConfigError, match=r"RULES_MAX_CONDITIONS=512 .*durable_rules hangs"):
        Limits.from_config(load({"RULES_MAX_CONDITIONS": "512"}))
    with pytest.raises(ConfigError, match=r"RULES_COMPILE_SECONDS=60 .*worker timeout"):
        Limits(compile_seconds=60)


def test_shipped_rules_fit_well_within_the_limits() -> None:
    root = Path(__file__).resolve().parents[2] / "rules"
    tight = Limits(max_depth=12, max_conditions=10, max_rules=100, max_file_bytes=16_384)
    assert check_directory(root, tight).errors == []
