"""The durable_rules adapter against the real C engine: same answers as plain Python,
no engine limit reachable from rule files, no leaks, failures as EngineFailure.

Anything that could hang or crash the interpreter runs in a child process with a timeout.
"""

from __future__ import annotations

import random
import subprocess
import sys
import textwrap
import threading
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from service.domain.calendar import Duration, Span
from service.domain.facts import FACTS
from service.rules.compiler import compile_rules, evaluate_python, is_line_rule
from service.rules.engine import EngineFailure, RulesEngine, Ruleset, adjudicate, load_ruleset
from service.rules.loader import Condition, Group, Leaf, Pos, Rule
from service.rules.testing import facts_for, load_cases

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
P = Pos("gen.yaml", 1, 1)
MONEY = [Decimal(v) for v in ("0.00", "0.01", "49.99", "50.00", "999.99", "1000.00", "1000.01")]
INTS = [0, 1, 3, 30, 31, 365, 366]
DATES = [date(2026, 1, 1), date(2026, 3, 14), date(2026, 12, 31)]


def run_child(code: str, timeout: int = 120) -> str:
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


LOSSES = [date(2024, 1, 31), date(2024, 2, 29), date(2023, 3, 1), date(2025, 12, 31)]
DURATIONS = [
    Duration(1, "years"),
    Duration(1, "months"),
    Duration(12, "months"),
    Duration(30, "days"),
    Duration(31, "days"),
    Duration(365, "days"),
]


def value_for(name: str, rng: random.Random, in_rule: bool = False) -> Any:
    """A fact's value (a Span for a duration fact) or, `in_rule`, a rule's value."""
    fact = FACTS[name]
    if fact.type == "duration":
        if in_rule:
            return rng.choice(DURATIONS)
        loss = rng.choice(LOSSES)  # month ends and leap days: where calendars differ
        return Span.between(loss, loss + timedelta(days=rng.choice(INTS + [28, 29, 60])))
    if fact.type == "money":
        return rng.choice(MONEY)
    if fact.type == "integer":
        return rng.choice(INTS)
    if fact.type == "date":
        return rng.choice(DATES)
    if fact.type == "boolean":
        return rng.random() < 0.5
    if fact.type == "enum":
        return rng.choice(fact.values)
    return rng.choice(["USD", "EUR"])


SCALARS = [n for n, f in FACTS.items() if f.type != "list"]


def random_facts(rng: random.Random) -> dict[str, Any]:
    facts: dict[str, Any] = {"missing_documents": []}
    for name in SCALARS:
        if rng.random() < 0.8:
            head, _, tail = name.rpartition(".")
            target = facts.setdefault(head, {}) if head else facts
            target[tail] = value_for(name, rng)
    return facts


def random_leaf(rng: random.Random) -> Leaf:
    name = rng.choice(SCALARS)
    kind = FACTS[name].type
    ops = {
        "boolean": ["eq", "ne", "present"],
        "enum": ["eq", "ne", "in", "not_in", "present"],
        "string": ["eq", "ne", "in", "not_in"],
        "duration": ["lt", "lte", "gt", "gte", "present"],
    }.get(kind, ["eq", "ne", "lt", "lte", "gt", "gte", "in", "not_in", "present", "ref"])
    op = rng.choice(ops)
    if op == "present":
        return Leaf(name, op, rng.random() < 0.5, P)
    if op == "ref":
        others = [n for n in SCALARS if FACTS[n].type == kind and n != name]
        return Leaf(
            name, rng.choice(["eq", "ne", "lt", "lte", "gt", "gte"]), None, P, rng.choice(others)
        )
    if op in ("in", "not_in"):
        return Leaf(name, op, tuple({value_for(name, rng) for _ in range(3)}), P)
    return Leaf(name, op, value_for(name, rng, in_rule=True), P)


def random_condition(rng: random.Random, depth: int = 0) -> Condition:
    if depth >= 2 or rng.random() < 0.4:
        return random_leaf(rng)
    kind = rng.choice(["all", "any", "not"])
    if kind == "not":
        return Group("not", (random_condition(rng, depth + 1),), P)
    return Group(kind, tuple(random_condition(rng, depth + 1) for _ in range(rng.randint(1, 3))), P)


def ruleset_of(rules: list[Rule]) -> Ruleset:
    compiled, problems = compile_rules(rules)
    assert problems == []
    return Ruleset(
        "test", tuple(rules), ("reject", "request_info", "escalate", "approve"), {}, {}, compiled
    )


def make_rule(i: int, when: Condition, **kw: Any) -> Rule:
    return Rule(
        f"R{i}",
        "d",
        "o",
        "escalate",
        f"C{i}",
        None,
        "m",
        kw.get("valid_from"),
        kw.get("valid_to"),
        "gen.yaml",
        i + 1,
        when,
    )


def test_random_rules_match_the_python_reference() -> None:
    rng = random.Random(20260314)
    rules = []
    for i in range(300):
        valid = {}
        if rng.random() < 0.1:
            valid = {"valid_from": date(2026, 2, 1), "valid_to": date(2026, 6, 30)}
        rules.append(make_rule(i, random_condition(rng), **valid))
    rules = [r for r in rules if r.when is not None]
    from service.rules.compiler import rule_branches

    rules = [r for r in rules if 0 < len(rule_branches(r)) <= 64]
    engine = RulesEngine(ruleset_of(rules))
    for _ in range(800):
        facts = random_facts(rng)
        got = {r.rule for r in engine.evaluate(facts)}
        want = {r.id for r in rules if evaluate_python(r, facts)}
        assert got == want, (facts, got ^ want)


def test_default_rules_match_the_python_reference_on_random_facts() -> None:
    ruleset = load_ruleset(ROOT / "rules")
    engine = RulesEngine(ruleset)
    rng = random.Random(7)
    claim_rules = [r for r in ruleset.rules if not is_line_rule(r)]
    line_rules = [r for r in ruleset.rules if is_line_rule(r)]
    assert line_rules  # rules/lines.yaml
    lines_seen = 0
    for _ in range(1000):
        facts = random_facts(rng)
        got = [r.rule for r in engine.evaluate(facts)]
        assert got == [r.id for r in claim_rules if evaluate_python(r, facts)]
        if not isinstance(facts.get("line"), dict):
            continue
        # line rules run once per line, the line seen as `line` beside the claim's facts
        lines_seen += 1
        per_line = {k: v for k, v in facts.items() if k != "line"}
        per_line["lines"] = [facts["line"]]
        _, _, fired = engine.evaluate_with_lines(per_line, lambda _r: None, lambda _r, _f: None)
        assert [r.rule for r in fired[0]] == [r.id for r in line_rules if evaluate_python(r, facts)]
    assert lines_seen > 100


def test_5000_evaluations_in_one_process_are_flat_and_stable() -> None:
    ruleset = load_ruleset(ROOT / "rules")
    engine = RulesEngine(ruleset)
    cases, _ = load_cases(ROOT / "rules" / "tests")
    facts = [facts_for(c, ruleset) for c in cases]
    expected = [adjudicate(engine, f) for f in facts]
    for i in range(1000):
        engine.evaluate(facts[i % len(facts)])
    before = rss_kib()
    for i in range(6000):
        decision = adjudicate(engine, facts[i % len(facts)])
        assert decision == expected[i % len(facts)]
    assert rss_kib() - before < 4096


def test_threads_share_the_engine_safely() -> None:
    ruleset = load_ruleset(ROOT / "rules")
    engine = RulesEngine(ruleset)
    cases, _ = load_cases(ROOT / "rules" / "tests")
    facts = [facts_for(c, ruleset) for c in cases]
    expected = [engine.evaluate(f) for f in facts]
    errors: list[str] = []

    def work(offset: int) -> None:
        for i in range(1500):
            k = (i + offset) % len(facts)
            if engine.evaluate(facts[k]) != expected[k]:
                errors.append(f"case {k}")

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


def test_swap_switches_rules_and_frees_the_old_ones() -> None:
    threshold = [make_rule(0, Leaf("claim.amount", "gt", Decimal("100"), P))]
    other = [make_rule(1, Leaf("claim.amount", "lte", Decimal("100"), P))]
    a, b = ruleset_of(threshold), ruleset_of(other)
    engine = RulesEngine(a)
    facts = {"claim": {"amount": Decimal("150.00")}, "missing_documents": []}
    assert [r.rule for r in engine.evaluate(facts)] == ["R0"]
    for _ in range(50):
        engine.swap(b)
        engine.swap(a)
    before = rss_kib()
    for _ in range(300):
        engine.swap(b)
        assert engine.evaluate(facts) == []
        engine.swap(a)
        assert [r.rule for r in engine.evaluate(facts)] == ["R0"]
    assert rss_kib() - before < 8192
    assert engine.ruleset is a


SYNTH = """
    import json, sys
    from decimal import Decimal
    from pathlib import Path
    from tempfile import mkdtemp
    from service.rules.engine import load_ruleset, RulesEngine
    from service.rules.compiler import evaluate_python
    from service.rules.limits import Limits

    # the engine's own limits are the subject here: the loading caps are raised
    # as far as their settings allow
    BIG = Limits(max_rules=20_000, max_file_bytes=64 * 2**20, max_total_bytes=64 * 2**20)

    def write(rules):
        d = Path(mkdtemp())
        lines = ["rules:"]
        for i, when in enumerate(rules):
            lines += [f"  - id: R{i}", "    description: synthetic", "    owner: test",
                      f"    when: {when}",
                      f"    then: {{action: escalate, code: C{i}, message: m}}"]
        (d / "r.yaml").write_text("\\n".join(lines) + "\\n")
        return d

    def check(rules, facts_list):
        rs = load_ruleset(write(rules), BIG)
        engine = RulesEngine(rs)
        for facts in facts_list:
            got = [r.rule for r in engine.evaluate(facts)]
            want = [r.id for r in rs.rules if evaluate_python(r, facts)]
            assert got == want, (got, want)
        most = max(len(engine.evaluate(f)) for f in facts_list)
        print(len(rs.rules), len(rs.compiled.shards), most)
"""


def test_more_than_64_conditions_true_at_once_still_evaluate() -> None:
    out = run_child(
        SYNTH
        + """
    rules = [f"{{claim.amount: {{gt: {i}}}}}" for i in range(300)]
    check(rules, [{"claim": {"amount": Decimal(v)}} for v in ("100000.00", "150.50", "0.00")])
    """
    )
    assert out.split() == ["300", "7", "300"]


def test_more_than_512_sibling_conditions_do_not_hang() -> None:
    out = run_child(
        SYNTH
        + """
    rules = [f"{{days_to_report: {i}}}" for i in range(700)]
    rules += [f"{{claims_last_12_months: {{lt: {i}}}, days_to_report: {i}}}" for i in range(600)]
    check(rules, [{"days_to_report": d, "claims_last_12_months": 5} for d in (0, 5, 6, 699, 900)])
    """,
        timeout=180,
    )
    assert out.split()[0] == "1300"


def test_more_than_4096_rules_evaluate() -> None:
    out = run_child(
        SYNTH
        + """
    types = ["device_damage", "device_theft", "water_damage", "fire_damage"]
    rules = [f"{{claim.claim_type: {types[i % 4]}, days_to_report: {i // 4}}}"
             for i in range(5000)]
    facts = [{"claim": {"claim_type": t}, "days_to_report": d}
             for t in types for d in (0, 600, 1249)]
    check(rules, facts)
    """,
        timeout=240,
    )
    rules, shards, most = out.split()
    assert (rules, most) == ("5000", "1")
    assert int(shards) >= 2


def test_engine_errors_become_engine_failure_and_the_engine_recovers() -> None:
    out = run_child("""
    from decimal import Decimal
    from service.rules.compiler import Compiled
    from service.rules.engine import EngineFailure, RulesEngine, Ruleset, load_ruleset
    from pathlib import Path

    # 80 thresholds on one fact in ONE durable ruleset (bypassing the sharding compiler)
    shard = {"always": {"all": [{"m": {"kind": "claim"}}]}}
    shard.update({f"r{i}_0": {"all": [{"m": {"$and": [{"kind": "claim"},
                  {"$gt": {"claim.amount": i}}]}}]} for i in range(80)})
    raw = Ruleset("raw", (), ("reject", "request_info", "escalate", "approve"), {}, {},
                  Compiled((shard,), {}, frozenset({"claim.amount"})))
    engine = RulesEngine(raw)
    assert engine.evaluate({"claim": {"amount": Decimal("5.00")}}) == []
    try:
        engine.evaluate({"claim": {"amount": Decimal("1000.00")}})
    except EngineFailure as exc:
        print("failure:", exc)
    good = RulesEngine(load_ruleset(Path("rules")))
    big = {"claim": {"amount": Decimal("1.00"), "line_of_business": "x" * (17 * 2**20)},
           "missing_documents": []}
    try:
        good.evaluate(big)
    except EngineFailure as exc:
        print("failure:", str(exc)[:60])
    small = {"policy": {"found": False}, "missing_documents": []}
    print([r.rule for r in good.evaluate(small)])
    """)
    lines = out.splitlines()
    assert lines[0].startswith("failure:") and "303" in lines[0]
    assert lines[1].startswith("failure:") and "314" in lines[1]
    assert lines[2] == "['POLICY_NOT_FOUND']"


def test_engine_is_built_lazily_and_evaluates_after_fork() -> None:
    out = run_child("""
    import os
    from pathlib import Path
    from service.rules.engine import RulesEngine, load_ruleset
    engine = RulesEngine(load_ruleset(Path("rules")))
    assert engine._durable is None
    facts = {"policy": {"found": False}, "missing_documents": []}
    print([r.rule for r in engine.evaluate(facts)])
    pid = os.fork()
    if pid == 0:
        ok = [r.rule for r in engine.evaluate(facts)] == ["POLICY_NOT_FOUND"]
        os._exit(0 if ok else 3)
    print(os.waitpid(pid, 0)[1])
    """)
    assert out.split("\n")[:2] == ["['POLICY_NOT_FOUND']", "0"]


def test_unknown_facts_and_dates_compare_like_python() -> None:
    rules = [
        make_rule(0, Leaf("claim.date_of_loss", "lt", date(2026, 3, 1), P)),
        make_rule(1, Group("not", (Leaf("coverage.deductible", "gt", Decimal("0"), P),), P)),
        make_rule(2, Leaf("claim.amount", "lte", None, P, "coverage.deductible")),
    ]
    engine = RulesEngine(ruleset_of(rules))
    for day in (date(2026, 2, 28), date(2026, 3, 1)):
        for facts in (
            {"claim": {"date_of_loss": day, "amount": Decimal("50.00")}},
            {
                "claim": {"date_of_loss": day - timedelta(days=400)},
                "coverage": {"deductible": Decimal("50.00")},
            },
            {"claim": {"amount": Decimal("50.00")}, "coverage": {"deductible": Decimal("50.00")}},
        ):
            got = {r.rule for r in engine.evaluate(facts)}
            assert got == {r.id for r in rules if evaluate_python(r, facts)}


def test_engine_failure_type_is_exported() -> None:
    assert issubclass(EngineFailure, Exception)
