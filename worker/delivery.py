"""Deliver one outbox row at most once, however often its job runs.

State machine (outbox.status):
  pending/enqueued --claim--> sending --ok--> sent
                                       --transient error--> pending (next_attempt_at = backoff)
                                       --permanent error or last try--> dead
  sending past its lease (worker killed) --relay sweep--> pending
  dead --resend--> pending

`claim` is one conditional UPDATE, so of two copies of a job only one gets the
row. No database transaction is open while talking to SMTP or HTTP. While a row
is `sending`, next_attempt_at holds the end of its lease.

A batch job (`deliver_many`) is the same attempt repeated row by row: each row is
claimed just before its own send and recorded just after it, so a batch killed
half-way leaves at most one row `sending` (back after its lease) and the rest
untouched (`enqueued`, re-enqueued by the relay).
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session, sessionmaker

from service.adapters import smtp, webhooks
from service.db.tables import ClaimRow, DecisionRow, OutboxRow
from worker import messages
from worker.clock import Clock, SystemClock

log = logging.getLogger(__name__)
SENDING = "sending"


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 6
    base_seconds: float = 30.0
    cap_seconds: float = 3600.0
    lease_seconds: float = 300.0

    @classmethod
    def from_config(cls, config: Any) -> RetryPolicy:
        return cls(
            max_attempts=int(config.WEBHOOK_MAX_ATTEMPTS),
            base_seconds=float(getattr(config, "RETRY_BASE_SECONDS", 30)),
            cap_seconds=float(getattr(config, "RETRY_CAP_SECONDS", 3600)),
            lease_seconds=float(getattr(config, "DELIVERY_LEASE_SECONDS", 300)),
        )

    def backoff(self, attempt: int, rng: Callable[[], float] = random.random) -> timedelta:
        """Exponential with jitter: half the step fixed, half random (attempt counts from 1)."""
        step = min(self.cap_seconds, self.base_seconds * 2 ** max(attempt - 1, 0))
        return timedelta(seconds=step / 2 + rng() * step / 2)


class Transient(Exception):
    """Worth another try later (network error, 5xx)."""


class Permanent(Exception):
    """No retry will fix it (4xx, bad address); the row goes dead at once."""


_CLAIM = (
    update(OutboxRow)
    .where(OutboxRow.id == bindparam("outbox_id"), OutboxRow.status.in_(("pending", "enqueued")))
    .values(status=SENDING, attempts=OutboxRow.attempts + 1, next_attempt_at=bindparam("lease_end"))
)
_FINISH_WHERE = (
    OutboxRow.id == bindparam("outbox_id"),
    OutboxRow.status == SENDING,
    OutboxRow.attempts == bindparam("attempt"),
)
_FINISH_SENT = (
    update(OutboxRow)
    .where(*_FINISH_WHERE)
    .values(status="sent", last_error=None, sent_at=bindparam("when"))
)
_FINISH_OTHER = (
    update(OutboxRow)
    .where(*_FINISH_WHERE)
    .values(
        status=bindparam("new_status"),
        last_error=bindparam("error"),
        next_attempt_at=bindparam("when"),
    )
)
_NO_SYNC = {"synchronize_session": False}
_CLAIM_AND_DECISION = (
    select(ClaimRow, DecisionRow)
    .where(ClaimRow.id == bindparam("claim_id"))
    .outerjoin(DecisionRow, DecisionRow.id == bindparam("decision_id"))
)


def claim(
    sessions: sessionmaker[Session], outbox_id: int, now: datetime, lease: timedelta
) -> int | None:
    """Take the row for one attempt; returns the attempt number, or None if not ours."""
    with sessions.begin() as session:
        row = _claim_in(session, outbox_id, now + lease)
        return None if row is None else row.attempts


def _claim_in(session: Session, outbox_id: int, lease_end: datetime) -> OutboxRow | None:
    """The conditional UPDATE that makes a row ours, inside the caller's transaction;
    returns the row as updated (one statement where the database has UPDATE … RETURNING)."""
    params = {"outbox_id": outbox_id, "lease_end": lease_end}
    if getattr(session.get_bind().dialect, "update_returning", False):
        return session.scalars(
            _CLAIM.returning(OutboxRow),
            params,
            execution_options={**_NO_SYNC, "populate_existing": True},
        ).first()
    if session.execute(_CLAIM, params, execution_options=_NO_SYNC).rowcount != 1:
        return None
    return session.get(OutboxRow, outbox_id, populate_existing=True)


def deliver(
    sessions: sessionmaker[Session],
    outbox_id: int,
    config: Any,
    clock: Clock | None = None,
    rng: Callable[[], float] = random.random,
) -> str:
    """One delivery attempt. Returns sent | retry | dead | skipped; never raises on send
    errors. An RQ job timeout during the send is recorded like any failed attempt, then
    raised again so the job (and a batch) stops there."""
    clock = clock or SystemClock()
    policy = RetryPolicy.from_config(config)
    attempt, send = _claim_and_prepare(sessions, outbox_id, config, clock, policy)
    if attempt is None:
        log.info("outbox %s not claimable (already sent, sending or dead)", outbox_id)
        return "skipped"
    try:
        if isinstance(send, BaseException):
            raise send
        send()
    except Permanent as exc:
        return _finish(sessions, outbox_id, attempt, clock.now(), "dead", str(exc))
    except Exception as exc:  # noqa: BLE001 - every failure is recorded, none dropped
        error = f"{type(exc).__name__}: {exc}"[:2000]
        if attempt >= policy.max_attempts:
            result = _finish(sessions, outbox_id, attempt, clock.now(), "dead", error)
        else:
            due = clock.now() + policy.backoff(attempt, rng)
            result = _finish(sessions, outbox_id, attempt, due, "pending", error)
        if _is_job_timeout(exc):
            raise
        return result
    return _finish(sessions, outbox_id, attempt, clock.now(), "sent", None)


def deliver_many(
    sessions: sessionmaker[Session],
    outbox_ids: list[int],
    config: Any,
    clock: Clock | None = None,
    rng: Callable[[], float] = random.random,
    each: Callable[[int], Any] | None = None,
) -> dict[int, str]:
    """`deliver` each row in turn, each with its own claim, lease, attempt count and outcome,
    exactly as if each had its own job; only the process (database engine, templates, SMTP
    session) is shared. `each(outbox_id)`, if given, is a context manager entered around
    each row (the job uses it for the row's request id)."""
    results: dict[int, str] = {}
    for outbox_id in dict.fromkeys(int(i) for i in outbox_ids):
        if each is None:
            results[outbox_id] = deliver(sessions, outbox_id, config, clock, rng)
        else:
            with each(outbox_id):
                results[outbox_id] = deliver(sessions, outbox_id, config, clock, rng)
    return results


def _is_job_timeout(exc: BaseException) -> bool:
    try:
        from rq.timeouts import BaseTimeoutException
    except ImportError:  # pragma: no cover - rq is installed wherever jobs run
        return False
    return isinstance(exc, BaseTimeoutException)


def _claim_and_prepare(
    sessions: sessionmaker[Session], outbox_id: int, config: Any, clock: Clock, policy: RetryPolicy
) -> tuple[int | None, Callable[[], None] | BaseException]:
    """Claim the row and build its message in one short transaction (nothing is sent while
    it is open). A message that cannot be built comes back as the exception to record."""
    lease_end = clock.now() + timedelta(seconds=policy.lease_seconds)
    with sessions.begin() as session:
        row = _claim_in(session, outbox_id, lease_end)
        if row is None:
            return None, Permanent("not claimed")
        try:
            return row.attempts, _prepare_in(session, row, config, clock)
        except Exception as exc:  # noqa: BLE001 - recorded as this attempt's outcome
            return row.attempts, exc


def _prepare_in(session: Session, row: OutboxRow, config: Any, clock: Clock) -> Callable[[], None]:
    """Build the message from the row and its claim; the caller sends it after commit."""
    loaded = []  # held: the session's identity map keeps objects only while referenced
    if row.claim_id:  # claim and decision in one query; the builders then find them loaded
        decision_id = (row.payload or {}).get("decision_id")
        if isinstance(decision_id, int):
            loaded = session.execute(
                _CLAIM_AND_DECISION, {"claim_id": row.claim_id, "decision_id": decision_id}
            ).all()
    try:
        if row.channel == "email":
            email = messages.build_email(session, row, config)
            return lambda: _send_email(config, email)
        if row.channel == "webhook":
            ts = int(clock.now().timestamp())
            url, headers, body = messages.build_webhook(
                session, row, lambda client: webhook_secret(config, client), ts
            )
            return lambda: _post_webhook(config, url, headers, body)
    except messages.Undeliverable as exc:
        raise Permanent(str(exc)) from exc
    finally:
        del loaded
    raise Permanent(f"unknown channel {row.channel}")


def _send_email(config: Any, email: smtp.Email) -> None:
    try:
        smtp.SmtpSender.from_config(config).send(email)
    except Exception as exc:
        if smtp.is_permanent(exc):
            raise Permanent(f"SMTP refused: {exc}") from exc
        raise


def _post_webhook(config: Any, url: str, headers: dict[str, str], body: str) -> None:
    try:  # checked, resolved once, sent to the address that was checked (SSRF)
        result = webhooks.post(
            url,
            headers,
            body,
            allow_private=config.callback_allow_private,
            allowlist=config.callback_allowlist,
        )
    except webhooks.CallbackRefused as exc:
        raise (Transient if exc.transient else Permanent)(exc.reason) from exc
    if 200 <= result.status < 300:
        return
    if webhooks.is_retryable(result.status):
        raise Transient(f"HTTP {result.status}")
    raise Permanent(f"HTTP {result.status}: {result.body[:200]}")


def webhook_secret(config: Any, client_id: str) -> str:
    """Per-client secret from WEBHOOK_CLIENT_SECRETS ("client:secret,..."), else WEBHOOK_SECRET."""
    for item in getattr(config, "WEBHOOK_CLIENT_SECRETS", None) or []:
        name, _, secret = str(item).partition(":")
        if name == client_id and secret:
            return secret
    return str(config.WEBHOOK_SECRET)


def _finish(
    sessions: sessionmaker[Session],
    outbox_id: int,
    attempt: int,
    when: datetime,
    status: str,
    error: str | None,
) -> str:
    params: dict[str, Any] = {"outbox_id": outbox_id, "attempt": attempt, "when": when}
    statement = _FINISH_SENT
    if status != "sent":
        statement = _FINISH_OTHER
        params.update(new_status=status, error=error)
    with sessions.kw["bind"].begin() as connection:  # Core: no ORM work for one UPDATE
        done = connection.execute(statement, params).rowcount
    if not done:
        log.warning("outbox %s attempt %s lost its lease before finishing", outbox_id, attempt)
    level = logging.WARNING if status == "dead" else logging.INFO
    log.log(
        level,
        "outbox %s attempt %s -> %s%s",
        outbox_id,
        attempt,
        status,
        f" ({error})" if error else "",
    )
    return "retry" if status == "pending" else status


def list_dead(session: Session, limit: int = 100) -> list[OutboxRow]:
    return list(
        session.scalars(
            select(OutboxRow).where(OutboxRow.status == "dead").order_by(OutboxRow.id).limit(limit)
        )
    )


def resend(sessions: sessionmaker[Session], outbox_id: int, now: datetime) -> bool:
    """Put a dead row back in line with a fresh set of tries; False if it was not dead."""
    with sessions.begin() as session:
        return resend_in(session, outbox_id, now)


def resend_in(session: Session, outbox_id: int, now: datetime) -> bool:
    """`resend` inside the caller's transaction (so an audit event can join it)."""
    return (
        session.execute(
            update(OutboxRow)
            .where(OutboxRow.id == outbox_id, OutboxRow.status == "dead")
            .values(status="pending", attempts=0, next_attempt_at=now, enqueued_at=None)
        ).rowcount
        == 1
    )
