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
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from service.adapters import smtp, webhooks
from service.db.tables import OutboxRow
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


def claim(sessions: sessionmaker[Session], outbox_id: int, now: datetime, lease: timedelta
          ) -> int | None:
    """Take the row for one attempt; returns the attempt number, or None if not ours."""
    with sessions.begin() as session:
        result = session.execute(
            update(OutboxRow)
            .where(OutboxRow.id == outbox_id, OutboxRow.status.in_(("pending", "enqueued")))
            .values(status=SENDING, attempts=OutboxRow.attempts + 1, next_attempt_at=now + lease)
        )
        if result.rowcount != 1:
            return None
        return session.scalar(select(OutboxRow.attempts).where(OutboxRow.id == outbox_id))


def deliver(
    sessions: sessionmaker[Session],
    outbox_id: int,
    config: Any,
    clock: Clock | None = None,
    rng: Callable[[], float] = random.random,
) -> str:
    """One delivery attempt. Returns sent | retry | dead | skipped; never raises on send errors."""
    clock = clock or SystemClock()
    policy = RetryPolicy.from_config(config)
    attempt = claim(sessions, outbox_id, clock.now(), timedelta(seconds=policy.lease_seconds))
    if attempt is None:
        log.info("outbox %s not claimable (already sent, sending or dead)", outbox_id)
        return "skipped"
    try:
        send = _prepare(sessions, outbox_id, config, clock)
        send()
    except Permanent as exc:
        return _finish(sessions, outbox_id, attempt, clock.now(), "dead", str(exc))
    except Exception as exc:  # noqa: BLE001 - every failure is recorded, none dropped
        error = f"{type(exc).__name__}: {exc}"[:2000]
        if attempt >= policy.max_attempts:
            return _finish(sessions, outbox_id, attempt, clock.now(), "dead", error)
        due = clock.now() + policy.backoff(attempt, rng)
        return _finish(sessions, outbox_id, attempt, due, "pending", error)
    return _finish(sessions, outbox_id, attempt, clock.now(), "sent", None)


def _prepare(sessions: sessionmaker[Session], outbox_id: int, config: Any, clock: Clock
             ) -> Callable[[], None]:
    """Build the message in a short read, so no transaction is open while sending."""
    with sessions() as session:
        row = session.get(OutboxRow, outbox_id)
        assert row is not None
        try:
            if row.channel == "email":
                email = messages.build_email(session, row, config)
                return lambda: _send_email(config, email)
            if row.channel == "webhook":
                ts = int(clock.now().timestamp())
                url, headers, body = messages.build_webhook(
                    session, row, lambda client: webhook_secret(config, client), ts)
                return lambda: _post_webhook(config, url, headers, body)
        except messages.Undeliverable as exc:
            raise Permanent(str(exc)) from exc
        raise Permanent(f"unknown channel {row.channel}")


def _send_email(config: Any, email: smtp.Email) -> None:
    try:
        smtp.SmtpSender.from_config(config).send(email)
    except Exception as exc:
        if smtp.is_permanent(exc):
            raise Permanent(f"SMTP refused: {exc}") from exc
        raise


def _post_webhook(config: Any, url: str, headers: dict[str, str], body: str) -> None:
    error = webhooks.check_callback_url(
        url, config.CALLBACK_ALLOW_PRIVATE, config.CALLBACK_ALLOWLIST)
    if error and "does not resolve" in error:
        raise Transient(error)
    if error:
        raise Permanent(error)
    result = webhooks.post(url, headers, body)
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


def _finish(sessions: sessionmaker[Session], outbox_id: int, attempt: int, when: datetime,
            status: str, error: str | None) -> str:
    values: dict[str, Any] = {"status": status, "last_error": error}
    if status == "sent":
        values["sent_at"] = when
    else:
        values["next_attempt_at"] = when
    with sessions.begin() as session:
        done = session.execute(
            update(OutboxRow)
            .where(OutboxRow.id == outbox_id, OutboxRow.status == SENDING,
                   OutboxRow.attempts == attempt)
            .values(**values)
        ).rowcount
    if not done:
        log.warning("outbox %s attempt %s lost its lease before finishing", outbox_id, attempt)
    level = logging.WARNING if status == "dead" else logging.INFO
    log.log(level, "outbox %s attempt %s -> %s%s", outbox_id, attempt, status,
            f" ({error})" if error else "")
    return "retry" if status == "pending" else status


def list_dead(session: Session, limit: int = 100) -> list[OutboxRow]:
    return list(session.scalars(
        select(OutboxRow).where(OutboxRow.status == "dead").order_by(OutboxRow.id).limit(limit)
    ))


def resend(sessions: sessionmaker[Session], outbox_id: int, now: datetime) -> bool:
    """Put a dead row back in line with a fresh set of tries; False if it was not dead."""
    with sessions.begin() as session:
        return resend_in(session, outbox_id, now)


def resend_in(session: Session, outbox_id: int, now: datetime) -> bool:
    """`resend` inside the caller's transaction (so an audit event can join it)."""
    return session.execute(
        update(OutboxRow)
        .where(OutboxRow.id == outbox_id, OutboxRow.status == "dead")
        .values(status="pending", attempts=0, next_attempt_at=now, enqueued_at=None)
    ).rowcount == 1
