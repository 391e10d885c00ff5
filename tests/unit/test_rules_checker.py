"""`claims rules check`: every mistake reported as file:line:column: message."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner
from jsonschema import Draft202012Validator

from service.rules.checker import SCHEMA_PATH, check_directory, check_files
from service.rules.cli import rules as rules_cli
from service.rules.engine import RulesetError, load_ruleset

pytestmark = pytest.mark.unit
ROOT = Path(__file__).resolve().parents[2]


def rule(
    rule_id: str = "A_RULE",
    when: str = "claim.amount: {gt: 10}",
    then: str = "{action: reject, code: SOME_CODE, message: No.}",
    extra: str = "",
) -> str:
    return (
        textwrap.dedent(f"""\
      - id: {rule_id}
        description: A rule
        owner: team
        when: {{{when}}}
        then: {then}
    """)
        + extra
    )


def problems_for(tmp_path: Path, *rules: str, name: str = "r.yaml") -> list[str]:
    body = "".join(textwrap.indent(r, "  ") for r in rules)
    (tmp_path / name).write_text("rules:\n" + body)
    return [str(p) for p in check_directory(tmp_path).problems]


def test_shipped_rules_are_clean() -> None:
    result = check_directory(ROOT / "rules")
    assert result.problems == []
    assert len(result.rules) >= 16


def test_unknown_fact_suggests_the_closest(tmp_path: Path) -> None:
    assert problems_for(tmp_path, rule(when="claim.amout: {gt: 10}")) == [
        "r.yaml:5:12: unknown fact 'claim.amout' (did you mean 'claim.amount'?)"
    ]


@pytest.mark.parametrize(
    ("when", "message"),
    [
        ("claim.date_of_loss: {gt: 100}", "is a date: write it as YYYY-MM-DD"),
        ("claim.amount: 'lots'", "claim.amount is money: expected a number"),
        ("claim.amount: {gt: 10.0005}", "at most three decimal places"),
        ("claim.claim_type: car", "'car' is not a value of claim.claim_type"),
        ("claim.claim_type: {in: device_damage}", "`in` needs a non-empty list"),
        ("policy.found: {lt: true}", "operator 'lt' does not apply to policy.found"),
        ("claim.amount: {between: 3}", "unknown operator 'between'"),
        ("days_to_report: 1.5", "is a whole number"),
        ("missing_documents: {eq: 1}", "use missing_documents_count"),
        ("claim.amount: {gt: {fact: claim.date_of_loss}}", "cannot compare claim.amount (money)"),
        ("claim.amount: {gt: {fact: nope}}", "unknown fact 'nope'"),
        ("policy.found: {present: maybe}", "`present` takes true or false"),
    ],
)
def test_type_mismatches(tmp_path: Path, when: str, message: str) -> None:
    found = problems_for(tmp_path, rule(when=when))
    assert len(found) == 1 and message in found[0], found
    assert found[0].startswith("r.yaml:5:")


def test_unknown_action_and_carc(tmp_path: Path) -> None:
    found = problems_for(tmp_path, rule(then="{action: rejct, code: X_Y, carc: '999', message: m}"))
    assert any("unknown action 'rejct' (did you mean 'reject'?)" in p for p in found)
    assert any("unknown CARC '999'" in p for p in found)


def test_missing_keys_and_unknown_keys(tmp_path: Path) -> None:
    text = "rules:\n  - id: NO_THEN\n    description: d\n    owner: o\n"
    text += "    when: {days_to_report: 3}\n"
    text += "    whatever: 1\nrulez: []\n"
    (tmp_path / "r.yaml").write_text(text)
    found = [str(p) for p in check_directory(tmp_path).problems]
    assert "r.yaml:2:5: missing required key 'then'" in found
    assert "r.yaml:6:5: unknown key 'whatever'" in found
    assert "r.yaml:7:1: unknown key 'rulez' (did you mean 'rules'?)" in found


def test_duplicate_ids_across_files(tmp_path: Path) -> None:
    problems_for(tmp_path, rule("SAME_ID"), name="a.yaml")
    found = problems_for(tmp_path, rule("SAME_ID", when="days_to_report: 3"), name="b.yaml")
    assert found == ["b.yaml:2:5: duplicate rule id 'SAME_ID' (first defined at a.yaml:2)"]


def test_rules_that_can_never_fire(tmp_path: Path) -> None:
    found = problems_for(
        tmp_path,
        rule("CONTRADICTS", when="claim.amount: {gt: 10, lt: 5}"),
        rule(
            "BAD_WINDOW",
            when="days_to_report: 3",
            extra="  valid_from: 2026-05-01\n  valid_to: 2026-01-01\n",
        ),
        rule("NOT_AND_IS", when="policy.found: true, not: {policy.found: true}"),
    )
    assert (
        "r.yaml:2:5: rule CONTRADICTS can never fire: its conditions contradict each other" in found
    )
    assert any("valid_from 2026-05-01 is after valid_to 2026-01-01" in p for p in found)
    assert any("rule NOT_AND_IS can never fire" in p for p in found)


def test_shadowed_rule_is_a_warning(tmp_path: Path) -> None:
    found = problems_for(
        tmp_path,
        rule("STRONG", when="days_to_report: {gt: 10}"),
        rule(
            "WEAK",
            when="days_to_report: {gt: 10}",
            then="{action: approve, code: OK, message: fine}",
        ),
    )
    assert found == [
        "r.yaml:7:5: warning: rule WEAK has the same conditions as STRONG "
        "(r.yaml:2) whose action 'reject' always wins"
    ]


def test_empty_file_and_syntax_error(tmp_path: Path) -> None:
    (tmp_path / "empty.yaml").write_text("")
    (tmp_path / "broken.yaml").write_text("rules:\n  - id: [x\n")
    found = [str(p) for p in check_directory(tmp_path).problems]
    assert found[0].startswith("broken.yaml:3:1: YAML syntax error")
    assert found[1] == "empty.yaml:1:1: empty file: expected `rules:` or settings"


def test_settings_checked(tmp_path: Path) -> None:
    (tmp_path / "s.yaml").write_text(
        "precedence: [reject, approve]\nrequired_documents:\n  device_damag: [photos]\n"
    )
    found = [str(p) for p in check_directory(tmp_path).problems]
    assert any("s.yaml:1:13: precedence must list each action once" in p for p in found)
    assert any(
        "unknown claim type 'device_damag' (did you mean 'device_damage'?)" in p for p in found
    )


def test_rule_expanding_to_too_many_alternatives_is_refused(tmp_path: Path) -> None:
    values = ", ".join(str(i) for i in range(70))
    found = problems_for(tmp_path, rule("HUGE", when=f"days_to_report: {{in: [{values}]}}"))
    assert found == [
        "r.yaml:2:5: rule HUGE expands to 70 alternatives (most 64); "
        "split it into several rules or shorten `in` lists"
    ]


def test_load_ruleset_raises_with_every_problem(tmp_path: Path) -> None:
    problems_for(tmp_path, rule(when="claim.amout: 3"), rule("B", when="days_to_report: x"))
    with pytest.raises(RulesetError) as caught:
        load_ruleset(tmp_path)
    lines = str(caught.value).splitlines()
    assert len(lines) == len(caught.value.problems) == 2
    assert all(line.startswith("r.yaml:") for line in lines)


def test_schema_accepts_shipped_files_and_rejects_bad_ones() -> None:
    import yaml

    validator = Draft202012Validator(json.loads(SCHEMA_PATH.read_text()))
    Draft202012Validator.check_schema(validator.schema)
    for path in (ROOT / "rules").glob("*.yaml"):
        doc = json.loads(json.dumps(yaml.safe_load(path.read_text()), default=str))
        assert list(validator.iter_errors(doc)) == [], path
    bad = {
        "rules": [
            {
                "id": "lower",
                "description": "d",
                "owner": "o",
                "when": {"nope": 1},
                "then": {"action": "maybe", "code": "X", "message": "m"},
            }
        ]
    }
    assert len(list(validator.iter_errors(bad))) >= 3


def test_cli_check_exit_codes(tmp_path: Path) -> None:
    runner = CliRunner()
    ok = runner.invoke(rules_cli, ["check", str(ROOT / "rules")])
    assert ok.exit_code == 0 and "ok:" in ok.output
    problems_for(tmp_path, rule(when="claim.amout: 3"))
    bad = runner.invoke(rules_cli, ["check", str(tmp_path)])
    assert bad.exit_code == 1
    assert f"{tmp_path}/r.yaml:5:12: unknown fact 'claim.amout'" in bad.output


def test_cli_check_uses_rules_dir_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    problems_for(tmp_path, rule(when="claim.amout: 3"))
    monkeypatch.setenv("RULES_DIR", str(tmp_path))
    assert CliRunner().invoke(rules_cli, ["check"]).exit_code == 1


def test_cli_diff(tmp_path: Path) -> None:
    old, new = tmp_path / "old", tmp_path / "new"
    old.mkdir()
    new.mkdir()
    problems_for(old, rule("KEPT"), rule("GONE", when="days_to_report: 3"))
    problems_for(
        new, rule("KEPT", when="claim.amount: {gt: 20}"), rule("ADDED", when="days_to_report: 4")
    )
    result = CliRunner().invoke(rules_cli, ["diff", str(old), str(new)])
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert lines[0].startswith("+ ADDED")
    assert lines[1].startswith("- GONE")
    assert lines[2].startswith("~ KEPT") and "conditions changed" in lines[2]


def test_a_file_name_that_is_not_utf8_is_a_clear_problem(tmp_path: Path) -> None:
    """Finding 10: a rule file named with bytes that are not UTF-8 is refused by name."""
    import os

    from tests.hostile_rules import many_rules

    (tmp_path / "ok.yaml").write_text(many_rules(1), encoding="utf-8")
    with open(os.path.join(os.fsencode(tmp_path), b"bad\xff.yaml"), "wb") as handle:
        handle.write(many_rules(1, start=5).encode())
    result = check_directory(tmp_path)
    assert [str(p) for p in result.errors] == [
        "bad\\xff.yaml:1:1: the file name is not UTF-8 text; rename the file"
    ]
    run = CliRunner().invoke(rules_cli, ["check", str(tmp_path)])
    assert run.exit_code == 1 and run.exception is None or isinstance(run.exception, SystemExit)
    assert "bad\\xff.yaml:1:1: the file name is not UTF-8 text" in run.output


def test_a_long_file_name_is_cut_in_problems(tmp_path: Path) -> None:
    name = "r" * 240 + ".yaml"
    (tmp_path / name).write_text("rules: [", encoding="utf-8")
    (problem, *_) = check_directory(tmp_path).errors
    assert str(problem).startswith("r" * 197 + "...:")


def test_a_rule_id_over_64_characters_is_refused_plainly() -> None:
    """Finding 14: a capped rule id, and checker messages without Python reprs."""
    from tests.hostile_rules import many_rules

    long_id = "R" + "X" * 70
    text = many_rules(1).replace("id: R0,", f"id: {long_id},")
    result = check_files({"r.yaml": text})
    assert [p.message for p in result.errors] == [
        "rule id is 71 characters long; at most 64: shorten it"
    ]
    dated = many_rules(1).replace("{days_to_report: {gt: 0}}", "{days_to_report: {gt: 2026-01-01}}")
    messages = [p.message for p in check_files({"r.yaml": dated}).errors]
    assert messages and all("datetime" not in m and "Decimal(" not in m for m in messages)
    assert any("2026-01-01" in m for m in messages), messages
