"""µs per claim: the project's durable_rules path beside zen-engine and plain Python.

    .venv/bin/python bench/engine.py                      # default: 2,000 claims, < 1 min
    .venv/bin/python bench/engine.py --claims 20000 --repeats 5 --sizes 10,50,100,200,500,1000

For the shipped ruleset and for synthetic rulesets (`claim_type == T and
claim.amount > t`, written as YAML in the project's rule model and loaded with
load_ruleset, so the real checker and compiler run), every engine evaluates
the same claims' facts (build_facts output) and returns which rules fired:

  durable   RulesEngine.evaluate (engine_fact + C extension under the lock)
  adjudic.  adjudicate(engine, facts): evaluate + precedence + trace (default only)
  zen       zen-engine decision table, collect hit policy (typed columns for the
            synthetic rules, one expression column for the shipped rules)
  python    the rule model compiled to Python closures (the floor)
  interp.   service.rules.compiler.evaluate_python, the project's reference interpreter

Every engine's answer is checked against the others before timing.

Then the cost of per-line adjudication (issue 16): adjudicate() of a medical claim with
20 line items (the line rules run once per line, the claim rules once) against the
same claim with 1 line item, the reference.
"""

# ruff: noqa: E402 - the path fix below must run before the other imports
from __future__ import annotations

import sys  # noqa: I001 - the path fix must come before any other import
from os.path import dirname, realpath

# bench/ goes last on the path: this folder's http.py must not shadow the standard library.
_HERE = dirname(realpath(__file__))
sys.path[:] = [p for p in sys.path if p not in (_HERE, "")] + [_HERE]

import argparse
import sys
import tempfile
from pathlib import Path

from _lib import (  # noqa: E402
    RULES_DIR,
    conditions,
    generated_facts,
    median_rate,
    print_conditions,
    print_table,
    python_predicates,
    ratio,
    synthetic_rules,
    use_wall_clock,
    write_synthetic_ruleset,
    zen_ruleset,
    zen_synthetic,
)

GOAL_US = 100.0  # default ruleset and 200 rules
GOAL_FLOOR_RATIO = 5.0  # within 5x of plain Python at 200 rules


def measure(
    label: str, ruleset_dir: Path, facts: list[dict], repeats: int, zen_factory, with_interp: bool
) -> dict:
    from service.rules.compiler import evaluate_python
    from service.rules.engine import RulesEngine, adjudicate, load_ruleset

    ruleset = load_ruleset(ruleset_dir)
    engine = RulesEngine(ruleset)
    rules = ruleset.rules
    python = python_predicates(rules)
    zen = zen_factory(rules, ruleset.compiled.properties)

    def interp(f: dict) -> list[str]:
        return [r.id for r in rules if evaluate_python(r, f)]

    # Same answers everywhere, or the timing means nothing.
    fired = 0
    for f in facts[: min(len(facts), 500)]:
        durable = sorted(r.rule for r in engine.evaluate(f))
        fired += len(durable)
        for name, other in (("python", python), ("zen", zen), ("interp", interp)):
            got = sorted(set(other(f)))
            if got != durable:
                raise SystemExit(f"{label}: {name} disagrees with durable: {got} != {durable}")

    def run(fn) -> callable:
        def loop() -> int:
            for f in facts:
                fn(f)
            return len(facts)

        return loop

    results = {
        "label": label,
        "rules": len(rules),
        "shards": len(ruleset.compiled.shards),
        "fired": fired / min(len(facts), 500),
    }
    results["durable"] = median_rate(run(engine.evaluate), repeats)[0] * 1e6
    if with_interp:
        results["adjudicate"] = median_rate(run(lambda f: adjudicate(engine, f)), repeats)[0] * 1e6
    results["zen"] = median_rate(run(zen), repeats)[0] * 1e6
    results["python"] = median_rate(run(python), repeats)[0] * 1e6
    if with_interp:
        results["interp"] = median_rate(run(interp), repeats)[0] * 1e6
    engine.close()
    return results


LINE_CODES = ("99213", "85025", "80053", "71046", "93000", "15780", "NOPE-1", "97110")


def line_claim_facts(lines: int) -> dict:
    """build_facts of a medical claim with `lines` line items (known, uncovered, unknown
    and over-maximum codes mixed), on a policy with a deductible."""
    from datetime import UTC, date, datetime
    from decimal import Decimal

    from service.domain.facts import build_facts
    from service.domain.model import Claim, Coverage, Document, History, LineItem, Policy

    items = tuple(LineItem(LINE_CODES[i % len(LINE_CODES)], Decimal("75.00")) for i in range(lines))
    policy = Policy(
        "P-BENCH",
        "B. Holder",
        "active",
        date(2026, 1, 1),
        date(2026, 12, 31),
        "USD",
        (Coverage("medical_reimbursement", Decimal("5000"), Decimal("100000"), Decimal("100")),),
    )
    claim = Claim(
        "P-BENCH",
        "medical_reimbursement",
        date(2026, 6, 1),
        datetime(2026, 6, 3, 12, tzinfo=UTC),
        sum((i.amount for i in items), Decimal("0")),
        "USD",
        (Document("invoice", "a"), Document("medical_report", "b")),
        line_items_count=lines,
        id="bench",
        line_items=items,
    )
    required = {"medical_reimbursement": ("invoice", "medical_report")}
    return build_facts(claim, policy, History(), required)


def measure_lines(repeats: int, claims: int) -> list[list]:
    from service.rules.engine import RulesEngine, adjudicate, load_ruleset

    engine = RulesEngine(load_ruleset(RULES_DIR))
    rows = []
    reference = None
    for lines in (1, 20):
        facts = line_claim_facts(lines)
        decision = adjudicate(engine, facts)
        assert len(decision.lines) == lines or decision.outcome != "approved"

        def loop(facts: dict = facts) -> int:
            for _ in range(claims):
                adjudicate(engine, facts)  # refills the line facts each time: same work
            return claims

        per_claim = median_rate(loop, repeats)[0] * 1e6
        reference = reference or per_claim
        rows.append([lines, per_claim, per_claim / lines, ratio(per_claim, reference)])
    engine.close()
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--claims", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--sizes", default="10,100,200,1000", help="synthetic rule counts (comma-separated)"
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--wall", action="store_true", help="time with wall clock, not CPU time")
    parser.add_argument(
        "--lines-only", action="store_true", help="only the per-line adjudication figures"
    )
    args = parser.parse_args(argv)
    if args.wall:
        use_wall_clock()
    sizes = [int(s) for s in args.sizes.split(",") if s]

    facts = generated_facts(args.claims, args.seed)
    print_conditions(
        "engine: µs per claim",
        conditions(
            clock="wall clock" if args.wall else "process CPU time (time.process_time)",
            claims=f"{len(facts):,} generated claims (seed {args.seed}), "
            f"{args.repeats} repeats, median",
            rulesets=f"shipped rules/ and synthetic {', '.join(map(str, sizes))} rules",
        ),
    )
    line_rows = measure_lines(args.repeats, max(100, args.claims // 4))
    print_table(
        ["line items", "adjudicate µs/claim", "µs per line", "vs 1 line"],
        line_rows,
        "per-line adjudication: the shipped rules, one medical claim (reference: 1 line)",
    )
    if args.lines_only:
        return 0
    rows = [measure("default (rules/)", RULES_DIR, facts, args.repeats, zen_ruleset, True)]
    with tempfile.TemporaryDirectory() as tmp:
        for size in sizes:
            rules = synthetic_rules(size)
            folder = write_synthetic_ruleset(Path(tmp) / f"syn{size}", rules)
            rows.append(
                measure(
                    f"synthetic {size}",
                    folder,
                    facts,
                    args.repeats,
                    lambda _r, props, rules=rules: zen_synthetic(rules, props),
                    False,
                )
            )

    print_table(
        [
            "ruleset",
            "rules",
            "shards",
            "fired/claim",
            "durable µs",
            "adjudicate µs",
            "zen µs",
            "python µs",
            "interp. µs",
            "durable/zen",
            "durable/python",
        ],
        [
            [
                r["label"],
                r["rules"],
                r["shards"],
                r["fired"],
                r["durable"],
                r.get("adjudicate", "-"),
                r["zen"],
                r["python"],
                r.get("interp", "-"),
                ratio(r["durable"], r["zen"]),
                ratio(r["durable"], r["python"]),
            ]
            for r in rows
        ],
        "µs per claim (median; lower is better; ratios < 1× mean durable is faster)",
    )
    goals = []
    default = rows[0]
    goals.append(
        (
            "default ruleset < 100 µs/claim",
            f"{default['durable']:.1f} µs",
            default["durable"] < GOAL_US,
        )
    )
    at200 = next((r for r in rows if r["label"] == "synthetic 200"), None)
    if at200:
        goals.append(
            ("200 rules < 100 µs/claim", f"{at200['durable']:.1f} µs", at200["durable"] < GOAL_US)
        )
        floor = at200["durable"] / at200["python"]
        goals.append(
            ("200 rules within 5× of plain Python", f"{floor:.1f}×", floor <= GOAL_FLOOR_RATIO)
        )
    slower = [r["label"] for r in rows if r["durable"] >= r["zen"]]
    goals.append(
        (
            "faster than zen-engine at every size",
            "yes" if not slower else "slower at " + ", ".join(slower),
            not slower,
        )
    )
    print_table(
        ["goal", "measured", "met"], [[g, m, "yes" if ok else "NO"] for g, m, ok in goals], "goals"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
