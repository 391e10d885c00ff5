"""Backtest replay throughput: stored facts through the engine, claims/s and peak memory.

    .venv/bin/python bench/backtest.py                     # 20,000 stored claims, about 1 min
    .venv/bin/python bench/backtest.py --claims 100000     # the issue's size (a few minutes)

Stores generated claims decided (devtools.demo.generate.store_decided_bulk: the
real engine on the real facts, bulk-inserted) in a scratch SQLite file, then
replays them the way a backtest does: read each stored decision's facts in
pages, facts_from_json, adjudicate with the engine, compare with the stored
outcome. A placeholder until `claims rules backtest` exists: it measures the
replay loop over the stored decisions directly. Peak memory is the process's
maximum resident set (ru_maxrss) and tracemalloc's peak during the replay.
"""

# ruff: noqa: E402 - the path fix below must run before the other imports
from __future__ import annotations

import sys  # noqa: I001 - the path fix must come before any other import
from os.path import dirname, realpath

_HERE = dirname(realpath(__file__))
sys.path[:] = [p for p in sys.path if p not in (_HERE, "")] + [_HERE]

import argparse  # noqa: E402
import resource  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import tracemalloc  # noqa: E402
from pathlib import Path  # noqa: E402

from _lib import RULES_DIR, TODAY, conditions, print_conditions, print_table  # noqa: E402

GOAL_PER_SECOND = 5000


def replay(database_url: str, page: int, trace_memory: bool) -> dict:
    """The real backtest path: service/db/analysis.py's stored_rows pages + replay."""
    from contextlib import contextmanager

    from service.db import analysis
    from service.db.session import dispose_all, session_factory
    from service.rules.engine import RulesEngine, load_ruleset
    from service.usecases import backtest

    engine = RulesEngine(load_ruleset(RULES_DIR))
    sessions = session_factory(database_url)
    read_seconds = 0.0

    @contextmanager
    def open_session():  # type: ignore[no-untyped-def]
        nonlocal read_seconds
        t0 = time.perf_counter()
        session = sessions()
        try:
            yield session
        finally:
            session.close()
            read_seconds += time.perf_counter() - t0

    if trace_memory:
        tracemalloc.start()
    started = time.perf_counter()
    cpu_started = time.process_time()
    report = backtest.replay(engine, analysis.stored_rows(open_session, None, None, page=page))
    seconds = time.perf_counter() - started
    cpu = time.process_time() - cpu_started
    peak = tracemalloc.get_traced_memory()[1] if trace_memory else 0
    if trace_memory:
        tracemalloc.stop()
    engine.close()
    dispose_all()
    return {
        "claims": report.total,
        "seconds": seconds,
        "cpu": cpu,
        "read": read_seconds,
        "changed": report.changed,
        "traced_peak": peak,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--claims", type=int, default=20000)
    parser.add_argument("--policies", type=int, default=0, help="default: claims / 4")
    parser.add_argument("--page", type=int, default=2000, help="rows read per query")
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument(
        "--database-url", default="", help="replay an existing database instead of generating one"
    )
    args = parser.parse_args(argv)

    from devtools.demo.generate import generate, store_decided_bulk
    from service.config import load
    from service.db.migrate import upgrade
    from service.usecases.context import build_context

    rss_start = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with tempfile.TemporaryDirectory(prefix="bench-backtest-") as tmp:
        url = args.database_url or f"sqlite:///{Path(tmp) / 'claims.db'}"
        stored = None
        if not args.database_url:
            upgrade(url)
            ctx = build_context(
                load({"DATABASE_URL": url, "INSTANCE_DIR": tmp, "LOG_FORMAT": "text"})
            )
            policies, claims = generate(
                args.policies or max(1, args.claims // 4), args.claims, args.seed, TODAY
            )
            stored = store_decided_bulk(ctx, policies, claims)
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        plain = replay(url, args.page, trace_memory=False)
        rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        traced = replay(url, args.page, trace_memory=True)

    print_conditions(
        "backtest: replay of stored facts",
        conditions(
            claims=f"{plain['claims']:,} stored claims (seed {args.seed}), page {args.page}",
            database=args.database_url or "scratch SQLite file",
            store=(
                f"{stored['claims']:,} claims stored decided in {stored['claims_seconds']:.1f} s "
                f"({stored['claims_per_second']:,.0f}/s, bulk path)"
            )
            if stored
            else "existing",
        ),
    )
    rate = plain["claims"] / plain["seconds"]
    print_table(
        [
            "claims",
            "seconds",
            "claims/s",
            "CPU s",
            "of which DB read s",
            "changed",
            "max RSS MiB (before → after)",
            "tracemalloc peak MiB",
        ],
        [
            [
                plain["claims"],
                plain["seconds"],
                rate,
                plain["cpu"],
                plain["read"],
                plain["changed"],
                f"{rss_before / 1024:.0f} → {rss_after / 1024:.0f}",
                traced["traced_peak"] / 2**20,
            ]
        ],
        "replay: service.usecases.backtest (stored_rows pages + replay) over every stored decision",
    )
    print(
        f"  (max RSS at start of the script: {rss_start / 1024:.0f} MiB; replay pages "
        f"through the rows, so memory stays flat as the history grows)\n"
    )
    print_table(
        ["goal", "measured", "met"],
        [
            [
                "backtest ≥ 5,000 claims/s",
                f"{rate:,.0f}/s",
                "yes" if rate >= GOAL_PER_SECOND else "NO",
            ],
            [
                "same outcomes on the same rules",
                f"{plain['changed']} changed",
                "yes" if plain["changed"] == 0 else "NO",
            ],
        ],
        "goals",
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
