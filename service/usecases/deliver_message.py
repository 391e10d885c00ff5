"""Deliver one outbox message at most once, however often its job runs.

State machine (outbox.status):
  pending/enqueued --claim--> sending --ok--> sent
                                       --transient error--> pending (next_attempt_at = backoff)
                                       --permanent error or last try--> dead
  sending past its lease (worker killed) --relay_outbox--> pending
  dead --resend_dead_message--> pending

Claiming is one conditional UPDATE (service/db/outbox.py), so of two copies of a job only
one gets the row. No database transaction is open while the Notifier talks to SMTP or
HTTP. `deliver_messages` is the same attempt repeated row by row: each row is claimed
just before its own send and recorded just after it, so a batch killed half-way leaves
at most one row `sending` (back after its lease) and the rest untouched.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta

from service.config import Config
from service.db import messages, outbox
from service.db.session import Session
from service.db.tables import OutboxRow
from service.logs import redact
from service.ports import Notifier, Permanent
from service.usecases import notifications
from service.usecases.context import Context

log = logging.getLogger(__name__)
Send = Callable[[Notifier], None]


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 6
    base_seconds: float = 30.0
    cap_seconds: float = 3600.0
    lease_seconds: float = 300.0

    @classmethod
    def from_config(cls, config: Config) -> RetryPolicy:
        return cls(
            max_attempts=config.webhook_max_attempts,
            base_seconds=config.retry_base_seconds,
            cap_seconds=config.retry_cap_seconds,
            lease_seconds=config.delivery_lease_seconds,
        )

    def backoff(self, attempt: int, rng: Callable[[], float] = random.random) -> timedelta:
        """Exponential with jitter: half the step fixed, half random (attempt counts from 1)."""
        step = min(self.cap_seconds, self.base_seconds * 2 ** max(attempt - 1, 0))
        return timedelta(seconds=step / 2 + rng() * step / 2)


def deliver_message(
    ctx: Context,
    outbox_id: int,
    rng: Callable[[], float] = random.random,
    interrupts: tuple[type[BaseException], ...] = (),
) -> str:
    """One delivery attempt. Returns sent | retry | dead | skipped; never raises on send
    errors. An exception of a type in `interrupts` (the job queue's timeout) is recorded
    like any failed attempt, then raised again so the job (and a batch) stops there."""
    policy = RetryPolicy.from_config(ctx.config)
    attempt, send = _claim_and_prepare(ctx, outbox_id, policy)
    if attempt is None:
        log.info("outbox %s not claimable (already sent, sending or dead)", outbox_id)
        return "skipped"
    try:
        if isinstance(send, BaseException):
            raise send
        send(ctx.notifier)
    except Permanent as exc:
        return _finish(ctx, outbox_id, attempt, ctx.clock.now(), "dead", str(exc))
    except Exception as exc:  # noqa: BLE001 - every failure is recorded, none dropped
        error = f"{type(exc).__name__}: {exc}"
        if attempt >= policy.max_attempts:
            result = _finish(ctx, outbox_id, attempt, ctx.clock.now(), "dead", error)
        else:
            due = ctx.clock.now() + policy.backoff(attempt, rng)
            result = _finish(ctx, outbox_id, attempt, due, "pending", error)
        if isinstance(exc, interrupts):
            raise
        return result
    return _finish(ctx, outbox_id, attempt, ctx.clock.now(), "sent", None)


def deliver_messages(
    ctx: Context,
    outbox_ids: list[int],
    each: Callable[[int], AbstractContextManager[object]] | None = None,
    interrupts: tuple[type[BaseException], ...] = (),
) -> dict[int, str]:
    """`deliver_message` each row in turn, each with its own claim, lease, attempt count and
    outcome, exactly as if each had its own job; only the process (database engine,
    templates, SMTP session) is shared. `each(outbox_id)`, if given, is a context manager
    entered around each row (the job uses it for the row's request id)."""
    results: dict[int, str] = {}
    for outbox_id in dict.fromkeys(int(i) for i in outbox_ids):
        if each is None:
            results[outbox_id] = deliver_message(ctx, outbox_id, interrupts=interrupts)
        else:
            with each(outbox_id):
                results[outbox_id] = deliver_message(ctx, outbox_id, interrupts=interrupts)
    return results


def _claim_and_prepare(
    ctx: Context, outbox_id: int, policy: RetryPolicy
) -> tuple[int | None, Send | BaseException]:
    """Claim the row and build its message in one short transaction (nothing is sent while
    it is open). A message that cannot be built comes back as the exception to record."""
    lease_end = ctx.clock.now() + timedelta(seconds=policy.lease_seconds)
    with ctx.unit_of_work() as session:
        row = outbox.claim_attempt(session, outbox_id, lease_end)
        if row is None:
            return None, Permanent("not claimed")
        try:
            return row.attempts, _prepare(ctx, session, row)
        except Exception as exc:  # noqa: BLE001 - recorded as this attempt's outcome
            return row.attempts, exc
        finally:
            session.commit()


def _prepare(ctx: Context, session: Session, row: OutboxRow) -> Send:
    """Build the message from the row and its claim; the caller sends it after commit."""
    loaded = []  # held: the session's identity map keeps objects only while referenced
    if row.claim_id:  # claim and decision in one query; the builders then find them loaded
        decision_id = (row.payload or {}).get("decision_id")
        if isinstance(decision_id, int):
            loaded = outbox.load_claim_and_decision(session, row.claim_id, decision_id)
    try:
        if row.channel == "email":
            email = notifications.build_email(session, row, ctx.config)
            messages.keep_copy(  # what this attempt sends, for the console's Messages
                session,
                row,
                ctx.clock.now(),
                recipient=", ".join(email.to),
                text=email.text,
                language=email.language,
                subject=email.subject,
                html=email.html,
            )
            return lambda notifier: notifier.send_email(email)
        if row.channel == "webhook":
            timestamp = int(ctx.clock.now().timestamp())
            url, headers, body = notifications.build_webhook(session, row, ctx.config, timestamp)
            messages.keep_copy(session, row, ctx.clock.now(), recipient=url, text=body)
            return lambda notifier: notifier.post_webhook(url, headers, body)
    except notifications.Undeliverable as exc:
        raise Permanent(str(exc)) from exc
    finally:
        del loaded
    raise Permanent(f"unknown channel {row.channel}")


MAX_ERROR = 2000  # characters of an attempt's error kept in the outbox row


def mask_error(error: str | None) -> str | None:
    """An SMTP or webhook error as stored in `outbox.last_error` and logged: addresses,
    phone numbers and the claim's personal values noted for this job masked
    (service.logs.redact; SMTP answers quote recipients, receivers echo bodies), cut."""
    return redact(error)[:MAX_ERROR] if error else error


def _finish(
    ctx: Context, outbox_id: int, attempt: int, when: datetime, status: str, error: str | None
) -> str:
    error = mask_error(error)
    if not outbox.finish_attempt(ctx.sessions, outbox_id, attempt, when, status, error):
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
