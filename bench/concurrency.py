"""Claims/s of the real intake use case with 1, 4, 16, 32 concurrent writers on PostgreSQL,
beside a same-run baseline transaction that writes as many rows with no application logic.

    .venv/bin/python bench/concurrency.py                      # about 1.5 minutes
    .venv/bin/python bench/concurrency.py --writers 1,2,4,8,16,32 --seconds 10

Each writer is its own process (no shared GIL, as API processes would be) with its own
connection and its own policy (distinct policies: the workload the service must scale
on). It runs for `--seconds`, as fast as it can, one of:
- **intake**: `submit_claim` (service/usecases/submit_claim.py), the use case
  POST /v1/claims calls: policy read and row lock, history from the tallies, the
  rules engine, claim, documents, decision, outbox and audit inserts, commit. No
  HTTP, no rate limiter, no RQ hand-off. Generated claims (devtools/demo/generate.py)
  re-pointed at the writer's policy: a realistic mix of outcomes.
- **baseline**: a transaction of R single-row INSERTs into a two-column table, R =
  the rows one intake writes (measured first: claim, documents, decision, outbox,
  audit, the daily tally), through the same SQLAlchemy engine, then COMMIT.
- **baseline + global lock**: the same, holding one advisory lock to commit (what the
  audit chain did before per-subject chains): the ceiling such a lock puts on a fleet.

Goal (issue 15): intake at 16 writers >= 0.5x the baseline's commits/s, and intake
throughput rising from 1 to 16 writers. On a machine whose cores are shared by the
writers, the database and other users, the ratio is bounded by the client CPU the
intake spends per claim (the `client CPU ms` column), which API machines would bring
with them: read the scaling column beside it. Needs PostgreSQL (BENCH_PG_URL); a
scratch database is created and dropped.
"""

# ruff: noqa: E402 - the path fix below must run before the other imports
from __future__ import annotations

import sys  # noqa: I001 - the path fix must come before any other import
from os.path import dirname, realpath

_HERE = dirname(realpath(__file__))
sys.path[:] = [p for p in sys.path if p not in (_HERE, "")] + [_HERE]

import argparse
import multiprocessing
import tempfile
import time
import uuid
from pathlib import Path

from _lib import TODAY, conditions, print_conditions, print_table, ratio, scratch_postgres

MODES = ("intake", "baseline", "baseline+lock")
GOAL_RATIO, GOAL_AT = 0.5, 16


def _writer(url: str, tmp: str, index: int, policy: dict, claims: list[dict], inbox, outbox):
    """One writer process: waits for (mode, rows, start_at, seconds), runs, reports."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.orm import sessionmaker

    from service.api.schemas import ClaimSchema
    from service.config import load
    from service.usecases.context import build_context
    from service.usecases.submit_claim import submit_claim

    config = load({"DATABASE_URL": url, "INSTANCE_DIR": tmp, "LOG_LEVEL": "WARNING"})
    ctx = build_context(config)
    engine = create_engine(config.database_url, pool_size=1, max_overflow=0)
    ctx.sessions = sessionmaker(bind=engine, expire_on_commit=False)
    schema = ClaimSchema()
    bodies = []
    for body in claims:
        body = dict(body, policy_number=policy["number"], currency=policy["currency"])
        bodies.append(schema.load(body))
    run = f"{uuid.uuid4().hex[:6]}-{index}"
    done = 0

    def intake() -> None:
        nonlocal done
        data = dict(bodies[done % len(bodies)], external_ref=f"{run}-{done}")
        submit_claim(ctx, data, client_id="bench")
        done += 1

    insert = text("INSERT INTO bench_rows (writer, n) VALUES (:w, :n)")
    lock = text("SELECT pg_advisory_xact_lock(7220001)")

    def baseline(rows: int, locked: bool) -> None:
        nonlocal done
        with ctx.sessions() as session:
            if locked:
                session.execute(lock)
            for n in range(rows):
                session.execute(insert, {"w": index, "n": n})
            session.commit()
        done += 1

    ctx.engine  # noqa: B018 - the rules engine, built before any timing
    with engine.connect() as conn:  # the writer's one connection, kept by the pool
        backend = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
    outbox.put(("ready", index, backend))
    while (command := inbox.get()) is not None:
        mode, rows, start_at, seconds = command
        locked = mode == "baseline+lock"
        step = intake if mode == "intake" else (lambda r=rows, k=locked: baseline(r, k))
        if mode == "warmup":
            for _ in range(rows):
                intake()
            baseline(8, False)
            outbox.put(("warm", index, 0, 0.0))
            continue
        time.sleep(max(0.0, start_at - time.time()))
        count, cpu0, end = 0, time.process_time(), start_at + seconds
        while time.time() < end:
            step()
            count += 1
        outbox.put((mode, index, count, time.process_time() - cpu0))
    engine.dispose()


def _prepare(url: str, tmp: Path, writers: int, claims_each: int) -> tuple[list, list]:
    from sqlalchemy import text

    from devtools.demo.generate import generate
    from service.api.schemas import PolicySchema
    from service.config import load
    from service.db.migrate import upgrade
    from service.db.session import get_engine
    from service.usecases.context import build_context
    from service.usecases.manage_policies import policy_from_data, put_policy

    upgrade(url)
    config = load({"DATABASE_URL": url, "INSTANCE_DIR": str(tmp), "LOG_LEVEL": "WARNING"})
    ctx = build_context(config)
    policies, claims = generate(writers, claims_each * writers, 15, TODAY)
    schema = PolicySchema()
    for body in policies:
        data = schema.load({k: v for k, v in body.items() if k != "number"})
        put_policy(ctx, policy_from_data(body["number"], data), actor="bench")
    with get_engine(config.database_url).begin() as conn:
        conn.execute(text("CREATE TABLE bench_rows (writer int, n int)"))
    get_engine(config.database_url).dispose()
    return policies, [claims[i::writers] for i in range(writers)]


def _rows_per_intake(url: str) -> float:
    """Rows the intakes so far wrote per claim, the daily tally row each upserts included."""
    from sqlalchemy import text

    from service.db.session import get_engine

    counts = {
        "claims": "SELECT count(*) FROM claims",
        "documents": "SELECT count(*) FROM documents",
        "decisions": "SELECT count(*) FROM decisions",
        "outbox": "SELECT count(*) FROM outbox WHERE claim_id IS NOT NULL",
        "audit": "SELECT count(*) FROM audit_events WHERE claim_id IS NOT NULL",
    }
    with get_engine(url).connect() as conn:
        found = {name: conn.execute(text(sql)).scalar_one() for name, sql in counts.items()}
    get_engine(url).dispose()
    return (sum(found.values()) + found["claims"]) / max(found["claims"], 1)


def _cpu_seconds(pids: list[int]) -> float:
    """User + system CPU of these PostgreSQL backends (from /proc: the server runs on this
    machine); -1 when they cannot be read (a remote server)."""
    import os

    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    try:
        for pid in pids:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
    except (OSError, IndexError, ValueError):
        return -1.0
    return total / tick


def _wait_profile(url: str, start_at: float, seconds: float) -> dict[str, float]:
    """Where the writers' backends are, sampled every 20 ms from pg_stat_activity: waiting
    for the application (idle between transactions, or ClientRead inside one), for a lock
    (a row, advisory or transaction lock: what a global lock shows as), for a lightweight
    lock (LWLock: WAL insertion, buffer mapping), for I/O, or working (active, no wait)."""
    import psycopg

    dsn = url.replace("postgresql+psycopg://", "postgresql://")
    query = (
        "SELECT CASE WHEN state = 'idle' OR wait_event = 'ClientRead' THEN 'app' "
        "WHEN wait_event_type = 'Lock' THEN 'lock' WHEN wait_event_type = 'LWLock' "
        "THEN 'lwlock' WHEN wait_event_type = 'IO' THEN 'io' WHEN wait_event IS NULL "
        "THEN 'working' ELSE 'other' END FROM pg_stat_activity "
        "WHERE datname = current_database() AND pid <> pg_backend_pid() "
        "AND backend_type = 'client backend'"
    )
    seen: dict[str, int] = {}
    with psycopg.connect(dsn, autocommit=True) as conn:
        time.sleep(max(0.0, start_at - time.time()))
        while time.time() < start_at + seconds:
            for (where,) in conn.execute(query).fetchall():
                seen[where] = seen.get(where, 0) + 1
            time.sleep(0.02)
    total = sum(seen.values()) or 1
    return {k: v / total for k, v in seen.items()}


def _bytes_per_claim(url: str) -> str:
    """Disk per stored claim (tables, TOAST and indexes; WAL not counted), for sizing."""
    from sqlalchemy import text

    from service.db.session import get_engine

    tables = ("claims", "documents", "decisions", "outbox", "audit_events")
    sql = "SELECT count(*) FROM claims"
    with get_engine(url).connect() as conn:
        claims = conn.execute(text(sql)).scalar_one()
        sizes = {
            t: conn.execute(text(f"SELECT pg_total_relation_size('{t}')")).scalar_one()
            for t in tables
        }
        rows = {t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one() for t in tables}
    get_engine(url).dispose()
    n = max(claims, 1)
    parts = ", ".join(f"{t} {sizes[t] / n / 1024:.1f} KiB ({rows[t] / n:.2f} rows)" for t in tables)
    return (
        f"storage per claim over {claims:,} claims: {sum(sizes.values()) / n / 1024:.1f} KiB "
        f"(tables + indexes, WAL not counted): {parts}"
    )


def run(args: argparse.Namespace) -> int:
    levels = [int(x) for x in args.writers.split(",")]
    most = max(levels)
    with scratch_postgres() as url, tempfile.TemporaryDirectory(prefix="bench-conc-") as tmp:
        if url is None:
            return 0
        policies, shares = _prepare(url, Path(tmp), most, args.claims_each)
        mp = multiprocessing.get_context("fork")
        inboxes = [mp.Queue() for _ in range(most)]
        results = mp.Queue()
        procs = [
            mp.Process(
                target=_writer,
                args=(url, tmp, i, policies[i], shares[i], inboxes[i], results),
                daemon=True,
            )
            for i in range(most)
        ]
        for p in procs:
            p.start()
        backends = {}
        for _ in procs:
            _, index, backend = results.get(timeout=300)
            backends[index] = backend
        for inbox in inboxes:  # every writer warm: compiled statements, caches, backend
            inbox.put(("warmup", args.warmup, 0.0, 0.0))
        for _ in procs:
            results.get(timeout=600)
        per_intake = _rows_per_intake(url)
        rows = max(1, round(per_intake))
        table = []
        for writers in levels:
            figures = {}
            for mode in MODES:
                pids = [backends[i] for i in range(writers)]
                db_cpu = _cpu_seconds(pids)
                start_at = time.time() + 0.5
                for inbox in inboxes[:writers]:
                    inbox.put((mode, rows, start_at, args.seconds))
                waiting = _wait_profile(url, start_at, args.seconds)
                got = [results.get(timeout=args.seconds + 300) for _ in range(writers)]
                db_cpu = _cpu_seconds(pids) - db_cpu
                n = max(sum(g[2] for g in got), 1)
                figures[mode] = {
                    "rate": n / args.seconds,
                    "client_ms": sum(g[3] for g in got) / n * 1000,
                    "db_ms": db_cpu / n * 1000 if db_cpu >= 0 else float("nan"),
                    "waits": waiting,
                }
            table.append((writers, figures))
        for inbox in inboxes:
            inbox.put(None)
        for p in procs:
            p.join(30)
        storage = _bytes_per_claim(url)
    _report(table, rows, per_intake)
    print(storage)
    return 0


def _report(table: list, rows: int, per_intake: float) -> None:
    first = table[0][1]["intake"]["rate"]
    throughput, cost = [], []
    for writers, f in table:
        intake, base, locked = f["intake"], f["baseline"], f["baseline+lock"]
        throughput.append(
            [
                writers,
                intake["rate"],
                ratio(intake["rate"], first),
                base["rate"],
                ratio(intake["rate"], base["rate"]),
                locked["rate"],
                f"{intake['waits'].get('lock', 0):.0%}",
                f"{locked['waits'].get('lock', 0):.0%}",
            ]
        )
        spent = intake["client_ms"] + intake["db_ms"]
        waits = intake["waits"]
        cost.append(
            [
                writers,
                intake["client_ms"],
                intake["db_ms"],
                base["client_ms"],
                base["db_ms"],
                1000 / spent if spent == spent and spent > 0 else "n/a",
                " / ".join(
                    f"{waits.get(k, 0):.0%}" for k in ("app", "working", "lock", "lwlock", "io")
                ),
            ]
        )
    print_table(
        [
            "writers",
            "intake claims/s",
            "vs 1 writer",
            "baseline commits/s",
            "intake/baseline",
            "baseline+global lock commits/s",
            "lock waits: intake",
            "lock waits: +global lock",
        ],
        throughput,
        f"commits/s (baseline: {rows} single-row INSERTs per transaction = the rows one intake "
        f"writes, measured {per_intake:.1f})",
    )
    print_table(
        [
            "writers",
            "intake client CPU ms",
            "intake DB CPU ms",
            "baseline client CPU ms",
            "baseline DB CPU ms",
            "intake claims per CPU-second",
            "intake backends: app / working / lock / LWLock / IO",
        ],
        cost,
        "CPU per commit: the writer process (client) and its PostgreSQL backend (DB)",
    )
    by = dict(table)
    if GOAL_AT in by:
        got = by[GOAL_AT]["intake"]["rate"] / max(by[GOAL_AT]["baseline"]["rate"], 1e-9)
        rising = by[GOAL_AT]["intake"]["rate"] > first
        verdict = "met" if got >= GOAL_RATIO and rising else "NOT met"
        print(
            f"goal at {GOAL_AT} writers: intake >= {GOAL_RATIO}x baseline ({got:.2f}x) and "
            f"rising from 1 writer ({'yes' if rising else 'no'}): {verdict}"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--writers", default="1,4,16,32")
    parser.add_argument("--seconds", type=float, default=5.0, help="per mode and level")
    parser.add_argument("--claims-each", type=int, default=200, help="distinct bodies/writer")
    parser.add_argument("--warmup", type=int, default=20, help="intakes per writer first")
    args = parser.parse_args(argv)
    print_conditions(
        "concurrency: intake use case vs a plain insert transaction, PostgreSQL",
        conditions(
            writers=args.writers,
            seconds=f"{args.seconds:g} per mode and level, one process per writer",
        ),
    )
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
