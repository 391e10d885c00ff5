"""read_messages: what was sent, as it was kept, to whom; the admin page's filters and pages."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from service.db.tables import MessageCopyRow, OutboxRow
from service.usecases.read_messages import (
    STAFF_EVENTS,
    WEBHOOK_EVENTS,
    MessageFilters,
    claim_messages,
    delivery_counts,
    known_events,
    letter_html,
    recent_messages,
)
from tests.unit.usecases.conftest import T0, add_claim, add_outbox

pytestmark = pytest.mark.unit


def message(ctx, claim_id, event, *, at: datetime = T0, **fields) -> int:
    outbox_id = add_outbox(ctx, claim_id, event, **fields)
    with ctx.unit_of_work() as s:
        s.get(OutboxRow, outbox_id).created_at = at
        s.commit()
    return outbox_id


def keep_copy(ctx, outbox_id: int, *, html: str | None = None, **fields) -> None:
    values = {
        "attempt": 1,
        "rendered_at": T0 + timedelta(minutes=1),
        "recipient": "ana@example.com",
        "language": "en",
        "subject": "We received your claim",
        "body_text": "Dear Ana, ...",
    }
    with ctx.unit_of_work() as s:
        s.add(MessageCopyRow(outbox_id=outbox_id, body_html=html, **(values | fields)))
        s.commit()


def ids(page) -> list[int]:
    return [item["id"] for item in page["items"]]


def test_a_claims_messages_oldest_first_with_their_audience_and_kept_copy(ctx):
    claim_id, _ = add_claim(ctx, callback_url="http://127.0.0.1:9/cb")
    other_id, _ = add_claim(ctx)
    ack = message(ctx, claim_id, "acknowledgment", status="sent", attempts=1)
    keep_copy(ctx, ack, html="<p>Dear Ana</p>")
    hook = message(ctx, claim_id, "claim.decided", channel="webhook", status="dead", attempts=6)
    breach = message(ctx, claim_id, "sla_breach")
    message(ctx, other_id, "acknowledgment")
    message(ctx, None, "daily_digest")

    items = claim_messages(ctx, claim_id)
    assert [(m["id"], m["audience"]) for m in items] == [
        (ack, "claimant"),
        (hook, "intake system"),
        (breach, "staff"),
    ]
    first = items[0]
    assert first["external_ref"] == f"EXT-{claim_id[:6]}"
    assert (first["status"], first["attempts"], first["channel"]) == ("sent", 1, "email")
    assert first["kept"] and first["has_html"]
    assert (first["recipient"], first["subject"], first["text"]) == (
        "ana@example.com",
        "We received your claim",
        "Dear Ana, ...",
    )
    assert first["rendered_attempt"] == 1
    assert first["rendered_at"] == "2026-03-02T09:01:00+00:00"  # to the second, in UTC
    assert first["created_at"] == "2026-03-02T09:00:00+00:00"
    never_rendered = items[1]
    assert not never_rendered["kept"] and not never_rendered["has_html"]
    assert never_rendered["subject"] is never_rendered["text"] is None
    assert never_rendered["rendered_at"] is never_rendered["recipient"] is None
    assert claim_messages(ctx, "no-such-claim") == []


def test_the_admin_page_filters_by_channel_status_and_event(ctx):
    claim_id, _ = add_claim(ctx)
    sent = message(ctx, claim_id, "approved", status="sent")
    dead = message(ctx, claim_id, "approved", status="dead")
    hook = message(ctx, claim_id, "claim.decided", channel="webhook", status="sent")
    digest = message(ctx, None, "daily_digest", status="sent")

    def page(**filters):
        return ids(recent_messages(ctx, MessageFilters(**filters), 10))

    assert page() == [digest, hook, dead, sent]  # newest first
    assert page(channel="webhook") == [hook]
    assert page(channel="email") == [digest, dead, sent]
    assert page(status="dead") == [dead]
    assert page(event="approved") == [dead, sent]
    assert page(channel="email", status="sent") == [digest, sent]
    assert page(event="approved", status="pending") == []
    [item] = recent_messages(ctx, MessageFilters(event="daily_digest"), 10)["items"]
    assert item["claim_id"] is None and item["external_ref"] is None
    assert item["audience"] == "staff"


def test_days_are_utc_calendar_days_with_both_ends_included(ctx):
    day = date(2026, 3, 10)
    midnight = datetime(2026, 3, 10, tzinfo=T0.tzinfo)
    before = message(ctx, None, "daily_digest", at=midnight - timedelta(seconds=1))
    first = message(ctx, None, "daily_digest", at=midnight)
    last = message(ctx, None, "daily_digest", at=midnight + timedelta(days=1, seconds=-1))
    after = message(ctx, None, "daily_digest", at=midnight + timedelta(days=1))

    def page(**filters):
        return ids(recent_messages(ctx, MessageFilters(**filters), 10))

    assert page(day_from=day, day_to=day) == [last, first]
    assert page(day_from=day) == [after, last, first]
    assert page(day_to=day) == [last, first, before]
    assert page(day_from=day + timedelta(days=1), day_to=day) == []
    # the ends of the calendar (?from=0001-01-01&to=9999-12-31): no bound, no OverflowError
    assert page(day_from=date.min, day_to=date.max) == [after, last, first, before]


def test_pages_go_back_by_outbox_id_until_the_last(ctx):
    made = [message(ctx, None, "daily_digest") for _ in range(5)]
    newest_first = made[::-1]

    one = recent_messages(ctx, MessageFilters(), 2)
    assert ids(one) == newest_first[:2] and one["older"] == newest_first[1]
    two = recent_messages(ctx, MessageFilters(before_id=one["older"]), 2)
    assert ids(two) == newest_first[2:4] and two["older"] == newest_first[3]
    three = recent_messages(ctx, MessageFilters(before_id=two["older"]), 2)
    assert ids(three) == newest_first[4:] and three["older"] is None

    whole = recent_messages(ctx, MessageFilters(), 5)  # exactly a page: no older page
    assert ids(whole) == newest_first and whole["older"] is None
    filtered = recent_messages(ctx, MessageFilters(status="sent", before_id=made[-1]), 2)
    assert filtered == {"items": [], "older": None}


def test_the_letter_is_the_html_kept_when_it_was_sent(ctx):
    claim_id, _ = add_claim(ctx)
    with_html = message(ctx, claim_id, "approved", status="sent")
    keep_copy(ctx, with_html, html="<p>Approved: 70.00 EUR</p>")
    text_only = message(ctx, claim_id, "approved", status="sent")
    keep_copy(ctx, text_only)
    not_rendered = message(ctx, claim_id, "approved")
    assert letter_html(ctx, with_html) == "<p>Approved: 70.00 EUR</p>"
    assert letter_html(ctx, text_only) is None
    assert letter_html(ctx, not_rendered) is None
    assert letter_html(ctx, with_html + 100) is None


def test_delivery_counts_are_per_state(ctx):
    assert delivery_counts(ctx) == {}
    for status in ("pending", "pending", "sent", "dead", "sent", "sent"):
        message(ctx, None, "daily_digest", status=status)
    assert delivery_counts(ctx) == {"pending": 2, "sent": 3, "dead": 1}


def test_known_events_are_the_templates_and_the_webhooks():
    events = known_events()
    assert events[-len(WEBHOOK_EVENTS) :] == WEBHOOK_EVENTS
    templates = events[: -len(WEBHOOK_EVENTS)]
    assert list(templates) == sorted(templates)
    assert {"acknowledgment", "approved", "rejected"} <= set(templates)
    assert STAFF_EVENTS <= set(templates)  # every staff message has a template
