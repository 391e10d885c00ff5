"""What did we tell this claimant? The outbound messages, as sent, with their delivery state.

Read by the console: the Messages section of a claim page (`claim_messages`), the admin
page of recent messages (`recent_messages`), and the letter's HTML part as the claimant's
mail program received it (`letter_html`). A message's text comes from the copy the
worker kept when it sent it (service/db/tables/messages.py), never rendered again: a
template edited since does not change what the page says was sent.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

from service.db import messages as repo
from service.db.tables import MessageCopyRow, OutboxRow
from service.usecases.context import Context

CHANNELS = ("email", "webhook")
STATES = ("pending", "enqueued", "sending", "sent", "dead")
STAFF_EVENTS = frozenset({"sla_breach", "daily_digest", "regulatory_clock", "appeal_reminder"})
WEBHOOK_EVENTS = ("claim.decided", "claim.closed")
NOTIFICATIONS = Path(__file__).resolve().parents[1] / "templates" / "notifications" / "en"
PER_CLAIM = 200  # messages shown on one claim page


@lru_cache(maxsize=1)
def known_events() -> tuple[str, ...]:
    """Every event a message can be about: one per notification template, and the webhooks'."""
    return tuple(sorted(p.stem for p in NOTIFICATIONS.glob("*.j2"))) + WEBHOOK_EVENTS


@dataclass(frozen=True)
class MessageFilters:
    """The admin page's filters; days are UTC calendar days, both ends included."""

    channel: str | None = None
    status: str | None = None
    event: str | None = None
    day_from: date | None = None
    day_to: date | None = None
    before_id: int | None = None  # page back from this outbox id


def claim_messages(ctx: Context, claim_id: str) -> list[dict[str, Any]]:
    """The claim's messages, oldest first: to the claimant, the intake system and staff."""
    with ctx.unit_of_work(read_only=True) as session:
        rows = repo.for_claim(session, claim_id, PER_CLAIM)
        return [message_document(*row) for row in rows]


def recent_messages(ctx: Context, filters: MessageFilters, limit: int) -> dict[str, Any]:
    """Newest first; `older` is the `before_id` of the next page, None on the last."""
    with ctx.unit_of_work(read_only=True) as session:
        rows = repo.recent(
            session,
            channel=filters.channel,
            status=filters.status,
            event=filters.event,
            created_from=_midnight(filters.day_from),
            created_before=_midnight(_next_day(filters.day_to)),
            before_id=filters.before_id,
            limit=limit + 1,
        )
        items = [message_document(*row) for row in rows[:limit]]
    older = items[-1]["id"] if len(rows) > limit else None
    return {"items": items, "older": older}


def letter_html(ctx: Context, outbox_id: int) -> str | None:
    """The HTML part exactly as it was sent, or None (no such message, or no HTML part)."""
    with ctx.unit_of_work(read_only=True) as session:
        found = repo.one(session, outbox_id)
    if found is None or found[1] is None:
        return None
    return found[1].body_html


def delivery_counts(ctx: Context) -> dict[str, int]:
    """Outbox rows per state (pending, enqueued, sending, sent, dead)."""
    with ctx.unit_of_work(read_only=True) as session:
        return repo.count_by_status(session)


def audience(outbox: OutboxRow) -> str:
    if outbox.channel == "webhook":
        return "intake system"
    return "staff" if outbox.event in STAFF_EVENTS else "claimant"


def message_document(
    outbox: OutboxRow, copy: MessageCopyRow | None, external_ref: str | None = None
) -> dict[str, Any]:
    """One message: what, to whom, over which channel, its delivery state and, once a
    delivery attempt has rendered it, the subject and body exactly as sent."""
    return {
        "id": outbox.id,
        "claim_id": outbox.claim_id,
        "external_ref": external_ref,
        "event": outbox.event,
        "channel": outbox.channel,
        "audience": audience(outbox),
        "status": outbox.status,
        "attempts": outbox.attempts,
        "last_error": outbox.last_error,
        "created_at": _iso(outbox.created_at),
        "sent_at": _iso(outbox.sent_at),
        "next_attempt_at": _iso(outbox.next_attempt_at),
        "kept": copy is not None,
        "recipient": copy.recipient if copy else None,
        "language": copy.language if copy else None,
        "subject": copy.subject if copy else None,
        "text": copy.body_text if copy else None,
        "has_html": bool(copy and copy.body_html),
        "rendered_at": _iso(copy.rendered_at) if copy else None,
        "rendered_attempt": copy.attempt if copy else None,
    }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat(timespec="seconds") if value else None


def _next_day(day: date | None) -> date | None:
    """The day after; None (no end) after the last day a date can be (?to=9999-12-31)."""
    return day + timedelta(days=1) if day and day < date.max else None


def _midnight(day: date | None) -> datetime | None:
    return datetime.combine(day, time(0), UTC) if day else None
