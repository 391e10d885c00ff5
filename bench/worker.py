"""Delivered notifications/s per worker process, beside a no-op RQ job's rate.

    .venv/bin/python bench/worker.py                    # about a minute, 3 repeats
    .venv/bin/python bench/worker.py --jobs batch,single  # + one job per row: ~5 minutes
    .venv/bin/python bench/worker.py --workers default --profile /tmp/worker-profile.txt

One worker process drains a queue (`worker.runner.run_worker(config, burst=True,
fork=...)`, exactly what `claims worker [--fork] --burst` runs), wall clock from
start to empty queue, for each worker:
- `default` (`claims worker`: jobs run in the worker process, rq.SimpleWorker) and
  `fork` (`claims worker --fork`: one forked work horse per job, rq.Worker);
- **no-op**: N `builtins.abs(-i)` jobs, RQ's own floor per job (Redis round trips,
  JSON serializer, and for `fork` one fork per job), same worker, same run;
- **delivery**: N approved-claim email rows: claim the row, render the Jinja2
  template (text + HTML), send over SMTP to an aiosmtpd sink on loopback (in its
  own process), record `sent`. `batch` (the default, what the system does): the
  scheduler's relay (`service.usecases.relay_outbox`) enqueues the due rows, up to
  BATCH_SIZE rows per `deliver_outbox_batch` job; `single`: one
  `deliver_outbox(id)` job per row (as before batching; the dispatcher still does
  this for a lone row). The relay's own time is reported apart (it runs in the
  scheduler, not in the worker).
Real Redis (`BENCH_REDIS_URL`, default redis://127.0.0.1:6379/14, queue
`bench-notifications`; its rq keys are deleted at the end), SQLite in a temporary
folder (or `--database-url`). Goal (issue 5): 200 delivered notifications/s per
worker process.
"""

# ruff: noqa: E402 - the path fix below must run before the other imports
from __future__ import annotations

import sys  # noqa: I001 - the path fix must come before any other import
from os.path import dirname, realpath

_HERE = dirname(realpath(__file__))
sys.path[:] = [p for p in sys.path if p not in (_HERE, "")] + [_HERE]

import argparse
import multiprocessing
import os
import statistics
import tempfile
import time
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

from _lib import ROOT, conditions, free_port, print_conditions, print_table, ratio, version_of

sys.path.insert(0, str(ROOT))

QUEUE = "bench-notifications"
GOAL = 200.0


def _sink(port: int, count: object, ready: object, stop: object) -> None:
    """An SMTP server that accepts and counts every message (own process, own GIL)."""
    from aiosmtpd.controller import Controller

    class Handler:
        async def handle_DATA(self, server, session, envelope):  # noqa: N802, ANN001
            with count.get_lock():  # type: ignore[attr-defined]
                count.value += 1  # type: ignore[attr-defined]
            return "250 Message accepted"

    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    ready.set()  # type: ignore[attr-defined]
    stop.wait()  # type: ignore[attr-defined]
    controller.stop()


def seed(database_url: str, messages: int) -> list[int]:
    """N claims, each with one pending `approved` email row."""
    from service.db.migrate import upgrade
    from service.db.session import dispose_all, session_factory
    from service.db.tables import ClaimRow, DecisionRow, OutboxRow

    upgrade(database_url)  # migrated, as `claims worker` requires at start-up
    sessions = session_factory(database_url)
    now = datetime.now(UTC)
    ids = []
    with sessions.begin() as s:
        for i in range(messages):
            claim_id = str(uuid.uuid4())
            s.add(
                ClaimRow(
                    id=claim_id,
                    client_id="bench",
                    external_ref=f"BENCH-{claim_id[:8]}",
                    policy_number="P-BENCH",
                    claim_type="device_damage",
                    date_of_loss=date(2026, 1, 5),
                    reported_at=now,
                    amount=Decimal("120.00"),
                    currency="EUR",
                    description="",
                    preferred_language=("en", "es", "zh")[i % 3],
                    claimant={"name": "Ana Bench", "email": f"ana{i}@example.com"},
                    callback_url=None,
                    payload={},
                    status="approved",
                    version=1,
                    created_at=now,
                    updated_at=now,
                )
            )
            decision = DecisionRow(
                claim_id=claim_id,
                outcome="approved",
                payable_amount=Decimal("70.00"),
                reasons=[],
                missing_documents=[],
                trace=[],
                facts={},
                decided_by="rules",
                decided_at=now,
            )
            s.add(decision)
            s.flush()
            row = OutboxRow(
                dedupe_key=f"claim:{claim_id}:decision:{decision.id}:email",
                claim_id=claim_id,
                event="approved",
                channel="email",
                payload={"claim_id": claim_id, "decision_id": decision.id},
                status="pending",
                attempts=0,
                next_attempt_at=now,
                created_at=now,
            )
            s.add(row)
            s.flush()
            ids.append(row.id)
    dispose_all()  # forked work horses must not inherit pooled connections
    return ids


def drain(config: object, fork: bool, profile: str = "") -> float:
    from worker.runner import run_worker

    profiler = None
    if profile:
        from pyinstrument import Profiler

        profiler = Profiler(interval=0.001)
        profiler.start()
    started = time.perf_counter()
    run_worker(config, burst=True, fork=fork)
    elapsed = time.perf_counter() - started
    if profiler is not None:
        profiler.stop()
        Path(profile).write_text(profiler.output_text(unicode=False, color=False))
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=1000, help="jobs / rows per measurement")
    parser.add_argument(
        "--workers",
        default="default,fork",
        help="default (`claims worker`, in-process) and/or fork (`claims worker --fork`)",
    )
    parser.add_argument(
        "--jobs",
        default="batch",
        help="batch (relay: up to BATCH_SIZE rows per job) and/or single (one job per row)",
    )
    parser.add_argument("--repeats", type=int, default=3, help="runs per cell; median shown")
    parser.add_argument("--database-url", default="", help="default: SQLite in a temp folder")
    parser.add_argument(
        "--profile",
        default="",
        help="write a pyinstrument profile of the first delivery drain here",
    )
    args = parser.parse_args()

    from redis import Redis

    from service import config as config_module
    from service.adapters import queue as rq_adapter
    from service.db.session import dispose_all, session_factory
    from service.db.tables import OutboxRow
    from service.usecases.context import build_context
    from service.usecases.relay_outbox import relay_outbox

    redis_url = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
    conn = Redis.from_url(redis_url)
    conn.ping()
    forks = {"default": False, "fork": True}
    chosen = [name.strip() for name in args.workers.split(",") if name.strip()]
    kinds = [name.strip() for name in args.jobs.split(",") if name.strip()]

    count = multiprocessing.Value("i", 0)
    ready, stop = multiprocessing.Event(), multiprocessing.Event()
    port = free_port()
    sink = multiprocessing.Process(target=_sink, args=(port, count, ready, stop), daemon=True)
    sink.start()
    if not ready.wait(10):
        raise SystemExit("SMTP sink did not start")

    rows = []
    relay_rates = []
    profile = args.profile
    label = {"default": "claims worker", "fork": "claims worker --fork"}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for name in chosen:
                for kind in kinds:
                    noop_rates, rates, sent_counts, enqueue_rates = [], [], [], []
                    for run in range(args.repeats):
                        db = (
                            args.database_url
                            or f"sqlite:///{Path(tmp) / f'bench-{name}-{kind}-{run}.db'}"
                        )
                        os.environ.update(
                            {
                                "DATABASE_URL": db,
                                "REDIS_URL": redis_url,
                                "QUEUES": QUEUE,
                                "SMTP_HOST": "127.0.0.1",
                                "SMTP_PORT": str(port),
                                "INSTANCE_DIR": tmp,
                                "LOG_LEVEL": "WARNING",
                                "LOG_FORMAT": "text",
                            }
                        )
                        config = config_module.load()
                        queue = rq_adapter.get_queue(conn, QUEUE)
                        queue.empty()

                        for i in range(args.messages):
                            queue.enqueue("builtins.abs", -i, result_ttl=0)
                        noop_rates.append(args.messages / drain(config, forks[name]))

                        ids = seed(db, args.messages)
                        before = count.value
                        started = time.perf_counter()
                        if kind == "batch":  # what the scheduler's sweep does
                            ctx = build_context(config, rq_adapter.RQDispatcher(redis_url))
                            relay_outbox(ctx, batch=args.messages)
                        else:
                            for outbox_id in ids:
                                rq_adapter.enqueue_delivery(conn, QUEUE, outbox_id, 0, "bench")
                        enqueue_rates.append(args.messages / (time.perf_counter() - started))
                        dispose_all()  # a forking worker must not inherit pooled connections
                        elapsed = drain(config, forks[name], profile)
                        profile = ""
                        rates.append((count.value - before) / elapsed)
                        with session_factory(db)() as s:
                            sent_counts.append(
                                s.query(OutboxRow)
                                .filter(OutboxRow.status == "sent", OutboxRow.id.in_(ids))
                                .count()
                            )
                        dispose_all()
                    noop_rate, rate = statistics.median(noop_rates), statistics.median(rates)
                    relay_rates.append(f"{name}/{kind} {statistics.median(enqueue_rates):,.0f}")
                    rows.append(
                        [
                            label[name],
                            kind,
                            args.messages,
                            noop_rate,
                            rate,
                            f"{min(rates):,.0f}–{max(rates):,.0f}",
                            f"{min(sent_counts):,}",
                            ratio(rate, noop_rate),
                            "yes" if rate >= GOAL else "no",
                        ]
                    )
    finally:
        stop.set()
        sink.join(10)
        for key in conn.scan_iter("rq:*"):  # our own database: leave nothing behind
            conn.delete(key)
        for key in conn.scan_iter(rq_adapter.POINTER_PREFIX + "*"):
            conn.delete(key)

    info = conditions(
        rq=version_of("rq"),
        redis=conn.info().get("redis_version"),
        aiosmtpd=version_of("aiosmtpd"),
        messages=args.messages,
        batch_size=f"{rq_adapter.BATCH_SIZE} rows per job (relay)",
        database="SQLite (temp file)" if not args.database_url else "given URL",
        redis_url=redis_url,
        repeats=f"{args.repeats} (median shown)",
        clock="wall (time.perf_counter)",
        enqueue_rows_per_s=", ".join(relay_rates),
    )
    print_conditions("Worker: delivered notifications/s per worker process", info)
    print_table(
        [
            "worker",
            "jobs",
            "rows",
            "no-op jobs/s",
            "delivered/s",
            "delivered/s range",
            "rows sent (min)",
            "delivered/no-op",
            f">= {GOAL:.0f}/s",
        ],
        rows,
    )
    if args.profile:
        print(f"\nprofile of the first delivery drain: {args.profile}")


if __name__ == "__main__":
    main()
