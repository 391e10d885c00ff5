"""Backtest (what-if): replay stored decisions through a candidate ruleset, report what changes.

What is replayed: each claim's latest decision made by the rules (decided_by
"rules"), with the facts stored beside it exactly as the rules saw them then
(facts_from_json of DecisionRow.facts; history, amounts and missing documents
are not recomputed). --since/--until select on the claim's date of loss, both
inclusive. A decision "changes" when its outcome, payable amount or set of
reason codes differs.

Rows are read in keyset pages of decision ids, as plain tuples, so memory
stays flat however long the history. A history is cut into chunks of decision
ids, (after_id, last_id]; each chunk gives a partial `Report`, and reports merge
(`Report.merge`), so chunks can run on many workers and be combined by one job.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path, PurePosixPath
from typing import Any

from service.db import analysis
from service.db.tables import BacktestRow
from service.domain.decision import NoRuleFired
from service.domain.facts import facts_from_json
from service.domain.money import fmt
from service.rules import sandbox
from service.rules.engine import (
    EngineFailure,
    Problem,
    RulesEngine,
    Ruleset,
    RulesetError,
    adjudicate,
    build_ruleset,
)
from service.rules.limits import Limits
from service.rules.loader import FEE_SCHEDULES, is_fee_schedule

CHUNK_SIZE = 5_000  # decisions per chunk job
MAX_LISTED = 10_000  # changed claims listed in one report (all are counted)
ZERO = Decimal("0.00")


@dataclass
class Report:
    total: int = 0
    changed: int = 0
    errors: int = 0
    outcome_changes: int = 0  # the outcome or the payable amount changed
    reason_changes: int = 0  # the same outcome and amount, other reasons only
    transitions: dict[str, dict[str, int]] = field(default_factory=dict)
    payable_before: Decimal = ZERO
    payable_after: Decimal = ZERO
    changed_claims: list[dict[str, Any]] = field(default_factory=list)
    error_claims: list[dict[str, Any]] = field(default_factory=list)

    def add(self, row: Any, new: Any) -> None:
        """One stored decision (row) and the candidate's decision (or the exception raised)."""
        self.total += 1
        old_payable = row.payable_amount if row.payable_amount is not None else ZERO
        self.payable_before += old_payable
        if isinstance(new, Exception):
            self.errors += 1
            self.payable_after += old_payable
            if len(self.error_claims) < 100:
                self.error_claims.append({"claim_id": row.claim_id, "error": str(new)})
            return
        self.payable_after += new.payable_amount if new.payable_amount is not None else ZERO
        by_old = self.transitions.setdefault(row.outcome, {})
        by_old[new.outcome] = by_old.get(new.outcome, 0) + 1
        old_codes = sorted(r.get("code", "") for r in row.reasons or [])
        new_codes = sorted(r.code for r in new.reasons)
        if (row.outcome, row.payable_amount, old_codes) == (
            new.outcome,
            new.payable_amount,
            new_codes,
        ):
            return
        self.changed += 1
        reasons_only = (row.outcome, row.payable_amount) == (new.outcome, new.payable_amount)
        if reasons_only:
            self.reason_changes += 1
        else:
            self.outcome_changes += 1
        if len(self.changed_claims) < MAX_LISTED:
            self.changed_claims.append(
                {
                    "decision_id": row.id,
                    "claim_id": row.claim_id,
                    "claim_ref": getattr(row, "external_ref", None),
                    "change": "reasons" if reasons_only else "outcome",
                    "old_outcome": row.outcome,
                    "new_outcome": new.outcome,
                    "old_payable": _money(row.payable_amount),
                    "new_payable": _money(new.payable_amount),
                    "old_reasons": old_codes,
                    "new_reasons": new_codes,
                }
            )

    def merge(self, other: Report) -> Report:
        """This report and a later chunk's, combined (chunks are merged in chunk order)."""
        out = Report(
            total=self.total + other.total,
            changed=self.changed + other.changed,
            errors=self.errors + other.errors,
            outcome_changes=self.outcome_changes + other.outcome_changes,
            reason_changes=self.reason_changes + other.reason_changes,
            payable_before=self.payable_before + other.payable_before,
            payable_after=self.payable_after + other.payable_after,
            changed_claims=(self.changed_claims + other.changed_claims)[:MAX_LISTED],
            error_claims=(self.error_claims + other.error_claims)[:100],
        )
        for source in (self.transitions, other.transitions):
            for old, row in source.items():
                target = out.transitions.setdefault(old, {})
                for new, count in row.items():
                    target[new] = target.get(new, 0) + count
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "changed": self.changed,
            "unchanged": self.total - self.changed - self.errors,
            "errors": self.errors,
            "outcome_changes": self.outcome_changes,
            "reason_changes": self.reason_changes,
            "transitions": self.transitions,
            "payable_before": fmt(self.payable_before),
            "payable_after": fmt(self.payable_after),
            "payable_change": fmt(self.payable_after - self.payable_before),
            "changed_claims": self.changed_claims,
            "changed_claims_listed": len(self.changed_claims),
            "error_claims": self.error_claims,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Report:
        return cls(
            total=data["total"],
            changed=data["changed"],
            errors=data["errors"],
            outcome_changes=data.get("outcome_changes", 0),
            reason_changes=data.get("reason_changes", 0),
            transitions={k: dict(v) for k, v in data["transitions"].items()},
            payable_before=Decimal(data["payable_before"]),
            payable_after=Decimal(data["payable_after"]),
            changed_claims=list(data["changed_claims"]),
            error_claims=list(data["error_claims"]),
        )


def _money(value: Decimal | None) -> str | None:
    """Without the claim's currency at hand: at least two decimals, three if it has them."""
    return fmt(value)


# --- replay -------------------------------------------------------------------------


def replay(
    engine: RulesEngine, pages: Iterator[list[Any]], progress: Callable[[int], None] | None = None
) -> Report:
    report = Report()
    for rows in pages:
        for row in rows:
            try:
                new: Any = adjudicate(engine, facts_from_json(row.facts))
            except (EngineFailure, NoRuleFired, KeyError, TypeError, ValueError) as exc:
                new = exc
            report.add(row, new)
        if progress is not None:
            progress(len(rows))
    return report


def candidate_from_files(
    files: Mapping[str, Any], limits: Limits | None = None, verdicts: Path | None = None
) -> Ruleset:
    """Check and compile rule files sent as {"name.yaml": text}; RulesetError if broken.

    The candidate is checked in a child process with a time and memory budget first
    (service/rules/sandbox.py): no file can block or take down the process asking.
    """
    limits = limits or Limits()
    problems = [
        Problem(
            str(name),
            1,
            1,
            "not a rule file name (name.yaml or fee_schedules/name.csv; letters, digits, _ - .)",
        )
        for name in files
        if not _safe_name(str(name))
    ]
    problems += [
        Problem(str(name), 1, 1, "the file's text must be a string")
        for name, text in files.items()
        if not isinstance(text, str)
    ]
    if not files:
        problems.append(Problem("files", 1, 1, "no rule files sent"))
    if len(files) > limits.max_files:
        what = f"{len(files):,} rule files sent"
        problems.append(Problem("files", 1, 1, limits.refusal("max_files", what)))
    if problems:
        raise RulesetError(problems)
    texts = {str(name): str(text) for name, text in files.items()}
    problems = sandbox.verify(texts, limits, "candidate", verdicts)
    if problems:
        raise RulesetError(problems)
    return build_ruleset(texts, limits)


def _safe_name(name: str) -> bool:
    path = PurePosixPath(name)
    return (
        (
            (path.suffix in (".yaml", ".yml") and path.parts[0] != FEE_SCHEDULES)
            or is_fee_schedule(name)
        )
        and not path.is_absolute()
        and len(name) <= 200
        and path.parts[0] not in ("tests", "schema")
        and all(
            p not in ("", ".", "..") and not p.startswith(".") and "\\" not in p for p in path.parts
        )
    )


# --- running a backtest as jobs: plan, chunks in parallel, one merge ----------------

CHUNK_JOB = "worker.backtest_jobs.run_backtest_chunk"
MERGE_JOB = "worker.backtest_jobs.merge_backtest"
Enqueue = Callable[..., None]  # enqueue(dotted_path, *args, job_id=...)
_candidates: dict[str, RulesEngine] = {}  # per process, by candidate version


class BacktestNotFound(Exception):
    pass


class QueueUnavailable(Exception):
    """The chunk jobs could not be enqueued (Redis down); the backtest is marked failed."""


def start_backtest(
    ctx: Any,
    files: Mapping[str, Any],
    since: date | None,
    until: date | None,
    requested_by: str,
    enqueue: Enqueue,
    chunk_size: int = CHUNK_SIZE,
) -> dict[str, Any]:
    """Check the candidate (RulesetError), plan the chunks, enqueue one job per chunk."""
    candidate = candidate_from_files(files, ctx.rules.limits, _verdicts(ctx))
    now = ctx.clock.now()
    with ctx.unit_of_work() as session:
        chunks = analysis.plan_chunks(session, since, until, chunk_size)
    row = BacktestRow(
        id=str(uuid.uuid4()),
        status="running" if chunks else "done",
        params={
            "since": _iso(since),
            "until": _iso(until),
            "date_field": "date_of_loss",
            "requested_by": requested_by,
        },
        candidate_version=candidate.version,
        candidate_files=dict(files),
        chunks_total=len(chunks),
        chunks_done=0,
        report=None if chunks else Report().to_json(),
        created_at=now,
        finished_at=None if chunks else now,
    )
    with ctx.unit_of_work() as session:
        analysis.add_backtest(session, row, chunks)
        session.commit()
    try:
        for n in range(len(chunks)):
            enqueue(CHUNK_JOB, row.id, n, job_id=f"backtest-{row.id}-chunk-{n}")
    except Exception as exc:  # noqa: BLE001 - Redis down: say so, and mark it failed
        _fail(ctx, row.id, f"could not enqueue the chunk jobs: {type(exc).__name__}")
        raise QueueUnavailable(str(exc)) from exc
    return backtest_status(ctx, row.id)


def run_chunk(ctx: Any, backtest_id: str, chunk_no: int, enqueue: Enqueue) -> dict[str, Any]:
    """Replay one chunk and store its partial report (rewritten if it runs again)."""
    with ctx.unit_of_work() as session:
        backtest = analysis.backtest(session, backtest_id)
        chunk = analysis.chunk(session, backtest_id, chunk_no)
        if backtest is None or chunk is None:
            raise BacktestNotFound(f"{backtest_id}/{chunk_no}")
        params, bounds = backtest.params, (chunk.after_id, chunk.last_id)
        version, files = backtest.candidate_version, backtest.candidate_files
    try:
        engine = _candidate_engine(version, files, ctx.rules.limits, _verdicts(ctx))
        since, until = _day(params.get("since")), _day(params.get("until"))
        report = replay(engine, analysis.stored_rows(ctx.unit_of_work, since, until, *bounds))
    except Exception as exc:
        _fail(ctx, backtest_id, f"chunk {chunk_no} failed: {exc}", chunk_no)
        raise
    with ctx.unit_of_work() as session:
        chunk = analysis.chunk(session, backtest_id, chunk_no)
        if chunk is None:  # deleted meanwhile
            raise BacktestNotFound(f"{backtest_id}/{chunk_no}")
        chunk.status, chunk.report, chunk.error = "done", report.to_json(), None
        chunk.finished_at = ctx.clock.now()
        session.commit()
    done, total = _chunks_done(ctx, backtest_id)
    if done == total:  # counted after our commit: the last chunk to finish always sees it
        enqueue(MERGE_JOB, backtest_id, job_id=f"backtest-{backtest_id}-merge")
    return {"backtest_id": backtest_id, "chunk_no": chunk_no, "total": report.total}


def merge(ctx: Any, backtest_id: str) -> dict[str, Any]:
    """Combine the chunk reports in chunk order; running it again gives the same report."""
    with ctx.unit_of_work() as session:
        backtest = analysis.backtest(session, backtest_id)
        if backtest is None:
            raise BacktestNotFound(backtest_id)
        chunks = analysis.chunks(session, backtest_id)
        done = [c for c in chunks if c.status == "done" and c.report is not None]
        backtest.chunks_done = len(done)
        if len(done) == len(chunks) and backtest.status != "failed":
            report = Report()
            for chunk in done:
                report = report.merge(Report.from_json(chunk.report or {}))
            backtest.report, backtest.status = report.to_json(), "done"
            backtest.finished_at = ctx.clock.now()
        session.commit()
    return backtest_status(ctx, backtest_id)


def backtest_status(ctx: Any, backtest_id: str) -> dict[str, Any]:
    with ctx.unit_of_work() as session:
        row = analysis.backtest(session, backtest_id)
        if row is None:
            raise BacktestNotFound(backtest_id)
        status = {
            "id": row.id,
            "status": row.status,
            "params": row.params,
            "candidate_version": row.candidate_version,
            "chunks_total": row.chunks_total,
            "chunks_done": row.chunks_done,
            "created_at": row.created_at.isoformat(),
            "finished_at": row.finished_at.isoformat() if row.finished_at else None,
            "error": row.error,
            "report": row.report,
            "message": "no stored claims in that range" if row.chunks_total == 0 else None,
        }
    if status["status"] == "running":
        status["chunks_done"] = _chunks_done(ctx, backtest_id)[0]
    return status


def _chunks_done(ctx: Any, backtest_id: str) -> tuple[int, int]:
    with ctx.unit_of_work() as session:
        counts = analysis.chunk_statuses(session, backtest_id)
    return counts.get("done", 0), sum(counts.values())


def _fail(ctx: Any, backtest_id: str, message: str, chunk_no: int | None = None) -> None:
    with ctx.unit_of_work() as session:
        row = analysis.backtest(session, backtest_id)
        if row is not None:
            row.status, row.error, row.finished_at = "failed", message, ctx.clock.now()
        if chunk_no is not None:
            chunk = analysis.chunk(session, backtest_id, chunk_no)
            if chunk is not None:
                chunk.status, chunk.error = "failed", message
        session.commit()


def _candidate_engine(
    version: str, files: Mapping[str, Any], limits: Limits, verdicts: Path | None = None
) -> RulesEngine:
    engine = _candidates.get(version)
    if engine is None:
        candidate = candidate_from_files(files, limits, verdicts)
        engine = _candidates[version] = RulesEngine(candidate)
    return engine


def _verdicts(ctx: Any) -> Path | None:
    """The host's verdict folder: one candidate check at a time, each verdict kept."""
    host = getattr(ctx.rules, "host", None)
    return host.verdicts if host is not None else None


def _iso(day: date | None) -> str | None:
    return day.isoformat() if day else None


def _day(text: str | None) -> date | None:
    return date.fromisoformat(text) if text else None


def store_finished(
    ctx: Any,
    files: Mapping[str, Any],
    version: str,
    since: date | None,
    until: date | None,
    report: Report,
    requested_by: str,
) -> str:
    """Store a backtest run in one go (the CLI's, replayed in its own process) beside
    those the API runs in chunks; returns its id."""
    now = ctx.clock.now()
    row = BacktestRow(
        id=str(uuid.uuid4()),
        status="done",
        params={
            "since": _iso(since),
            "until": _iso(until),
            "date_field": "date_of_loss",
            "requested_by": requested_by,
            "source": "cli",
        },
        candidate_version=version,
        candidate_files=dict(files),
        chunks_total=0,
        chunks_done=0,
        report=report.to_json(),
        created_at=now,
        finished_at=now,
    )
    with ctx.unit_of_work() as session:
        analysis.add_backtest(session, row, [])
        session.commit()
    return row.id


def list_backtests(ctx: Any) -> list[dict[str, Any]]:
    """The newest 50 backtests (API and CLI), without their claim lists."""
    with ctx.unit_of_work(read_only=True) as session:
        rows = analysis.recent_backtests(session)
        return [
            {
                "id": r.id,
                "status": r.status,
                "source": (r.params or {}).get("source", "api"),
                "requested_by": (r.params or {}).get("requested_by"),
                "candidate_version": r.candidate_version,
                "created_at": r.created_at.isoformat(),
                "total": (r.report or {}).get("total"),
                "changed": (r.report or {}).get("changed"),
                "outcome_changes": (r.report or {}).get("outcome_changes"),
                "reason_changes": (r.report or {}).get("reason_changes"),
            }
            for r in rows
        ]


def latest_backtest(ctx: Any) -> dict[str, Any] | None:
    """The newest backtest with its report (for the analysts' console page)."""
    with ctx.unit_of_work() as session:
        newest = analysis.newest_backtest_id(session)
    return backtest_status(ctx, newest) if newest else None
