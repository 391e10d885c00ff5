"""How costs grow: engine time vs rule count; submit cost vs earlier claims on the policy.

    .venv/bin/python bench/scaling.py                   # about 1 minute
    .venv/bin/python bench/scaling.py --history 1,100,1000,10000 --probes 200

1. µs per claim through RulesEngine.evaluate for synthetic rulesets of growing
   size (YAML in the project's rule model, compiled by the real compiler).
2. ms per claim of the real use case (submit_claim: history lookups, decision,
   audit, outbox, commit) when the policy already has 1, 100, 1,000 and 10,000
   earlier claims. The 12-month count and the paid aggregate read the per-policy
   daily tallies (service/db/tallies.py: at most a year of days per claim type),
   the duplicate check is an index seek: the cost should stay flat, not grow
   with the history. The query plan of the real statement is printed.
"""

# ruff: noqa: E402 - the path fix below must run before the other imports
from __future__ import annotations

import sys  # noqa: I001 - the path fix must come before any other import
from os.path import dirname, realpath

_HERE = dirname(realpath(__file__))
sys.path[:] = [p for p in sys.path if p not in (_HERE, "")] + [_HERE]

import argparse  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from datetime import timedelta  # noqa: E402
from pathlib import Path  # noqa: E402

from _lib import (  # noqa: E402
    TODAY,
    conditions,
    generated_facts,
    median_rate,
    print_conditions,
    print_table,
    synthetic_rules,
    write_synthetic_ruleset,
)


def engine_scaling(sizes: list[int], facts: list[dict], repeats: int) -> list[list]:
    from service.rules.engine import RulesEngine, load_ruleset

    rows = []
    base = None
    with tempfile.TemporaryDirectory() as tmp:
        for size in sizes:
            ruleset = load_ruleset(
                write_synthetic_ruleset(Path(tmp) / str(size), synthetic_rules(size))
            )
            engine = RulesEngine(ruleset)

            def loop(engine=engine) -> int:
                for f in facts:
                    engine.evaluate(f)
                return len(facts)

            loop()
            us = median_rate(loop, repeats)[0] * 1e6
            engine.close()
            base = base or us
            rows.append(
                [size, len(ruleset.compiled.shards), us, f"{us / base:.2f}×", f"{us / size:.3f}"]
            )
    return rows


def history_scaling(levels: list[int], probes: int, seed: int) -> tuple[list[list], list[str]]:
    from sqlalchemy import text

    from devtools.demo.generate import generate, store_decided_bulk
    from service.api.schemas import ClaimSchema
    from service.config import load
    from service.db.migrate import upgrade
    from service.usecases.context import build_context
    from service.usecases.submit_claim import submit_claim

    rows = []
    plans: list[str] = []
    schema = ClaimSchema()
    base = None
    with tempfile.TemporaryDirectory(prefix="bench-scaling-") as tmp:
        for level in levels:
            url = f"sqlite:///{Path(tmp) / f'h{level}.db'}"
            upgrade(url)
            ctx = build_context(
                load({"DATABASE_URL": url, "INSTANCE_DIR": tmp, "LOG_FORMAT": "text"})
            )
            policies, claims = generate(1, level + probes, seed, TODAY)
            policy = policies[0]
            # Earlier claims: all on the one policy (unknown numbers re-pointed at it).
            for body in claims:
                body["policy_number"] = policy["number"]
                body["currency"] = policy["currency"]
            store_decided_bulk(ctx, policies, claims[:level], client_id="history")
            probe_bodies = claims[level:]
            for body in probe_bodies:
                body["external_ref"] = "probe-" + body["external_ref"]
            timings = []
            for body in probe_bodies:
                data = schema.load(body)
                started = time.perf_counter()
                submit_claim(ctx, data, client_id="probe")
                timings.append(time.perf_counter() - started)
            median_ms = statistics.median(timings) * 1000
            base = base or median_ms
            with ctx.unit_of_work() as session:
                count = session.execute(
                    text("SELECT count(*) FROM claims WHERE policy_number = :p"),
                    {"p": policy["number"]},
                ).scalar_one()
                if level == levels[-1]:
                    plans = _plans(session, policy["number"], TODAY - timedelta(days=30))
            rows.append(
                [
                    level,
                    count,
                    median_ms,
                    f"{median_ms / base:.2f}×",
                    statistics.quantiles(timings, n=10)[-1] * 1000,
                ]
            )
    return rows, plans


def _plans(session: object, policy_number: str, loss: object) -> list[str]:
    """SQLite's plan for the real history statement (service/db/statements.py)."""
    from service.db import statements as sql

    compiled = sql.HISTORY.compile(
        dialect=session.get_bind().dialect,  # type: ignore[attr-defined]
        compile_kwargs={"render_postcompile": True},
    )
    params = {
        "policy_number": policy_number,
        "claim_type": "device_damage",
        "loss": loss,
        "amount": 10,
        "window_start": loss - timedelta(days=365),  # type: ignore[operator]
        "year_start": loss - timedelta(days=100),  # type: ignore[operator]
        "year_end": loss + timedelta(days=265),  # type: ignore[operator]
        "low": loss - timedelta(days=365),  # type: ignore[operator]
        "high": loss + timedelta(days=265),  # type: ignore[operator]
        "claim_id": "",
    }
    bound = compiled.construct_params(params)
    values = tuple(bound[name] for name in compiled.positiontup or ())
    plan = (
        session.connection()  # type: ignore[attr-defined]
        .exec_driver_sql("EXPLAIN QUERY PLAN " + str(compiled), values)
        .all()
    )
    return [f"history: {row[-1]}" for row in plan]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10,50,100,200,500,1000")
    parser.add_argument("--claims", type=int, default=1000, help="claims per engine size")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--history", default="1,100,1000,10000", help="earlier claims on the policy"
    )
    parser.add_argument("--probes", type=int, default=100, help="claims timed per level")
    parser.add_argument("--seed", type=int, default=9)
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",") if s]
    levels = [int(s) for s in args.history.split(",") if s]

    facts = generated_facts(args.claims, args.seed)
    print_conditions(
        "scaling",
        conditions(
            engine=f"{len(facts):,} claims per size, {args.repeats} repeats, CPU time, median",
            history=f"{args.probes} claims submitted through submit_claim per level, SQLite file, "
            "wall clock, median",
        ),
    )
    print_table(
        ["rules", "shards", "µs/claim", "vs smallest", "µs per rule"],
        engine_scaling(sizes, facts, args.repeats),
        "engine time vs rule count (RulesEngine.evaluate)",
    )
    rows, plans = history_scaling(levels, args.probes, args.seed)
    print_table(
        ["earlier claims", "claims on policy", "ms/claim (median)", "vs 1", "p90 ms"],
        rows,
        "submit_claim cost vs earlier claims on the same policy",
    )
    print("query plans at the largest history (SQLite):")
    for plan in plans:
        print(f"  {plan}")
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
