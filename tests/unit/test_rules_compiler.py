"""Compiler: negation, alternatives, contradictions, engine values, and sharding."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from service.rules import compiler
from service.rules.compiler import ELeaf, compile_rules, engine_fact, rule_branches, satisfiable
from service.rules.loader import Condition, Group, Leaf, Pos, Rule

pytestmark = pytest.mark.unit
P = Pos("t.yaml", 1, 1)


def make_rule(when: Condition, rule_id: str = "R", **kw: object) -> Rule:
    fields: dict[str, object] = dict(
        description="d",
        owner="o",
        action="reject",
        code="C",
        carc=None,
        message="m",
        valid_from=None,
        valid_to=None,
        file="t.yaml",
        line=1,
    )
    fields.update(kw)
    return Rule(id=rule_id, when=when, **fields)  # type: ignore[arg-type]


def leaf(fact: str, op: str, value: object = None, ref: str | None = None) -> Leaf:
    return Leaf(fact, op, value, P, ref)


def test_not_equal_also_matches_unknown() -> None:
    branches = rule_branches(make_rule(Group("not", (leaf("policy.found", "eq", True),), P)))
    assert branches == [(ELeaf("policy.found", "ne", True),), (ELeaf("policy.found", "nex", 1),)]


def test_in_and_not_in() -> None:
    into = rule_branches(make_rule(leaf("claim.claim_type", "in", ("a", "b"))))
    assert into == [
        (ELeaf("claim.claim_type", "eq", "a"),),
        (ELeaf("claim.claim_type", "eq", "b"),),
    ]
    out = rule_branches(make_rule(leaf("claim.claim_type", "not_in", ("a", "b"))))
    assert out == [(ELeaf("claim.claim_type", "ne", "a"), ELeaf("claim.claim_type", "ne", "b"))]


def test_negated_reference_covers_either_side_unknown() -> None:
    cond = Group("not", (leaf("claim.amount", "lte", ref="coverage.deductible"),), P)
    assert set(rule_branches(make_rule(cond))) == {
        (
            ELeaf("claim.amount", "gt", None, "coverage.deductible"),
            ELeaf("coverage.deductible", "ex", 1),
        ),
        (ELeaf("claim.amount", "nex", 1),),
        (ELeaf("coverage.deductible", "nex", 1),),
    }


def test_any_of_all_expands_and_equalities_come_first() -> None:
    cond = Group(
        "all",
        (
            leaf("claim.amount", "gt", Decimal("10")),
            Group(
                "any", (leaf("claim.claim_type", "eq", "x"), leaf("days_to_report", "gte", 3)), P
            ),
        ),
        P,
    )
    assert rule_branches(make_rule(cond)) == [
        (ELeaf("claim.claim_type", "eq", "x"), ELeaf("claim.amount", "gt", 10.0)),
        (ELeaf("claim.amount", "gt", 10.0), ELeaf("days_to_report", "gte", 3)),
    ]


def test_valid_dates_become_conditions_on_date_of_loss() -> None:
    rule = make_rule(
        leaf("policy.found", "eq", True), valid_from=date(2026, 1, 1), valid_to=date(2026, 6, 30)
    )
    (branch,) = rule_branches(rule)
    assert ELeaf("claim.date_of_loss", "gte", 20260101) in branch
    assert ELeaf("claim.date_of_loss", "lte", 20260630) in branch


@pytest.mark.parametrize(
    ("leaves", "possible"),
    [
        ([ELeaf("a", "gt", 10), ELeaf("a", "lt", 5)], False),
        ([ELeaf("a", "gt", 5), ELeaf("a", "lt", 10)], True),
        ([ELeaf("a", "gte", 5), ELeaf("a", "lte", 5)], True),
        ([ELeaf("a", "gt", 5), ELeaf("a", "lte", 5)], False),
        ([ELeaf("a", "eq", 1), ELeaf("a", "eq", 2)], False),
        ([ELeaf("a", "eq", 1), ELeaf("a", "ne", 1)], False),
        ([ELeaf("a", "eq", 7), ELeaf("a", "gt", 7)], False),
        ([ELeaf("a", "nex", 1), ELeaf("a", "eq", 1)], False),
        ([ELeaf("a", "lt", None, "b"), ELeaf("b", "nex", 1)], False),
        ([ELeaf("a", "ex", 1), ELeaf("b", "nex", 1)], True),
    ],
)
def test_satisfiable(leaves: list[ELeaf], possible: bool) -> None:
    assert satisfiable(leaves) is possible


def test_every_durable_rule_starts_with_kind_claim_and_an_always_rule_exists() -> None:
    compiled, problems = compile_rules([make_rule(leaf("policy.found", "present", False))])
    assert problems == []
    (shard,) = compiled.shards
    assert shard["always"] == {"all": [{"m": {"kind": "claim"}}]}
    for name, definition in shard.items():
        if name != "always":
            assert definition["all"][0]["m"]["$and"][0] == {"kind": "claim"}
    assert compiled.properties == {"policy.found"}


def ladder(n: int, fact: str = "claim.amount") -> list[Rule]:
    return [make_rule(leaf(fact, "gt", Decimal(i)), f"R{i}") for i in range(n)]


def test_ladder_of_thresholds_is_split_so_at_most_48_are_true_at_once() -> None:
    compiled, problems = compile_rules(ladder(200))
    assert problems == []
    assert len(compiled.shards) == 5  # 48 + 48 + 48 + 48 + 8
    assert all(len(s) - 1 <= compiler.SAFE_STACK for s in compiled.shards)


def test_many_equalities_on_one_fact_share_a_shard_until_the_table_limit() -> None:
    rules = [make_rule(leaf("days_to_report", "eq", i), f"R{i}") for i in range(600)]
    compiled, problems = compile_rules(rules)
    assert problems == []
    assert [len(s) - 1 for s in compiled.shards] == [256, 256, 88]


def test_identical_conditions_are_split_below_the_rule_list_limit() -> None:
    rules = [make_rule(leaf("days_to_report", "eq", 1), f"R{i}") for i in range(450)]
    compiled, _ = compile_rules(rules)
    assert [len(s) - 1 for s in compiled.shards] == [200, 200, 50]


def test_five_thousand_rules_stay_under_the_rules_per_ruleset_limit() -> None:
    types = ("device_damage", "device_theft", "water_damage", "fire_damage")
    rules = [
        make_rule(
            Group(
                "all",
                (leaf("claim.claim_type", "eq", types[i % 4]), leaf("days_to_report", "eq", i)),
                P,
            ),
            f"R{i}",
        )
        for i in range(5000)
    ]
    compiled, problems = compile_rules(rules)
    assert problems == []
    assert len(compiled.names) == 5000
    assert all(len(s) <= compiler.SAFE_RULES + 1 for s in compiled.shards)


def test_a_rule_too_wide_for_the_engine_is_refused() -> None:
    wide = Group("any", tuple(leaf("claim.amount", "gt", Decimal(i)) for i in range(60)), P)
    _, problems = compile_rules([make_rule(wide, "WIDE", line=7)])
    assert [str(p) for p in problems] == [
        "t.yaml:7:1: rule WIDE is too large for the engine: "
        "more than 48 conditions could be true at once"
    ]


def test_engine_fact_sends_only_used_facts_as_engine_values() -> None:
    facts = {
        "claim": {"amount": Decimal("10.10"), "date_of_loss": date(2026, 3, 4), "currency": "USD"},
        "policy": {"found": True},
        "missing_documents": ["photos"],
        "payable_amount": None,
    }
    used = frozenset({"claim.amount", "claim.date_of_loss", "policy.found", "payable_amount"})
    assert engine_fact(facts, used) == {
        "claim.amount": 10.1,
        "claim.date_of_loss": 20260304,
        "policy.found": True,
    }
