"""CPU cost of one POST /v1/claims in one process, beside a minimal view in the same app.

    .venv/bin/python bench/submit.py                       # SQLite and PostgreSQL, ~30 s
    .venv/bin/python bench/submit.py --targets postgres --claims 2000
    .venv/bin/python bench/submit.py --profile /tmp/submit-profile.txt

No network and no load tool: Flask's test client posts generated claims (with a
Bearer key, unique external_ref each) to the real application, so the figure is
the service's own cost per claim - validation, authentication, the decision,
the transaction - without gunicorn or wrk. The reference is GET /healthz on the
same app in the same run. `--profile` writes a pyinstrument profile of the
PostgreSQL (or the only) run: this is where docs/performance.md's "where the
time goes" comes from.
"""

# ruff: noqa: E402 - the path fix below must run before the other imports
from __future__ import annotations

import sys  # noqa: I001 - the path fix must come before any other import
from os.path import dirname, realpath

_HERE = dirname(realpath(__file__))
sys.path[:] = [p for p in sys.path if p not in (_HERE, "")] + [_HERE]

import argparse
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from _lib import TODAY, conditions, print_conditions, print_table, scratch_postgres

REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/12")


def measure(label: str, url: str, args: argparse.Namespace, tmp: Path, profile: str) -> list:
    from devtools.demo.generate import generate
    from service.api.app import create_app
    from service.api.schemas import PolicySchema
    from service.config import load
    from service.db.migrate import upgrade
    from service.usecases.manage_api_keys import create_api_key
    from service.usecases.manage_policies import policy_from_data, put_policy

    upgrade(url)
    config = load(
        {
            "DATABASE_URL": url,
            "INSTANCE_DIR": str(tmp / label),
            "REDIS_URL": REDIS_URL,
            "LOG_LEVEL": "WARNING",
            "LOG_FORMAT": "text",
            "RATE_LIMIT": "100000000/minute",
        }
    )
    app = create_app(config)  # the real context: RQ dispatcher, rules, sessions
    ctx = app.extensions["claims"]
    policies, claims = generate(args.policies, args.claims, args.seed, TODAY)
    schema = PolicySchema()
    for body in policies:
        data = schema.load({k: v for k, v in body.items() if k != "number"})
        put_policy(ctx, policy_from_data(body["number"], data), actor="bench")
    key = create_api_key(ctx, "bench", "intake", actor="bench").key
    client = app.test_client()
    headers = {"Authorization": f"Bearer {key}"}
    run = uuid.uuid4().hex[:8]

    def post(i: int, body: dict) -> None:
        body = dict(body, external_ref=f"{run}-{i}")
        response = client.post("/v1/claims", json=body, headers=headers)
        if response.status_code != 201:
            raise SystemExit(f"{label}: {response.status_code} {response.get_data(as_text=True)}")

    for i, body in enumerate(claims[: args.warmup]):
        post(-i - 1, body)
    statements = count_statements(url)
    profiler = None
    if profile:
        from pyinstrument import Profiler

        profiler = Profiler(interval=0.0005)
        profiler.start()
    timings = []
    cpu_started = time.process_time()
    started = time.perf_counter()
    for i, body in enumerate(claims):
        t0 = time.perf_counter()
        post(i, body)
        timings.append(time.perf_counter() - t0)
    wall = time.perf_counter() - started
    cpu = time.process_time() - cpu_started
    per_claim = statements() / len(claims)
    if profiler is not None:
        profiler.stop()
        Path(profile).write_text(profiler.output_text(unicode=False, color=False))
    floor = []
    for _ in range(len(claims)):
        t0 = time.perf_counter()
        client.get("/healthz")
        floor.append(time.perf_counter() - t0)
    ms = statistics.median(timings) * 1000
    floor_ms = statistics.median(floor) * 1000
    return [
        label,
        len(claims),
        per_claim,
        ms,
        statistics.quantiles(timings, n=100)[98] * 1000,
        cpu / len(claims) * 1000,
        len(claims) / wall,
        floor_ms,
        f"{ms / floor_ms:.0f}×",
    ]


def count_statements(url: str) -> Callable[[], int]:
    """Count the statements sent from now on, BEGIN and COMMIT included (SQLite's
    BEGIN IMMEDIATE is itself a cursor execute; psycopg sends BEGIN on its own)."""
    from sqlalchemy import event

    from service.db.session import get_engine

    seen = [0]
    engine = get_engine(url)

    def one(*_args: Any, **_kwargs: Any) -> None:
        seen[0] += 1

    names = ["before_cursor_execute", "commit"]
    if engine.dialect.name == "postgresql":
        names.append("begin")
    for name in names:
        event.listen(engine, name, one)
    return lambda: seen[0]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--claims", type=int, default=1000)
    parser.add_argument("--warmup", type=int, default=100)
    parser.add_argument("--policies", type=int, default=300)
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--targets", default="sqlite,postgres")
    parser.add_argument("--profile", default="", help="write a pyinstrument profile here")
    args = parser.parse_args(argv)
    targets = args.targets.split(",")
    print_conditions(
        "submit: POST /v1/claims in-process (Flask test client, Bearer key)",
        conditions(claims=f"{args.claims:,} after {args.warmup} warm-up, {args.policies} policies"),
    )
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-submit-") as tmp_name:
        tmp = Path(tmp_name)
        if "sqlite" in targets:
            profile = args.profile if targets == ["sqlite"] else ""
            rows.append(measure("SQLite", f"sqlite:///{tmp / 'claims.db'}", args, tmp, profile))
        if "postgres" in targets:
            rows.append(measure_postgres(args, tmp))
    print_table(
        [
            "store",
            "claims",
            "SQL/claim",
            "median ms",
            "p99 ms",
            "CPU ms/claim",
            "claims/s",
            "GET /healthz ms",
            "vs healthz",
        ],
        rows,
        "one process, no network",
    )
    if args.profile:
        print(f"\nprofile: {args.profile}")
    return 0


def measure_postgres(args: argparse.Namespace, tmp: Path) -> list:
    with scratch_postgres() as url:
        if url is None:
            return ["PostgreSQL (skipped)", 0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, "-"]
        return measure("PostgreSQL", url, args, tmp, args.profile)


if __name__ == "__main__":
    sys.exit(main())
